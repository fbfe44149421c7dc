"""`make token ARGS=...`: a fresh token from the running dev stack, printed alone on stdout.

python -m local.token admin@demo.example [--password PASSWORD]     a user's access token
python -m local.token --client-id ID --client-secret SECRET        a partner company's token
"""

from __future__ import annotations

import argparse
import sys

import boto3
import requests
from botocore.exceptions import ClientError

from infra.manifest import LEAD_INTAKE_SCOPE
from local import cognito, state
from local.demo import DEMO_PASSWORD
from local.state import ACCESS_KEY_ID, SECRET_ACCESS_KEY


def user_token(dev: state.DevState, email: str, password: str) -> str:
    client = boto3.client(
        "cognito-idp",
        region_name=dev.region,
        endpoint_url=dev.moto_endpoint,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
    return cognito.user_token(client, dev.portal_client_id, email, password)


def machine_token(dev: state.DevState, client_id: str, client_secret: str, scope: str) -> str:
    response = requests.post(
        dev.token_url,
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client_id, client_secret),
        timeout=10,
    )
    if response.status_code != 200:
        raise SystemExit(f"token request refused: {response.status_code} {response.text}")
    return str(response.json()["access_token"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.token", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("email", nargs="?", help="a user's e-mail address")
    parser.add_argument("--password", default=DEMO_PASSWORD, help="the user's password (default: the demo one)")
    parser.add_argument("--client-id", help="a partner company's client id")
    parser.add_argument("--client-secret", help="a partner company's client secret")
    parser.add_argument("--scope", default=LEAD_INTAKE_SCOPE)
    args = parser.parse_args(argv)
    if bool(args.email) == bool(args.client_id):
        parser.error("give either an e-mail address or --client-id with --client-secret")
    if args.client_id and not args.client_secret:
        parser.error("--client-id needs --client-secret")
    dev = state.read()
    if dev is None:
        print("no local stack is running: start one with `make dev`", file=sys.stderr)
        return 1
    if args.email:
        try:
            print(user_token(dev, args.email, args.password))
        except ClientError as error:
            print(f"sign-in refused: {error.response['Error']['Message']}", file=sys.stderr)
            return 1
    else:
        print(machine_token(dev, args.client_id, args.client_secret, args.scope))
    return 0


if __name__ == "__main__":
    sys.exit(main())
