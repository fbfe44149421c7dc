"""The AWS services the functions reach in moto, set up as the deployment has them: the user pool (the kept
one when a kept snapshot brought it back, else a new one) and the key set tokens are verified against, the
sender e-mail identities, the files bucket, the Twilio auth token parameter, and the issuer of partner
companies' machine tokens (Cognito's client-credentials grant, which moto does not serve)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from local import cognito
from local.oauth import MachineTokenIssuer

Client = Callable[[str], Any]  # a boto3 client of the stack's endpoint for a service name


@dataclass(frozen=True)
class StandIns:
    pool: cognito.UserPool
    tokens: MachineTokenIssuer
    jwks: dict[str, Any]  # moto's keys (user tokens) and the issuer's (machine tokens)


def set_up(
    client: Client,
    *,
    region: str,
    moto_endpoint: str,
    restored: bool,
    email_identities: Iterable[str],
    files_bucket: str,
    twilio_auth_token_parameter: str,
    twilio_auth_token: str,
) -> StandIns:
    """`restored`: moto's kept state is back in place (local.kept_data), with the pool and the bucket."""
    cognito_client = client("cognito-idp")
    kept_pool = cognito.kept_user_pool(cognito_client, region) if restored else None
    pool = kept_pool or cognito.create_user_pool(cognito_client, region)
    for identity in email_identities:
        client("sesv2").create_email_identity(EmailIdentity=identity)
    if kept_pool is None:  # a kept snapshot holds the bucket, with its files
        # us-east-1 is S3's default location and must not be named as a constraint.
        location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        client("s3").create_bucket(Bucket=files_bucket, **location)
    client("ssm").put_parameter(
        Name=twilio_auth_token_parameter, Value=twilio_auth_token, Type="SecureString", Overwrite=True
    )
    tokens = MachineTokenIssuer(
        pool.issuer, lambda client_id: cognito.describe_client(cognito_client, pool.pool_id, client_id)
    )
    jwks = merged_key_set(fetch_key_set(f"{moto_endpoint}/{pool.pool_id}/.well-known/jwks.json"), tokens.jwks())
    return StandIns(pool, tokens, jwks)


def fetch_key_set(url: str) -> dict[str, Any]:
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    return dict(response.json())


def merged_key_set(*key_sets: Mapping[str, Any]) -> dict[str, Any]:
    """One JWKS of several: in AWS the pool signs user and machine tokens with the keys it publishes;
    locally moto signs user tokens and the stack machine tokens, with the same issuer."""
    keys: dict[str, dict[str, Any]] = {}
    for key_set in key_sets:
        for key in key_set.get("keys", []):
            keys.setdefault(str(key.get("kid", "")), dict(key))
    return {"keys": list(keys.values())}
