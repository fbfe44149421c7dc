"""The machine-token authorizer against a JWKS served on loopback, with tokens signed like Cognito's."""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from common import machine_tokens
from common.settings import get_settings
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.support import FakeContext

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_unit"


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    trusted = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(trusted.public_key()))
    document = json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("TOKEN_ISSUER", ISSUER)
    monkeypatch.setenv("JWKS_URL", f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json")
    get_settings.cache_clear()
    machine_tokens._keys.cache_clear()
    yield {"trusted": trusted, "foreign": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
    server.shutdown()


def token(key: Any, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"sub": "client-1", "client_id": "client-1", "token_use": "access", "scope": "leads/write",
              "iss": ISSUER, "iat": now, "exp": now + 3600, **overrides}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


def authorize(bearer: str | None) -> dict[str, Any]:
    authorizer = importlib.reload(importlib.import_module("machine_auth.authorizer"))
    headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
    event = {"version": "2.0", "type": "REQUEST", "routeArn": "arn:aws:execute-api:us-east-1:1:api/$default/POST/x",
             "identitySource": [headers.get("authorization", "")], "headers": headers}
    return authorizer.lambda_handler(event, FakeContext(function_name="MachineAuthorizer"))  # type: ignore[no-any-return]


def test_valid_token_passes_client_id_and_scope(keys: dict[str, Any]) -> None:
    result = authorize(token(keys["trusted"]))
    assert result == {"isAuthorized": True,
                      "context": {"client_id": "client-1", "sub": "client-1", "scope": "leads/write"}}


@pytest.mark.parametrize(
    "overrides",
    [{"scope": "other/read"}, {"exp": int(time.time()) - 10}, {"iss": "https://evil.example"}, {"token_use": "id"}],
)
def test_wrong_claims_are_refused(keys: dict[str, Any], overrides: dict[str, Any]) -> None:
    assert authorize(token(keys["trusted"], **overrides)) == {"isAuthorized": False}


def test_foreign_signature_and_missing_token_are_refused(keys: dict[str, Any]) -> None:
    assert authorize(token(keys["foreign"])) == {"isAuthorized": False}
    assert authorize(None) == {"isAuthorized": False}
