"""Recompute every wallet's balance from its ledger entries, and every partner team's referral fee balances
from theirs (ops.fee_audit), and report drift (`make verify-ledger`).

    python -m ops.verify_ledger                    the running `make dev` stack
    python -m ops.verify_ledger --stage prod [--region R] [--profile P]
                                                   a deployed stage (its TableName output), with your AWS credentials
    ... [--org ORG] [--json]                       one organisation only; the whole report as JSON

Exit status 1 when anything drifted, 0 when all agrees, 2 when the table cannot be reached. It reads the
whole table (two Scans, eventually consistent; a wallet or team that looks wrong is read again
consistently), so on a large stage run it off-peak: it costs two full reads of the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError

from ops import fee_audit, stage
from ops.ledger_audit import audit, describe
from ops.stage import StageNotFound


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.verify_ledger", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    stage.add_arguments(parser)
    parser.add_argument("--org", help="check this organisation only")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        target = stage.from_arguments(args)
        table = target.outputs.table_name
        report = audit(target.client("dynamodb"), table, org_id=args.org)
        fees = fee_audit.audit(target.client("dynamodb"), table, org_id=args.org)
    except StageNotFound as error:
        print(error, file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"cannot read the table: {error}", file=sys.stderr)
        return 2
    drifted = bool(report["drifts"] or fees["drifts"])
    if args.json:
        print(json.dumps({**report, "team_fees": fees}, indent=2))
    else:
        scope = f"organisation {args.org} in table {table}" if args.org else f"table {table}"
        drifts = report["drifts"]
        print(
            f"{scope}: {report['wallets']} wallets, {report['entries']} ledger entries, "
            f"{report['payout_requests']} payout requests: " + (f"{len(drifts)} drift(s)" if drifts else "no drift")
        )
        for drift in drifts:
            print(describe(drift))
        print(
            f"{scope}: {fees['fee_balances']} team fee balances, {fees['fee_entries']} fee entries, "
            f"{fees['fees']} fees: " + (f"{len(fees['drifts'])} drift(s)" if fees["drifts"] else "no drift")
        )
        for drift in fees["drifts"]:
            print(fee_audit.describe(drift))
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(main())
