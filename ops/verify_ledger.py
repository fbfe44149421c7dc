"""Recompute every wallet's balance from its ledger entries and report drift (`make verify-ledger`).

    python -m ops.verify_ledger                    the running `make dev` stack
    python -m ops.verify_ledger --stage prod [--region R] [--profile P]
                                                   a deployed stage (its TableName output), with your AWS credentials
    ... [--org ORG] [--json]                       one organisation only; the whole report as JSON

Exit status 1 when anything drifted, 0 when all agrees, 2 when the table cannot be reached. It reads the
whole table (one Scan, eventually consistent; a wallet that looks wrong is read again consistently), so on a
large stage run it off-peak: it costs a full read of the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError

from ops import stage
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
    except StageNotFound as error:
        print(error, file=sys.stderr)
        return 2
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
