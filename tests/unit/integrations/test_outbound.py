"""The outbound engine against a real HTTP server on 127.0.0.1, started by each test and stopped with it:
answers and their excerpts, time-outs (however slowly an answer drips), redirects never followed, answers read
only as far as the cap, refused addresses never contacted, the resolved address pinned, and TLS checked
against the host name."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from common.integrations import outbound
from common.integrations.outbound import OutboundRequest
from common.platform import urls
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOCAL = urls.OutboundPolicy(allow_loopback=True)
HEADERS = {"webhook-id": "evt_1", "webhook-timestamp": "1", "webhook-signature": "v1,x"}


@dataclass
class Receiver:
    """What the server saw, and the event that lets its held requests go."""

    port: int
    seen: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


def handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.seen.append({"path": self.path, "headers": dict(self.headers), "body": body.decode()})
            with contextlib.suppress(OSError):  # the client went away (the cap, or its deadline)
                self.answer()

        def answer(self) -> None:
            if self.path == "/hang":  # never answers
                receiver.release.wait()
                return
            if self.path == "/drip":  # the status line and headers, then nothing more of the body
                self.send_response(200)
                self.send_header("Content-Length", "100")
                self.end_headers()
                self.wfile.write(b"a")
                self.wfile.flush()
                receiver.release.wait()
                return
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/ok")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path == "/endless":  # an answer that never ends: only the cap stops reading it
                self.send_response(200)
                self.end_headers()
                chunk = b"x" * 4096
                while not receiver.release.is_set():
                    self.wfile.write(chunk)
                return
            body = b"thanks, got it"
            self.send_response(500 if self.path == "/broken" else 200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def serve(tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(Receiver(0)))
    receiver = Receiver(server.server_address[1])
    server.RequestHandlerClass = handler_for(receiver)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serve()


def post(url: str, policy: urls.OutboundPolicy = LOCAL, **options: Any) -> outbound.Attempt:
    return outbound.send(OutboundRequest(url, HEADERS, '{"id": "evt_1"}'), policy, **options)


def test_a_2xx_answer_succeeds_with_its_excerpt(receiver: Receiver) -> None:
    attempt = post(receiver.url("/ok?x=1"))
    assert attempt.succeeded and attempt.status_code == 200 and attempt.error is None
    assert attempt.excerpt == "thanks, got it"
    (seen,) = receiver.seen
    assert seen["path"] == "/ok?x=1" and seen["body"] == '{"id": "evt_1"}'
    assert seen["headers"]["webhook-id"] == "evt_1" and seen["headers"]["Content-Type"] == "application/json"
    assert seen["headers"]["User-Agent"] == outbound.USER_AGENT


def test_another_answer_fails_with_its_status(receiver: Receiver) -> None:
    attempt = post(receiver.url("/broken"))
    assert not attempt.succeeded and attempt.status_code == 500 and attempt.excerpt == "thanks, got it"


@pytest.mark.parametrize("path", ["/hang", "/drip"])
def test_no_complete_answer_in_time_is_a_timeout(receiver: Receiver, path: str) -> None:
    attempt = post(receiver.url(path), timeout=0.3)
    assert not attempt.succeeded and attempt.status_code is None
    assert attempt.error == "no complete answer within 0.3 s"
    assert 300 <= attempt.duration_ms < 5000


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    attempt = post(receiver.url("/redirect"))
    assert not attempt.succeeded and attempt.status_code == 302
    assert attempt.error == "redirects are not followed"
    assert [s["path"] for s in receiver.seen] == ["/redirect"]


def test_a_large_answer_is_read_only_as_far_as_the_cap(receiver: Receiver) -> None:
    # The answer never ends: reading it all would run into the deadline instead.
    attempt = post(receiver.url("/endless"), timeout=10)
    assert attempt.succeeded and attempt.excerpt == "x" * outbound.EXCERPT_CHARS
    # What was read is there for the caller (a token, a receiver's id), never in the attempt's record.
    assert attempt.body == "x" * outbound.MAX_READ_BYTES and "body" not in attempt.model_dump()


def test_a_refused_connection_is_a_failure() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    attempt = post(f"http://127.0.0.1:{port}/")
    assert attempt.error == "the connection failed (ConnectionRefusedError)" and attempt.status_code is None


@pytest.mark.parametrize(
    ("url", "policy"),
    [
        ("https://127.0.0.1:{port}/ok", urls.DEPLOYED),  # loopback, on a deployed stage
        ("http://127.0.0.1:{port}/ok", urls.DEPLOYED),  # plain HTTP, on a deployed stage
        ("http://10.0.0.7:{port}/ok", LOCAL),  # private, even locally
        ("http://169.254.169.254:{port}/latest/meta-data", LOCAL),  # the instance metadata service
        ("http://[::ffff:10.0.0.7]:{port}/ok", LOCAL),  # private, written as IPv6
    ],
)
def test_refused_addresses_are_never_contacted(receiver: Receiver, url: str, policy: urls.OutboundPolicy) -> None:
    attempt = post(url.format(port=receiver.port), policy)
    assert not attempt.succeeded and attempt.status_code is None and attempt.error
    assert receiver.seen == []


def test_a_name_resolving_to_a_private_address_is_refused(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the name was public when the endpoint was created; now it resolves to a private address."""

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port))]

    monkeypatch.setattr(urls.socket, "getaddrinfo", resolve)
    attempt = post(receiver.url("/ok", host="hooks.example.test"))
    assert attempt.error and "10.1.2.3" in attempt.error and receiver.seen == []


def test_the_connection_goes_to_the_address_resolved_once(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    lookups: list[str] = []

    def resolved(host: str, port: int, policy: urls.OutboundPolicy) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(urls, "public_addresses", resolved)
    attempt = post(receiver.url("/ok", host="hooks.example.test"))
    assert attempt.succeeded and lookups == ["hooks.example.test"]
    assert receiver.seen[0]["headers"]["Host"] == f"hooks.example.test:{receiver.port}"


# -- TLS -------------------------------------------------------------------------------------------


def _certificate(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A test authority and a server certificate for hooks.example.test (and 127.0.0.1) it signed: the
    server's context, and a client context that trusts only that authority."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test authority")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("hooks.example.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.example.test")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (tmp / "server.pem").write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp / "server.pem")
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Receiver, ssl.SSLContext]]:
    server, client = _certificate(tmp_path)
    monkeypatch.setattr(urls, "public_addresses", lambda host, port, policy: ["127.0.0.1"])
    for receiver in serve(server):
        yield receiver, client


def test_tls_to_the_pinned_address_checks_the_host_name(tls: tuple[Receiver, ssl.SSLContext]) -> None:
    receiver, trusted = tls
    good = post(receiver.url("/ok", host="hooks.example.test", scheme="https"), urls.DEPLOYED, tls=trusted)
    assert good.succeeded, good.error
    # Same address, same certificate, another name: the certificate does not name it.
    wrong = post(receiver.url("/ok", host="other.example.test", scheme="https"), urls.DEPLOYED, tls=trusted)
    assert not wrong.succeeded and wrong.error and wrong.error.startswith("TLS: the certificate was refused")
    assert [s["headers"]["Host"] for s in receiver.seen] == [f"hooks.example.test:{receiver.port}"]


def test_an_untrusted_certificate_is_refused(tls: tuple[Receiver, ssl.SSLContext]) -> None:
    receiver, _ = tls
    attempt = post(receiver.url("/ok", host="hooks.example.test", scheme="https"), urls.DEPLOYED)
    assert attempt.error and attempt.error.startswith("TLS: the certificate was refused") and receiver.seen == []
