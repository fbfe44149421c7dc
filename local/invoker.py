"""Invokes functions like Lambda does: in warm worker processes, never in the caller's threads.

Processes, not threads: a Powertools resolver keeps the current event on a module-level app, so two
concurrent invocations in one interpreter would see each other's requests. Each worker serves one
invocation at a time, as a Lambda execution environment does.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.forkserver
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from infra.constants import IMPORT_ROOTS
from infra.manifest import Function
from local import worker
from local.worker import Invocation

DEFAULT_WORKERS = 4
# Imported once by the fork server, so each worker starts with them loaded instead of importing its own.
PRELOADED_MODULES = [
    "local.worker",
    "boto3",
    "botocore.session",
    "pydantic",
    "jwt",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.tracing",
    "aws_lambda_powertools.utilities.batch",
]
STOP_GRACE_SECONDS = 5.0
ACCOUNT_ID = "123456789012"
# Waiting for a free worker is not part of a function's timeout (Lambda would run more environments),
# but a caller does not wait forever either.
QUEUE_ALLOWANCE_SECONDS = 60.0
WAIT_EXPIRED = "Local.WaitExpired"  # the caller's own limit passed before the invocation finished

T = TypeVar("T")


def _process_context() -> multiprocessing.context.BaseContext:
    """Workers must not inherit this process's threads (moto, the HTTP server) or their locks, so no plain
    fork. A fork server imports the libraries once and forks clean workers from itself; where there is
    none (Windows), each worker is spawned and imports everything itself."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # The fork server runs the main module once (as __mp_main__, which imports what it needs); importing it
    # under its own name as well would make runpy warn that it is already loaded.
    context.set_forkserver_preload(["__main__", *PRELOADED_MODULES])
    return context


def function_arn(region: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"


class Invoker:
    def __init__(self, *, region: str, workers: int = DEFAULT_WORKERS, preload: Sequence[str] = ()) -> None:
        """Creating the invoker starts the fork server, which imports the libraries while the caller
        gets the rest of the stack going; `start(env)` then forks the workers."""
        self._env: dict[str, str] = {}
        self._region = region
        self._workers = workers
        self._preload = list(preload)
        self._context = _process_context()
        if self._context.get_start_method() == "forkserver":
            multiprocessing.forkserver.ensure_running()
        self.clock_offset = self._context.Value("d", 0.0)
        self._ready = self._context.Value("i", 0)
        self._executor: ProcessPoolExecutor | None = None
        self._warm_up: list[Future[int]] = []
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def start(self, env: Mapping[str, str]) -> None:
        """Start the workers with the functions' environment; they import the handlers in parallel with
        the rest of the start-up."""
        self._env = dict(env)
        self._executor = self._new_executor()
        # A process pool spawns a worker per submitted task while none is idle: this starts them all.
        self._warm_up = [self._executor.submit(worker.ping) for _ in range(self._workers)]

    def _new_executor(self) -> ProcessPoolExecutor:
        with self._ready.get_lock():
            self._ready.value = 0
        return ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=self._context,
            initializer=worker.initialize,
            initargs=(
                os.getpid(),
                [str(r) for r in IMPORT_ROOTS],
                self._env,
                self.clock_offset,
                self._ready,
                self._preload,
            ),
        )

    def wait_until_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self._ready.value < self._workers:
            failed = next((f for f in self._warm_up if f.done() and f.exception()), None)
            if failed is not None:
                raise RuntimeError("the function workers failed to start") from failed.exception()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self._ready.value} of {self._workers} function workers started")
            time.sleep(0.02)

    def worker_pids(self) -> list[int]:
        processes = getattr(self._executor, "_processes", None) or {}
        return sorted(int(pid) for pid in processes)

    def invocation_count(self, function_name: str) -> int:
        with self._lock:
            return self._counts[function_name]

    def invoke(self, function: Function, event: Mapping[str, Any], wait: float | None = None) -> Invocation:
        """Invoke and wait for the result. The worker enforces the function's own timeout; `wait` bounds
        the caller's wait, queueing included (API Gateway gives an integration 30 s)."""
        with self._lock:
            self._counts[function.name] += 1
        arn = function_arn(self._region, function.name)
        request_id = str(uuid.uuid4())
        limit = wait if wait is not None else function.timeout_s + QUEUE_ALLOWANCE_SECONDS
        try:
            return self._submit(worker.invoke, function, json.dumps(event), request_id, arn).result(limit)
        except FutureTimeout:
            return Invocation(
                ok=False,
                error={"errorType": WAIT_EXPIRED, "errorMessage": f"no result within {limit:.0f} seconds"},
                duration_ms=limit * 1000,
            )
        except BrokenProcessPool as broken:
            self._replace_broken_pool()
            return Invocation(ok=False, error={"errorType": "Runtime.ExitError", "errorMessage": str(broken)})

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = 30.0) -> T:
        """Run a helper from local.worker in a worker (e.g. to read an API's OpenAPI document)."""
        return self._submit(fn, *args).result(timeout)

    def _submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        if self._executor is None:
            raise RuntimeError("the invoker is not started")
        return self._executor.submit(fn, *args)

    def _replace_broken_pool(self) -> None:
        # A worker died hard (e.g. a native crash): Lambda would start a fresh environment.
        with self._lock:
            old = self._executor
            if old is not None and getattr(old, "_broken", False):
                self._executor = self._new_executor()
                old.shutdown(wait=False, cancel_futures=True)

    def stop(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():  # an invocation that does not end: stop waiting for it
                process.kill()
                process.join()
