"""The token authorizer against a JWKS served on loopback, with tokens signed like Cognito's."""

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
from authorizer import bearer_tokens
from common.orgs import sign_in
from common.orgs.access import principal_from_event
from common.platform.settings import get_settings
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support import FakeContext

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_unit"
PORTAL = "portal-client"


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    trusted = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(trusted.public_key()))
    document = json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
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
    monkeypatch.setenv("PORTAL_CLIENT_IDS", f"{PORTAL}, other-portal")
    get_settings.cache_clear()
    bearer_tokens._keys.cache_clear()
    yield {"trusted": trusted, "foreign": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
    server.shutdown()


def machine_token(key: Any, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "sub": "client-1",
        "client_id": "client-1",
        "token_use": "access",
        "scope": "leads/write",
        "iss": ISSUER,
        "iat": now,
        "exp": now + 3600,
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


def user_token(key: Any, **overrides: Any) -> str:
    return machine_token(
        key,
        **{
            "sub": "user-1",
            "username": "user-1",
            "client_id": PORTAL,
            "scope": "aws.cognito.signin.user.admin",
            **overrides,
        },
    )


def authorize(bearer: str | None) -> dict[str, Any]:
    authorizer = importlib.reload(importlib.import_module("authorizer.handler"))
    headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
    event = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:1:api/$default/POST/x",
        "identitySource": [headers.get("authorization", "")],
        "headers": headers,
    }
    return authorizer.lambda_handler(event, FakeContext(function_name="TokenAuthorizer"))  # type: ignore[no-any-return]


def test_client_credentials_token_is_a_machine(keys: dict[str, Any]) -> None:
    assert authorize(machine_token(keys["trusted"])) == {
        "isAuthorized": True,
        "context": {
            "kind": "machine",
            "sub": "client-1",
            "client_id": "client-1",
            "scope": "leads/write",
            "groups": "",
            "mfa": "false",
        },
    }


def test_portal_access_and_id_tokens_are_users(keys: dict[str, Any]) -> None:
    access = authorize(user_token(keys["trusted"]))
    assert access["isAuthorized"] and access["context"]["kind"] == "user" and access["context"]["sub"] == "user-1"
    id_token = authorize(user_token(keys["trusted"], token_use="id", aud="other-portal", client_id=None))
    assert id_token["isAuthorized"] and id_token["context"]["client_id"] == "other-portal"


@pytest.mark.parametrize(
    "overrides",
    [
        {"scope": "other/read"},
        {"exp": int(time.time()) - 10},
        {"iss": "https://evil.example"},
        {"token_use": "refresh"},
        {"client_id": None},
    ],
)
def test_wrong_machine_claims_are_refused(keys: dict[str, Any], overrides: dict[str, Any]) -> None:
    assert authorize(machine_token(keys["trusted"], **overrides)) == {"isAuthorized": False}


def test_user_tokens_of_other_app_clients_are_refused(keys: dict[str, Any]) -> None:
    assert authorize(user_token(keys["trusted"], client_id="someone-elses-app")) == {"isAuthorized": False}
    assert authorize(user_token(keys["trusted"], token_use="id", aud="someone-elses-app")) == {"isAuthorized": False}


def test_foreign_signature_and_missing_token_are_refused(keys: dict[str, Any]) -> None:
    assert authorize(machine_token(keys["foreign"])) == {"isAuthorized": False}
    assert authorize(None) == {"isAuthorized": False}
    assert authorize("not-a-jwt") == {"isAuthorized": False}


def test_a_users_cognito_groups_are_passed_on_from_access_and_id_tokens(keys: dict[str, Any]) -> None:
    groups = {"cognito:groups": ["operators", "sales"]}
    access = authorize(user_token(keys["trusted"], **groups))
    id_token = authorize(user_token(keys["trusted"], token_use="id", aud=PORTAL, client_id=None, **groups))
    assert access["context"]["groups"] == id_token["context"]["groups"] == "operators sales"
    assert authorize(user_token(keys["trusted"]))["context"]["groups"] == ""  # in no group


def test_groups_reach_the_function_as_the_callers_groups(keys: dict[str, Any]) -> None:
    decision = authorize(user_token(keys["trusted"], **{"cognito:groups": ["operators"]}))
    caller = principal_from_event({"requestContext": {"authorizer": {"lambda": decision["context"]}}})
    assert caller.groups == frozenset({"operators"})
    plain = authorize(user_token(keys["trusted"]))
    assert principal_from_event({"requestContext": {"authorizer": {"lambda": plain["context"]}}}).groups == frozenset()


@pytest.mark.parametrize("claim", ["operators", [["operators"]], ["two words"], None])
def test_groups_not_shaped_like_cognitos_give_no_group(keys: dict[str, Any], claim: Any) -> None:
    decision = authorize(user_token(keys["trusted"], **{"cognito:groups": claim}))
    assert decision["isAuthorized"] and decision["context"]["groups"] == ""


def test_a_machine_token_never_carries_groups(keys: dict[str, Any]) -> None:
    assert authorize(machine_token(keys["trusted"], **{"cognito:groups": ["operators"]}))["context"]["groups"] == ""


# -- the user's sign-in record: revocations and MFA --------------------------------------------------------


def test_tokens_of_sign_ins_that_began_before_a_revocation_are_refused(keys: dict[str, Any]) -> None:
    now = int(time.time())
    before = user_token(keys["trusted"], auth_time=now - 60, iat=now - 60)
    assert authorize(before)["isAuthorized"]
    sign_in.revoke("user-1", sign_in.Revocation.SIGN_OUT, "user:admin", now=now - 30)
    assert authorize(before) == {"isAuthorized": False}
    # A token refreshed after the revocation keeps the sign-in's auth_time: refused too.
    assert authorize(user_token(keys["trusted"], auth_time=now - 60, iat=now)) == {"isAuthorized": False}
    id_token = user_token(keys["trusted"], token_use="id", aud=PORTAL, client_id=None, auth_time=now - 60)
    assert authorize(id_token) == {"isAuthorized": False}
    # Signing in again after it works; other users are not touched.
    assert authorize(user_token(keys["trusted"], auth_time=now - 29, iat=now - 29))["isAuthorized"]
    assert authorize(user_token(keys["trusted"], sub="user-2", username="user-2", auth_time=now - 60))["isAuthorized"]


def test_the_revocations_second_is_refused_whole(keys: dict[str, Any]) -> None:
    """Token times are whole seconds: a token of the revocation's own second may predate it."""
    revoked = int(time.time()) - 10
    sign_in.revoke("user-1", sign_in.Revocation.DISABLE, "user:operator", now=revoked + 0.9)
    assert authorize(user_token(keys["trusted"], auth_time=revoked, iat=revoked)) == {"isAuthorized": False}
    assert authorize(user_token(keys["trusted"], auth_time=revoked + 1, iat=revoked + 1))["isAuthorized"]


def test_a_token_without_auth_time_is_judged_by_its_issue_time(keys: dict[str, Any]) -> None:
    now = int(time.time())
    sign_in.revoke("user-1", sign_in.Revocation.DELETE, "user:operator", now=now - 30)
    assert authorize(user_token(keys["trusted"], iat=now - 60)) == {"isAuthorized": False}
    assert authorize(user_token(keys["trusted"], iat=now))["isAuthorized"]
    assert authorize(user_token(keys["trusted"], iat=now, auth_time="yesterday")) == {"isAuthorized": False}


def test_an_earlier_revocation_never_replaces_a_later_one(keys: dict[str, Any]) -> None:
    now = int(time.time())
    sign_in.revoke("user-1", sign_in.Revocation.DISABLE, "user:operator", now=now - 10)
    kept = sign_in.revoke("user-1", sign_in.Revocation.SIGN_OUT, "user:admin", now=now - 100)
    assert kept.revocation == sign_in.Revocation.DISABLE
    assert sign_in.state_of("user-1").not_before == now - 9


def test_a_machine_token_is_not_judged_by_a_users_record(keys: dict[str, Any]) -> None:
    sign_in.revoke("client-1", sign_in.Revocation.DELETE, "user:operator", now=time.time() + 60)
    assert authorize(machine_token(keys["trusted"]))["isAuthorized"]


def test_whether_the_user_set_up_mfa_reaches_the_function(keys: dict[str, Any]) -> None:
    def caller_mfa() -> bool:
        decision = authorize(user_token(keys["trusted"]))
        return principal_from_event({"requestContext": {"authorizer": {"lambda": decision["context"]}}}).mfa

    assert authorize(user_token(keys["trusted"]))["context"]["mfa"] == "false"
    assert caller_mfa() is False
    sign_in.record_mfa("user-1", ["SOFTWARE_TOKEN_MFA"])
    assert authorize(user_token(keys["trusted"]))["context"]["mfa"] == "true"
    assert caller_mfa() is True
    sign_in.record_mfa("user-1", [])  # checked again after the user turned it off
    assert caller_mfa() is False
