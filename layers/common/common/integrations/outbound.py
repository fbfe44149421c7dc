"""The one outbound HTTP engine: every request the product sends to a URL someone else gave it goes through
`send`: webhook deliveries, sold leads and customers posted to a buying company's URL, and the tokens those
posts get from the company's token URL (common.integrations.receiver_tokens), each with its own body and
headers.

What it guarantees, whoever calls it:
- the URL is checked again (`urls.url_problem`: the policy may have changed since it was given) and its host
  resolved once (`urls.public_addresses`, which refuses private, loopback, link-local, metadata and reserved
  addresses under the deployed policy) and the connection goes to that resolved address, so a
  second lookup cannot return another one (DNS rebinding); TLS still checks the certificate against the host
  name (SNI and hostname verification);
- no redirect is followed: a 3xx answer is a failure, since following one could lead anywhere;
- the whole exchange, connecting and reading the answer, ends within TIMEOUT: a watchdog closes the connection
  when it runs out, so an answer dripping a byte at a time cannot hold it longer;
- at most MAX_READ_BYTES of the answer are read, of which EXCERPT_CHARS are kept (the attempt's `body` holds
  all that was read, for the caller to parse, never stored);
- the outcome is an `Attempt`, never an exception: refused addresses, DNS failures, timeouts, TLS and
  connection errors are its `error`.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pydantic import Field, PrivateAttr

from common.platform import clock, urls
from common.platform.answers import Answer, Timestamp

TIMEOUT = 15.0  # seconds: a 2xx within it is success
MAX_READ_BYTES = 64 * 1024
EXCERPT_CHARS = 1000
USER_AGENT = "partner-programme-outbound/1"


class Attempt(Answer):
    """One request and what came of it."""

    at: Timestamp = Field(description="when the request started")
    status_code: int | None = Field(description="the HTTP status answered; null when there was no answer")
    duration_ms: int = Field(ge=0)
    excerpt: str | None = Field(
        max_length=EXCERPT_CHARS, description=f"the start of the answer's body, at most {EXCERPT_CHARS} characters"
    )
    error: str | None = Field(
        description="why it failed without a 2xx answer: a refused address, a timeout, a connection or TLS "
        "failure, a redirect (never followed); null for any other answer"
    )

    _body: str | None = PrivateAttr(default=None)

    @property
    def body(self) -> str | None:
        """The whole answer as read (at most MAX_READ_BYTES), for the caller that needs more than the excerpt
        (a token, the receiver's id); never stored or answered."""
        return self._body

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class OutboundRequest:
    url: str
    headers: Mapping[str, str]
    body: str
    content_type: str = "application/json"


@dataclass
class _Target:
    scheme: str
    host: str
    port: int
    path: str


def send(
    request: OutboundRequest,
    policy: urls.OutboundPolicy,
    *,
    timeout: float = TIMEOUT,
    tls: ssl.SSLContext | None = None,
) -> Attempt:
    """POST the request under the policy; `tls` replaces the system's trust store (tests)."""
    at, started = clock.now_iso(), time.monotonic()

    def outcome(status: int | None = None, body: str | None = None, error: str | None = None) -> Attempt:
        elapsed = int((time.monotonic() - started) * 1000)
        excerpt = body[:EXCERPT_CHARS] if body is not None else None
        attempt = Attempt(at=at, status_code=status, duration_ms=elapsed, excerpt=excerpt, error=error)
        attempt._body = body
        return attempt

    problem = urls.url_problem(request.url, policy)
    if problem:
        return outcome(error=f"not sent: the URL {problem}")
    target = _target(request.url)
    try:
        addresses = urls.public_addresses(target.host, target.port, policy)
    except urls.AddressRefused as refused:
        return outcome(error=f"not sent: {refused}")
    exchange = _Exchange(target, addresses, deadline=started + timeout, tls=tls)
    try:
        status, body = exchange.run(request)
    except TimeoutError:
        return outcome(error=f"no complete answer within {timeout:g} s")
    except ssl.SSLCertVerificationError as error:
        return outcome(error=f"TLS: the certificate was refused ({error.verify_message})")
    except ssl.SSLError:
        return outcome(error="TLS: the handshake failed")
    except (OSError, http.client.HTTPException) as error:
        if exchange.timed_out:
            return outcome(error=f"no complete answer within {timeout:g} s")
        return outcome(error=f"the connection failed ({type(error).__name__})")
    if 300 <= status < 400:
        return outcome(status, body, "redirects are not followed")
    return outcome(status, body)


def _target(url: str) -> _Target:
    """The parts of a URL the policy allows (`urls.url_problem` found nothing wrong with it)."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(parts.scheme.lower(), parts.hostname, port, path)


@dataclass
class _Exchange:
    """One request to a pinned address, bounded by a deadline."""

    target: _Target
    addresses: list[str]
    deadline: float
    tls: ssl.SSLContext | None
    timed_out: bool = False
    _socket: socket.socket | None = field(default=None, repr=False)

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.timed_out = True
            raise TimeoutError("deadline passed")
        return left

    def run(self, request: OutboundRequest) -> tuple[int, str]:
        connection = self._connection()
        watchdog = threading.Timer(self.remaining(), self._abort)
        watchdog.daemon = True
        watchdog.start()
        try:
            headers = {
                "User-Agent": USER_AGENT,
                **request.headers,
                "Content-Type": request.content_type,
            }
            connection.request("POST", self.target.path, body=request.body.encode(), headers=headers)
            response = connection.getresponse()
            body = response.read(MAX_READ_BYTES)
            if self.timed_out:  # the watchdog ended the answer: what was read is not all of it
                raise TimeoutError("deadline passed")
            return response.status, body.decode("utf-8", errors="replace")
        except OSError:
            if self.timed_out:
                raise TimeoutError("deadline passed") from None
            raise
        finally:
            watchdog.cancel()
            connection.close()

    def _connection(self) -> http.client.HTTPConnection:
        host, port, timeout = self.target.host, self.target.port, self.remaining()
        connection: _Pinned | _PinnedHTTPS
        if self.target.scheme == "https":
            connection = _PinnedHTTPS(host, port, timeout=timeout, context=self.tls or ssl.create_default_context())
        else:
            connection = _Pinned(host, port, timeout=timeout)
        connection.exchange = self
        return connection

    def connect(self) -> socket.socket:
        """A TCP connection to the first resolved address that answers, within the deadline."""
        failure: OSError | None = None
        for address in self.addresses:
            try:
                sock = socket.create_connection((address, self.target.port), timeout=self.remaining())
            except TimeoutError:
                self.timed_out = True
                raise
            except OSError as error:
                failure = error
                continue
            self._socket = sock
            return sock
        raise failure or OSError("no address")

    def tracked(self, sock: socket.socket) -> socket.socket:
        self._socket = sock
        sock.settimeout(self.remaining())
        return sock

    def _abort(self) -> None:
        self.timed_out = True
        if self._socket is not None:
            # The plain socket's shutdown, also under TLS: the reading thread then sees the connection end.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._socket, socket.SHUT_RDWR)


class _Pinned(http.client.HTTPConnection):
    """HTTP to the address resolved and checked before, never to a second lookup's."""

    exchange: _Exchange

    def connect(self) -> None:
        self.sock = self.exchange.tracked(self.exchange.connect())


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to the address resolved and checked before; the certificate is checked against the host name."""

    exchange: _Exchange

    def connect(self) -> None:
        sock = self.exchange.connect()
        context: ssl.SSLContext = self._context  # type: ignore[attr-defined]
        self.sock = self.exchange.tracked(context.wrap_socket(sock, server_hostname=self.host))
