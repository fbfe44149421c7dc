"""Feeds the table's stream to the stream functions as Lambda's event source mappings do.

Each consumer gets its own mapping (own shard iterators, position and retries), polled by its own thread,
with the batch size, retries and bisecting of its manifest entry, as deployed: records are read from
DynamoDB Local, filtered with the function's patterns, batched and invoked in order per shard, children
after their parents. `batchItemFailures` moves the checkpoint to the first failed record, which is retried
with the records after it. A function error with bisecting on splits the batch in two, each half retried on
its own, until the failing batch is a single record; splitting does not count as a retry. A record (or, on
a function error, a batch) that has failed `stream_retry_attempts + 1` times goes to the dead letters and
the shard moves on. Not emulated: the batching window and the maximum record age (the poller invokes as
soon as records arrive, and a local run never lasts long enough for a record to expire).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from common.platform import stream_filters

from infra.manifest import Function
from local.worker import Invocation

log = logging.getLogger("local.streams")

StartingPosition = Literal["TRIM_HORIZON", "LATEST"]
Invoke = Callable[[Function, Mapping[str, Any]], Invocation]
READ_LIMIT = 1000


def _plain(value: Any) -> Any:
    """DynamoDB JSON as Lambda delivers it: binary values base64-encoded."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def lambda_record(raw: Mapping[str, Any], event_source_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record in the shape of a record in a Lambda DynamoDB-stream event."""
    dynamodb = dict(raw["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    record = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": _plain(dynamodb),
        "eventSourceARN": event_source_arn,
    }
    if "userIdentity" in raw:  # deletions by TTL
        record["userIdentity"] = dict(raw["userIdentity"])
    return record


def sequence_number(record: Mapping[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    iterator: str | None = None
    closed: bool = False  # nothing more to read; done once `pending` is empty
    last_sequence: str | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    # Sizes of the next batches once a failing batch was bisected; empty: full batches.
    splits: list[int] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.closed and not self.pending


@dataclass(frozen=True)
class _Failure:
    index: int  # position in the batch of the first failed record
    whole_batch: bool
    reason: str
    function_error: bool = False  # the invocation failed (not a report in batchItemFailures)


class EventSourceMapping:
    def __init__(
        self,
        function: Function,
        streams: Any,
        stream_arn: str,
        invoke: Invoke,
        *,
        event_source_arn: str,
        region: str,
        starting_position: StartingPosition,
        dead_letter: Callable[[dict[str, Any]], None],
    ) -> None:
        for pattern in function.stream_filters:
            stream_filters.validate(pattern)
        self.function = function
        self._streams = streams
        self._stream_arn = stream_arn
        self._invoke = invoke
        self._event_source_arn = event_source_arn
        self._region = region
        self._batch_size = function.stream_batch_size
        self._max_attempts = function.stream_retry_attempts + 1
        self._bisect = function.stream_bisect_on_error
        self._dead_letter = dead_letter
        self._shards: dict[str, _Shard] = {}
        self._starting_position = starting_position
        self.sweeps_started = 0
        self.idle_through = 0  # number of the last sweep that found nothing to do
        self.stop_requested = threading.Event()
        self.wake = threading.Event()
        if starting_position == "LATEST":
            # Positions are taken now, so every record written after this returns is delivered.
            for description in self._describe_shards():
                shard = self._track(description)
                if "EndingSequenceNumber" in description.get("SequenceNumberRange", {}):
                    shard.closed = True
                else:
                    shard.iterator = self._iterator(shard.shard_id, "LATEST")

    def _describe_shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        args: dict[str, Any] = {"StreamArn": self._stream_arn}
        while True:
            description = self._streams.describe_stream(**args)["StreamDescription"]
            shards += description.get("Shards", [])
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            args["ExclusiveStartShardId"] = last

    def _track(self, description: Mapping[str, Any]) -> _Shard:
        shard = _Shard(description["ShardId"], description.get("ParentShardId"))
        self._shards[shard.shard_id] = shard
        return shard

    def _iterator(self, shard_id: str, kind: str, after: str | None = None) -> str:
        args: dict[str, Any] = {"StreamArn": self._stream_arn, "ShardId": shard_id, "ShardIteratorType": kind}
        if after is not None:
            args["SequenceNumber"] = after
        return str(self._streams.get_shard_iterator(**args)["ShardIterator"])

    def _ready(self, shard: _Shard) -> bool:
        parent = self._shards.get(shard.parent_id or "")
        return not shard.done and (parent is None or parent.done)

    def sweep(self) -> bool:
        """One pass over the stream; True when it read or invoked anything."""
        for description in self._describe_shards():
            if description["ShardId"] not in self._shards:
                self._track(description)
        busy = False
        for shard in list(self._shards.values()):
            if not self._ready(shard):
                continue
            if not shard.pending and not shard.closed:
                busy |= self._read(shard) > 0
            while shard.pending and not self.stop_requested.is_set():
                self._process_batch(shard)
                busy = True
        return busy

    def _read(self, shard: _Shard) -> int:
        if shard.iterator is None:
            if shard.last_sequence is not None:
                shard.iterator = self._iterator(shard.shard_id, "AFTER_SEQUENCE_NUMBER", shard.last_sequence)
            else:
                shard.iterator = self._iterator(shard.shard_id, "TRIM_HORIZON")
        try:
            response = self._streams.get_records(ShardIterator=shard.iterator, Limit=READ_LIMIT)
        except self._streams.exceptions.ExpiredIteratorException:
            shard.iterator = None  # taken again from the last position on the next sweep
            return 0
        records = response.get("Records", [])
        shard.iterator = response.get("NextShardIterator")
        shard.closed = shard.iterator is None
        if records:
            shard.last_sequence = str(records[-1]["dynamodb"]["SequenceNumber"])
        converted = (lambda_record(r, self._event_source_arn, self._region) for r in records)
        shard.pending += [r for r in converted if stream_filters.matches_any(self.function.stream_filters, r)]
        return len(records)

    def _process_batch(self, shard: _Shard) -> None:
        batch = shard.pending[: shard.splits[0] if shard.splits else self._batch_size]
        invocation = self._invoke(self.function, {"Records": batch})
        failure = self._failure(batch, invocation)
        if failure is None:
            log.info("%s: %d record(s) processed, %.0f ms", self.function.name, len(batch), invocation.duration_ms)
            _done(shard, len(batch))
            for record in batch:
                shard.attempts.pop(sequence_number(record), None)
            return
        if failure.function_error and self._bisect and len(batch) > 1:
            half = len(batch) // 2
            shard.splits[:1] = [half, len(batch) - half]
            log.info(
                "%s: batch of %d failed (%s), split into %d and %d",
                self.function.name,
                len(batch),
                failure.reason,
                half,
                len(batch) - half,
            )
            return
        _done(shard, failure.index)  # the records before the first failure are done
        head = sequence_number(batch[failure.index])
        attempts = shard.attempts[head] = shard.attempts.get(head, 0) + 1
        log.info(
            "%s: batch of %d failed at sequence number %s (%s), attempt %d of %d",
            self.function.name,
            len(batch),
            head,
            failure.reason,
            attempts,
            self._max_attempts,
        )
        if attempts < self._max_attempts:
            return
        given_up = batch[failure.index :] if failure.whole_batch else [batch[failure.index]]
        _done(shard, len(given_up))
        shard.attempts.pop(head, None)
        for record in given_up:
            log.warning("%s: record %s sent to the dead letters", self.function.name, record["eventID"])
            self._dead_letter(
                {
                    "function": self.function.name,
                    "reason": failure.reason,
                    "attempts": attempts,
                    "shard_id": shard.shard_id,
                    "eventID": record["eventID"],
                    "sequence_number": sequence_number(record),
                    "record": record,
                }
            )

    @staticmethod
    def _failure(batch: list[dict[str, Any]], result: Invocation) -> _Failure | None:
        if not result.ok:
            return _Failure(0, True, f"function error {result.error.get('errorType', '')}".strip(), function_error=True)
        payload = result.payload if isinstance(result.payload, dict) else {}
        reported = payload.get("batchItemFailures") or []
        if not reported:
            return None
        positions = {sequence_number(r): i for i, r in enumerate(batch)}
        identifiers = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in reported]
        if any(i not in positions for i in identifiers):
            # Lambda reads an empty, null or unknown identifier as a failure of the whole batch.
            return _Failure(0, True, "batchItemFailures names a record not in the batch")
        return _Failure(min(positions[str(i)] for i in identifiers), False, "reported in batchItemFailures")


def _done(shard: _Shard, count: int) -> None:
    """The first `count` pending records are finished with (processed or dead-lettered)."""
    del shard.pending[:count]
    while count and shard.splits:
        taken = min(count, shard.splits[0])
        shard.splits[0] -= taken
        count -= taken
        if not shard.splits[0]:
            shard.splits.pop(0)


class StreamPoller:
    def __init__(
        self,
        streams: Any,
        stream_arn: str,
        invoke: Invoke,
        *,
        event_source_arn: str,
        region: str,
        clock: Callable[[], datetime],
        poll_interval: float = 0.1,
        on_dead_letter: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """`on_dead_letter` is told of each record given up on, as a mapping's on-failure destination is."""
        self._streams = streams
        self._stream_arn = stream_arn
        self._invoke = invoke
        self._event_source_arn = event_source_arn
        self._region = region
        self._clock = clock
        self._poll_interval = poll_interval
        self._changed = threading.Condition()
        self.activity = 0  # bumped by every sweep that did work, so waiters can see cascades
        self._mappings: dict[str, EventSourceMapping] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._dead_letters: list[dict[str, Any]] = []
        self._on_dead_letter = on_dead_letter

    def add(self, function: Function, starting_position: StartingPosition = "TRIM_HORIZON") -> None:
        mapping = EventSourceMapping(
            function,
            self._streams,
            self._stream_arn,
            self._invoke,
            event_source_arn=self._event_source_arn,
            region=self._region,
            starting_position=starting_position,
            dead_letter=self._add_dead_letter,
        )
        thread = threading.Thread(target=self._run, args=(mapping,), name=f"stream-{function.name}", daemon=True)
        with self._changed:
            if function.name in self._mappings:
                raise ValueError(f"{function.name} already consumes the stream")
            self._mappings[function.name] = mapping
            self._threads[function.name] = thread
        thread.start()

    def remove(self, function_name: str, timeout: float = 10.0) -> None:
        with self._changed:
            mapping = self._mappings.pop(function_name)
            thread = self._threads.pop(function_name)
            self._changed.notify_all()
        mapping.stop_requested.set()
        mapping.wake.set()
        thread.join(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        for name in list(self._mappings):
            self.remove(name, timeout)

    def _add_dead_letter(self, entry: dict[str, Any]) -> None:
        letter = {**entry, "time": self._clock().isoformat()}
        with self._changed:
            self._dead_letters.append(letter)
        if self._on_dead_letter is not None:
            self._on_dead_letter(letter)

    def dead_letters(self) -> list[dict[str, Any]]:
        with self._changed:
            return list(self._dead_letters)

    def _run(self, mapping: EventSourceMapping) -> None:
        while not mapping.stop_requested.is_set():
            with self._changed:
                mapping.sweeps_started += 1
                sweep = mapping.sweeps_started
            try:
                busy = mapping.sweep()
            except Exception:
                if mapping.stop_requested.is_set():
                    return
                log.exception("%s: reading the stream failed; retrying", mapping.function.name)
                busy = True
                time.sleep(1.0)
            with self._changed:
                if busy:
                    self.activity += 1
                else:
                    mapping.idle_through = sweep
                self._changed.notify_all()
            if not busy:
                mapping.wake.wait(self._poll_interval)
                mapping.wake.clear()

    def wait_until_idle(self, timeout: float = 10.0) -> None:
        """Return once every record written before the call, and every record the consumers wrote while
        processing them, has been delivered and processed (or dead-lettered)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                marks = {name: m.sweeps_started for name, m in self._mappings.items()}
                activity = self.activity
                for mapping in self._mappings.values():
                    mapping.wake.set()

                def caught_up(marks: dict[str, int] = marks) -> bool:
                    return all(m.idle_through > marks.get(n, 0) for n, m in self._mappings.items())

                if not self._changed.wait_for(caught_up, max(0.0, deadline - time.monotonic())):
                    behind = sorted(n for n, m in self._mappings.items() if m.idle_through <= marks.get(n, 0))
                    raise TimeoutError(f"stream consumers still busy after {timeout} s: {', '.join(behind)}")
                if self.activity == activity:
                    return
