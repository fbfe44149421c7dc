"""The local stack's HTTP front: bursts of connections are queued, not refused, and the request log never
shows a secret carried in a path (invitation tokens, referral codes)."""

from __future__ import annotations

import http.client
import logging
import secrets
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from local.front import Front, shown_path
from local.http_messages import HttpRequest, HttpResponse, json_response
from local.ports import LOOPBACK
from local.stack import LocalStack
from tests.integration.conftest import ApiSession

CONNECTIONS = 50
# Only waited for when the front's backlog is too small: then a connection's handshake never completes.
CONNECT_TIMEOUT = 10


def _echo(request: HttpRequest) -> HttpResponse:
    return json_response(200, {"path": request.path})


@pytest.fixture
def front() -> Iterator[Front]:
    """A front on the loopback that answers with the path it was asked for; not yet serving."""
    server = Front(_echo, port=0, host=LOOPBACK)
    try:
        yield server
    finally:
        server.stop()


def _request(number: int) -> bytes:
    return f"GET /burst/{number} HTTP/1.1\r\nHost: {LOOPBACK}\r\nConnection: close\r\n\r\n".encode()


def _answer(connection: socket.socket) -> tuple[int, bytes]:
    with connection, connection.makefile("rb") as stream:
        status = int(stream.readline().split()[1])
        headers = {}
        while line := stream.readline().strip():
            name, _, value = line.decode().partition(":")
            headers[name.lower()] = value.strip()
        return status, stream.read(int(headers["content-length"]))


def test_connections_waiting_to_be_accepted_all_get_answers(front: Front) -> None:
    # The front listens but accepts nothing yet: every connection waits in the listen backlog. With
    # http.server's default of 5, the seventh handshake would not complete.
    waiting = []
    for number in range(CONNECTIONS):
        connection = socket.create_connection((LOOPBACK, front.port), timeout=CONNECT_TIMEOUT)
        connection.sendall(_request(number))
        waiting.append(connection)
    front.start()
    with ThreadPoolExecutor(max_workers=CONNECTIONS) as pool:
        answers = list(pool.map(_answer, waiting))
    assert [status for status, _ in answers] == [200] * CONNECTIONS
    assert [body for _, body in answers] == [f'{{"path": "/burst/{n}"}}'.encode() for n in range(CONNECTIONS)]


def test_concurrent_requests_all_get_answers(front: Front) -> None:
    front.start()

    def ask(number: int) -> int:
        client = http.client.HTTPConnection(LOOPBACK, front.port, timeout=30)
        try:
            client.request("GET", f"/concurrent/{number}")
            return client.getresponse().status
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=CONNECTIONS) as pool:
        assert list(pool.map(ask, range(CONNECTIONS))) == [200] * CONNECTIONS


def test_a_path_the_gateway_did_not_route_shows_only_its_first_segment() -> None:
    token = secrets.token_urlsafe(32)
    assert shown_path(f"/public/invitation/{token}") == "/public/…"
    assert shown_path("/openapi.json") == "/openapi.json"
    assert shown_path(f"/x/{token}", HttpResponse(200, logged_path="/public/{proxy+}")) == "/public/{proxy+}"


def test_tokens_in_paths_do_not_reach_the_request_log(
    stack: LocalStack, http: ApiSession, caplog: pytest.LogCaptureFixture
) -> None:
    invitation, code, org_id = secrets.token_urlsafe(32), "k3m9x2p7q4rs", "01JD0000000000000000000000"
    caplog.set_level(logging.INFO, logger="local.front")
    answers = [
        http.get(f"/public/invitations/{invitation}"),
        http.get(f"/public/referrals/{code}"),
        http.post(f"/public/referrals/{code}", data=b"\xff", headers={"content-type": "application/json"}),
        http.get(f"/publik/invitations/{invitation}"),  # no such route
        http.get(f"/orgs/{org_id}"),  # behind the authorizer: the path holds ids only
    ]
    assert [a.status_code for a in answers][-2:] == [404, 401]
    logged = [r.getMessage() for r in caplog.records if r.name == "local.front"]
    assert len(logged) == len(answers), logged
    text = "\n".join(logged)
    assert invitation not in text and code not in text
    assert "GET /public/{proxy+} ->" in text and "POST /public/{proxy+} ->" in text
    assert "GET /publik/… -> 404" in text
    assert f"GET /orgs/{org_id} -> 401" in text
