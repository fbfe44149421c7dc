"""The stack's HTTP server: parses requests into HttpRequest, hands them to a dispatcher, writes answers.

The request log has the method, the path (no query string) as the gateway allows it to be shown, the
status, who answered and the duration; never headers or bodies, which carry tokens and personal data. Paths
of public routes can be credentials themselves (invitation tokens, referral codes): the gateway gives their
route template instead, and a path it did not route shows only its first segment.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from local.http_messages import HttpRequest, HttpResponse, message_response
from local.ports import LOOPBACK

log = logging.getLogger("local.front")

Dispatch = Callable[[HttpRequest], HttpResponse]
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
# Connections waiting to be accepted (http.server's default is 5): a test suite's bursts must not be refused.
LISTEN_BACKLOG = 128


def shown_path(path: str, response: HttpResponse | None = None) -> str:
    """What the request log shows of a path: what the gateway allowed (HttpResponse.logged_path), else the
    first segment only, since an unrouted path may be a mistyped public one with its token."""
    if response is not None and response.logged_path:
        return response.logged_path
    first, _, rest = path.lstrip("/").partition("/")
    return f"/{first}/…" if rest else f"/{first}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients of API Gateway expect
    server: _Server

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        started = time.perf_counter()
        target = urlsplit(self.path)
        try:
            body = self._read_body()
        except ValueError:
            self._write(message_response(400, "Bad Request"))
            return
        if len(body) > MAX_BODY_BYTES:
            response = message_response(413, "Request Entity Too Large")
        else:
            request = HttpRequest(
                method=self.command,
                path=target.path or "/",
                query=target.query,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
                protocol=self.request_version,
            )
            try:
                response = self.server.dispatch(request)
            except Exception:
                log.exception("%s %s failed in the local stack", self.command, shown_path(target.path))
                response = message_response(500, "Internal Server Error")
        self._write(response)
        log.info(
            "%s %s -> %d%s %.0f ms",
            self.command,
            shown_path(target.path, response),
            response.status,
            f" ({response.function})" if response.function else "",
            (time.perf_counter() - started) * 1000,
        )

    def _write(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are logged by _handle, without the query string."""

    def log_message(self, format: str, *args: object) -> None:
        # http.server's own messages quote the request line, path and all: its text arguments are left out.
        log.debug(format, *(arg if isinstance(arg, int) else "…" for arg in args))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], dispatch: Dispatch) -> None:
        super().__init__(address, _Handler)
        self.dispatch = dispatch


class Front:
    def __init__(self, dispatch: Dispatch, port: int = 0, host: str = LOOPBACK) -> None:
        self._server = _Server((host, port), dispatch)
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,), name="front", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Front:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
