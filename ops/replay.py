"""Replay the changes the stream dispatcher gave up on (`make replay`), while the stream still holds them.

    python -m ops.replay                           the running `make dev` stack
    python -m ops.replay --stage prod [--region R] [--profile P]
                                                   a deployed stage, with your AWS credentials
    ... [--dry-run] [--json]

After its retries the dispatcher's stream mapping leaves, in its failure queue (output
StreamDispatcherFailureQueueUrl), a message naming the batch it gave up on: DDBStreamBatchInfo's stream,
shard, and first and last sequence numbers, not the records. For each such message this reads the records
back from the stream (GetShardIterator AT_SEQUENCE_NUMBER, GetRecords up to the last one), hands each change to
the consumers' queues exactly as the dispatcher does (common.platform.change_fanout.dispatch, with the
outputs' <Consumer>QueueUrl), then deletes the message. A change that already reached some queue reaches it
twice, which every consumer tolerates. The stream keeps records 24 hours: a message whose records are gone
(trimmed) is reported and kept, as is one whose changes did not all reach their queues.
Exit status 0 when every message was replayed (or a dry run), 1 when one was kept, 2 when the stage cannot
be reached.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from common.platform import change_fanout

from local.stream_poller import lambda_record
from ops import queue_batches, stage
from ops.stage import StageNotFound

READ_LIMIT = 1000  # GetRecords' most per call
# GetRecords may answer empty before it reaches records further on; past this many, the batch is not there.
MAX_EMPTY_READS = 10
# What DynamoDB Streams answers for records older than 24 hours, or a shard or stream it no longer has.
GONE = ("TrimmedDataAccessException", "ResourceNotFoundException")

REPLAYED = "replayed"
WOULD_REPLAY = "would replay"  # a dry run
TRIMMED = "trimmed"
FAILED = "failed"
UNREADABLE = "unreadable"


class Trimmed(Exception):
    """The stream no longer holds the records."""


class Unreachable(Exception):
    """The records could not all be read."""


@dataclass(frozen=True)
class StreamBatch:
    """Where a batch the dispatcher gave up on lies in the stream (the failure record's DDBStreamBatchInfo)."""

    stream_arn: str
    shard_id: str
    start: str
    end: str

    @classmethod
    def of(cls, body: str) -> StreamBatch:
        """The batch a failure message names; ValueError when the message is not a stream failure record."""
        try:
            info = json.loads(body)["DDBStreamBatchInfo"]
            batch = cls(
                str(info["streamArn"]),
                str(info["shardId"]),
                str(info["startSequenceNumber"]),
                str(info["endSequenceNumber"]),
            )
            int(batch.start), int(batch.end)  # numbers, as sent (the stream may keep leading zeros)
            return batch
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError("not the failure record of a DynamoDB stream mapping") from error


@dataclass
class Replayed:
    """What became of one failure message."""

    message_id: str
    outcome: str  # REPLAYED, WOULD_REPLAY, TRIMMED, FAILED or UNREADABLE
    batch: StreamBatch | None = None
    records: int = 0  # read back from the stream
    sent: dict[str, int] = field(default_factory=dict)  # messages per consumer's queue
    detail: str = ""

    @property
    def kept(self) -> bool:
        return self.outcome not in (REPLAYED, WOULD_REPLAY)


def read_batch(streams: Any, batch: StreamBatch) -> list[dict[str, Any]]:
    """The batch's records, from its first sequence number to its last, as GetRecords returns them."""
    end = int(batch.end)
    records: list[dict[str, Any]] = []
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=batch.stream_arn,
            ShardId=batch.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=batch.start,
        )["ShardIterator"]
        empty_reads = 0
        while iterator and empty_reads < MAX_EMPTY_READS:
            page = streams.get_records(ShardIterator=iterator, Limit=READ_LIMIT)
            for record in page.get("Records", []):
                number = int(change_fanout.sequence_number(record))
                if number > end and records:
                    return records
                if number > end:
                    raise Unreachable(f"the stream holds no record from {batch.start} to {batch.end}")
                records.append(record)
                if number == end:
                    return records
            empty_reads = 0 if page.get("Records") else empty_reads + 1
            iterator = page.get("NextShardIterator")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in GONE:
            raise Trimmed("the stream no longer holds these records (it keeps them 24 hours)") from error
        raise Unreachable(f"reading the stream failed: {error}") from error
    raise Unreachable(f"sequence number {batch.end} not reached ({len(records)} record(s) read)")


def replay_message(
    message: Mapping[str, Any],
    *,
    sqs: Any,
    streams: Any,
    queue_urls: Mapping[str, str],
    region: str,
    dry_run: bool = False,
) -> Replayed:
    """Replay the batch one failure message names (a dry run reads it and counts what would be sent)."""
    message_id = str(message["MessageId"])
    try:
        batch = StreamBatch.of(str(message["Body"]))
    except ValueError as error:
        return Replayed(message_id, UNREADABLE, detail=str(error))
    try:
        raw = read_batch(streams, batch)
    except Trimmed as error:
        return Replayed(message_id, TRIMMED, batch, detail=str(error))
    except Unreachable as error:
        return Replayed(message_id, FAILED, batch, detail=str(error))
    records = [lambda_record(r, event_source_arn=batch.stream_arn, region=region) for r in raw]
    send: change_fanout.SendBatch = (lambda queue_url, entries: []) if dry_run else change_fanout.sqs_sender(sqs)
    outcome = change_fanout.dispatch(records, queue_urls, send)
    if outcome.failed:
        detail = f"not every queue took the changes of sequence numbers {', '.join(outcome.failed)}"
        return Replayed(message_id, FAILED, batch, len(records), outcome.sent, detail)
    return Replayed(message_id, WOULD_REPLAY if dry_run else REPLAYED, batch, len(records), outcome.sent)


def replay(
    sqs: Any,
    streams: Any,
    *,
    failures_url: str,
    queue_urls: Mapping[str, str],
    region: str,
    wait_seconds: int,
    dry_run: bool = False,
) -> list[Replayed]:
    """Replay every batch the failure queue names; delete each message replayed, keep the others."""
    reports: list[Replayed] = []
    kept: list[queue_batches.Message] = []
    for messages in queue_batches.held_messages(sqs, failures_url, wait_seconds=wait_seconds):
        done: list[queue_batches.Message] = []
        for message in messages:
            report = replay_message(
                message, sqs=sqs, streams=streams, queue_urls=queue_urls, region=region, dry_run=dry_run
            )
            reports.append(report)
            (kept if report.kept or dry_run else done).append(message)
        by_id = {r.message_id: r for r in reports}
        for refusal in queue_batches.delete(sqs, failures_url, done):
            # Replayed all the same; the next run replays it again, which the consumers tolerate.
            by_id[refusal.message_id].detail = f"the failure message could not be deleted: {refusal.code}"
    queue_batches.release(sqs, failures_url, queue_batches.handles(kept))
    return reports


def describe(report: Replayed) -> str:
    where = f", shard {report.batch.shard_id} {report.batch.start}..{report.batch.end}" if report.batch else ""
    if report.kept:
        return f"message {report.message_id}{where}: {report.outcome}: {report.detail}; the message is kept"
    sent = ", ".join(f"{name} {count}" for name, count in report.sent.items() if count)
    line = f"{report.records} record(s) {report.outcome} ({sent or 'no consumer wants them'})"
    return f"message {report.message_id}{where}: {line}" + (f"; {report.detail}" if report.detail else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.replay", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    stage.add_arguments(parser)
    parser.add_argument("--dry-run", action="store_true", help="read the records back, send and delete nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        target = stage.from_arguments(args)
        outputs = target.outputs
        reports = replay(
            target.client("sqs"),
            target.client("dynamodbstreams"),
            failures_url=outputs.stream_failures_url,
            queue_urls=outputs.queue_urls(),
            region=outputs.region,
            wait_seconds=target.receive_wait_seconds,
            dry_run=args.dry_run,
        )
    except StageNotFound as error:
        print(error, file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"cannot reach the failure queue: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([{**asdict(r), "kept": r.kept} for r in reports], indent=2))
    else:
        for report in reports:
            print(describe(report))
        kept = sum(r.kept for r in reports)
        done = WOULD_REPLAY if args.dry_run else REPLAYED
        print(f"{len(reports)} failure message(s): {len(reports) - kept} {done}, {kept} kept")
    return 1 if any(r.kept for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
