"""A stand-in for Twilio's Messages endpoint on a loopback port, for the local stack and the tests.

It answers `POST /2010-04-01/Accounts/<sid>/Messages.json` (form-encoded To, From, Body, StatusCallback)
the way Twilio does (201 with the message's JSON: sid, status "queued", ...), with HTTP basic auth of
the account SID and auth token, and keeps every message so tests can read what was texted. It can be told
to refuse the next sends (a 5xx, or Twilio's 400 for an unreachable number) to test retries.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from local.ports import LOOPBACK, free_port

_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC[0-9a-f]{32})/Messages\.json$")


class FakeTwilio:
    def __init__(self, account_sid: str, auth_token: str, port: int = 0, host: str = LOOPBACK) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.host = host
        self.port = port or free_port(host)
        self._messages: list[dict[str, Any]] = []
        self._failures: list[tuple[int, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status, body = fake.handle(self.path, self.headers.get("Authorization", ""), self._form())
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _form(self) -> dict[str, str]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        threading.Thread(target=self._server.serve_forever, name="fake-twilio", daemon=True).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def handle(self, path: str, authorization: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        match = _MESSAGES_PATH.match(path.split("?", 1)[0])
        if match is None:
            return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if match["account"] != self.account_sid or authorization != f"Basic {expected}":
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        missing = [name for name in ("To", "From", "Body") if not form.get(name)]
        if missing:
            return 400, {"code": 21604, "message": f"A '{missing[0]}' parameter is required.", "status": 400}
        with self._lock:
            if self._failures:
                return self._failures.pop(0)
            message = {
                "sid": "SM" + secrets.token_hex(16),
                "account_sid": self.account_sid,
                "to": form["To"],
                "from": form["From"],
                "body": form["Body"],
                "status": "queued",
                "status_callback": form.get("StatusCallback"),
                "date_created": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"),
                "num_segments": "1",
                "direction": "outbound-api",
            }
            self._messages.append(message)
        return 201, message

    def fail_next(self, count: int = 1, *, status: int = 500) -> None:
        """Refuse the next `count` sends: 5xx as an outage, 400 as Twilio's "not a valid phone number"."""
        body = (
            {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}
            if status == 400
            else {"code": 20500, "message": "Internal Server Error", "status": status}
        )
        with self._lock:
            self._failures += [(status, body)] * count

    def refusals_left(self) -> int:
        """How many of the refusals `fail_next` asked for are still to come."""
        with self._lock:
            return len(self._failures)

    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._messages)
