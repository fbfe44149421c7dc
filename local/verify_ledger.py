"""`make verify-ledger ARGS=...`: recompute every wallet's balance from its ledger entries and report drift.
Exit status 1 when anything drifted, 0 when all agrees, 2 when the table cannot be reached.

python -m local.verify_ledger                               the running `make dev` stack
python -m local.verify_ledger --table NAME [--region R] [--profile P]
                                                            a deployed stage, with your AWS credentials
python -m local.verify_ledger --endpoint-url URL [--table NAME]
                                                            any DynamoDB endpoint (DynamoDB Local...)
add --org ORG to check one organisation only, --json for the whole report as JSON.

It reads the whole table (one Scan, eventually consistent; a wallet that looks wrong is read again
consistently), so on a large stage run it off-peak: it costs a full read of the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from common.money.audit import audit, describe

from local import state
from local.stack import ACCESS_KEY_ID, SECRET_ACCESS_KEY, TABLE_NAME


def _client(args: argparse.Namespace) -> tuple[Any, str] | None:
    """The DynamoDB client and table name the arguments point at; None when nothing can be reached."""
    if args.endpoint_url is None and args.table is None:
        dev = state.read()
        if dev is None:
            return None
        local = boto3.client(
            "dynamodb",
            region_name=dev.region,
            endpoint_url=dev.dynamodb_endpoint,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )
        return local, TABLE_NAME
    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    if not args.endpoint_url:
        return session.client("dynamodb"), args.table
    # Any DynamoDB endpoint: DynamoDB Local needs some region and accepts any credentials.
    options: dict[str, Any] = {"region_name": session.region_name or "us-east-1", "endpoint_url": args.endpoint_url}
    if session.get_credentials() is None:
        options |= {"aws_access_key_id": ACCESS_KEY_ID, "aws_secret_access_key": SECRET_ACCESS_KEY}
    return session.client("dynamodb", **options), args.table or TABLE_NAME


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.verify_ledger", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--table", help="the table of a deployed stage (default: the local stack's)")
    parser.add_argument("--region", help="the stage's region (default: your AWS configuration's)")
    parser.add_argument("--profile", help="the AWS profile to use (default: your AWS configuration's)")
    parser.add_argument("--endpoint-url", help="a DynamoDB endpoint, e.g. DynamoDB Local's")
    parser.add_argument("--org", help="check this organisation only")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        target = _client(args)
        if target is None:
            print("no local stack is running: start one with `make dev`, or name a table with --table", file=sys.stderr)
            return 2
        client, table = target
        report = audit(client, table, org_id=args.org)
    except (BotoCoreError, ClientError) as error:
        print(f"cannot read the table: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        scope = f"organisation {args.org} in table {table}" if args.org else f"table {table}"
        drifts = report["drifts"]
        print(
            f"{scope}: {report['wallets']} wallets, {report['entries']} ledger entries, "
            f"{report['payout_requests']} payout requests: " + (f"{len(drifts)} drift(s)" if drifts else "no drift")
        )
        for drift in drifts:
            print(describe(drift))
    return 1 if report["drifts"] else 0


if __name__ == "__main__":
    sys.exit(main())
