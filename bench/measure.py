"""How `make bench` measures an operation: wall and CPU milliseconds per call, percentiles, and the DynamoDB
round trips a handler makes, its side and the bare calls' side interleaved in the same run."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

Operation = Callable[[int], None]
# A latency case: its name, the handler's side, the bare calls' side, the bare calls named, and what to do
# before it is measured.
Case = tuple[str, Operation, Operation, str, Callable[[], None]]

WRITES = ("PutItem", "UpdateItem", "TransactWriteItems", "DeleteItem")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(operation: Callable[[int], Any], iterations: int, cpu: list[float] | None = None) -> list[float]:
    """Wall milliseconds per call; with `cpu`, also this process's CPU milliseconds per call (Lambda bills
    and throttles CPU: DynamoDB Local's own work, in its Java process, is not counted)."""
    samples = []
    for i in range(iterations):
        start, start_cpu = time.perf_counter(), time.process_time()
        operation(i)
        samples.append((time.perf_counter() - start) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - start_cpu) * 1000)
    return samples


class RoundTrips:
    """Counts DynamoDB API calls made through a client, per operation name."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def take(self) -> Counter[str]:
        taken, self.calls = self.calls, Counter()
        return taken


def compare(case: Case, trips: RoundTrips, iterations: int) -> dict[str, Any]:
    """One case's row: the handler's and the bare calls' latency and CPU, and the handler's round trips."""
    name, handler, bare, bare_calls, prepare = case
    prepare()
    handler(iterations + 1)  # warm the code path once, like a warm Lambda
    trips.take()
    bare_samples, handler_samples = [], []
    bare_cpu: list[float] = []
    handler_cpu: list[float] = []
    # Interleave in blocks so that drift of the machine affects both sides alike.
    size = iterations // 4
    for block in range(4):
        offset = block * size
        bare_samples += timed(lambda i, o=offset, op=bare: op(o + i), size, bare_cpu)  # type: ignore[misc]
        handler_samples += timed(lambda i, o=offset, op=handler: op(o + i), size, handler_cpu)  # type: ignore[misc]
    counted = trips.take()
    per_op = {op: n / len(handler_samples) for op, n in sorted(counted.items())}
    return {
        "operation": name,
        "handler_p50_ms": statistics.median(handler_samples),
        "handler_p95_ms": percentile(handler_samples, 0.95),
        "bare_p50_ms": statistics.median(bare_samples),
        "bare_p95_ms": percentile(bare_samples, 0.95),
        "ratio_p50": statistics.median(handler_samples) / statistics.median(bare_samples),
        "handler_cpu_ms": statistics.mean(handler_cpu),
        "bare_cpu_ms": statistics.mean(bare_cpu),
        "cpu_ratio": statistics.mean(handler_cpu) / statistics.mean(bare_cpu),
        "round_trips": per_op,
        "write_round_trips": sum(n for op, n in per_op.items() if op in WRITES),
        "bare_calls": bare_calls,
    }
