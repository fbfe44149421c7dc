"""A webhook receiver for the integration tests: an HTTP server on 127.0.0.1 that verifies every request with
the Standard Webhooks library (its clock the stack's), answers as told, and processes each webhook-id once; and
the fixture that puts this process on the stack's clock for a test that moves it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock

import pytest
from common.platform import clock
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from local.stack import LocalStack

HANG = -1  # an answer that never comes


@dataclass
class Receiver:
    """An endpoint's far end: it verifies each request with each secret it knows, answers as told (the last
    answer repeats), and processes each webhook-id once however often it comes."""

    stack: LocalStack
    port: int = 0
    secrets: list[str] = field(default_factory=list)
    answers: list[int] = field(default_factory=lambda: [204])
    requests: list[dict[str, Any]] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def receive(self, headers: dict[str, str], body: str) -> int:
        verified = [self.verifies(secret, headers, body) for secret in self.secrets]
        with self.lock:
            self.requests.append({"headers": headers, "body": body, "verified": verified})
            answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
            if 200 <= answer < 300 and any(verified) and headers["webhook-id"] not in self.processed:
                self.processed.append(headers["webhook-id"])
        if answer == HANG:
            self.release.wait()
        return answer

    def verifies(self, secret: str, headers: dict[str, str], body: str) -> bool:
        now = self.stack.now()  # the receiver's clock agrees with the sender's
        with mock.patch("standardwebhooks.webhooks.datetime", wraps=datetime) as receiver_clock:
            receiver_clock.now.return_value = now
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                return False
        return True


@pytest.fixture
def receiver(stack: LocalStack) -> Iterator[Receiver]:
    with listening(stack) as found:
        yield found


@contextmanager
def listening(stack: LocalStack) -> Iterator[Receiver]:
    """A receiver listening on a port of its own until the block ends."""
    found = Receiver(stack)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            answer = found.receive({k.lower(): v for k, v in self.headers.items()}, body)
            if answer == HANG:
                return
            self.send_response(answer)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    found.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        found.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def stack_clock(stack: LocalStack) -> Iterator[None]:
    """This process reads the functions' clock, and puts it back after the test (the moves it made stay in
    the past for the next test: only the offset is restored)."""
    offset = stack.clock_offset
    clock.set_clock(stack.now)
    yield
    clock.reset_clock()
    stack.set_clock_offset(offset)
