"""`make dev`: the local stack with a demo organisation, until Ctrl-C.

Prints where everything is and ready-to-use tokens, and writes them as shell variables to .local/demo.env
(`source .local/demo.env` in another terminal); writes .local/dev.json so `make token` and the operator tools
(`make redrive`, `make replay`, `make verify-ledger`) can find the stack.
Ctrl-C or SIGTERM stops everything, DynamoDB Local's Java process included, and removes both files.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from requests import RequestException

from infra.manifest import SCHEDULES
from local import state
from local.demo import DEMO_PASSWORD, Demo, DemoError, demo_ids, reconnect, seed
from local.endpoints import SCHEDULES_PATH
from local.kept_data import KeptData
from local.ports import preferred_or_free
from local.project import DEMO_ENV_FILE, ROOT
from local.stack import LocalStack

KEPT_DATA_DIR = ROOT / ".local" / "data"
DEMO_IDS_FILE = "demo.json"
DEFAULT_PORT = 3000
DEFAULT_DYNAMODB_PORT = 8000
DEFAULT_MOTO_PORT = 5000


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def describe_stack(stack: LocalStack) -> str:
    url = stack.url
    public = sorted({route.path for route in stack.routes if route.auth == "none"})
    schedules = [
        f"  Run schedule  curl -X POST {url}{SCHEDULES_PATH}{name}  ({SCHEDULES.get(name, 'on demand only')})"
        for name, function in stack.functions.items()
        if function.kind == "schedule"
    ]
    return "\n".join(
        [
            f"Local stack ready in {stack.startup_seconds:.1f} s",
            f"  API           {url}",
            *(f"  No token      {url}{path}  (no Authorization header needed)" for path in public),
            f"  Swagger UI    {url}/docs",
            f"  OpenAPI       {url}/openapi.json",
            f"  Outbox        {url}/_local/outbox",
            f"  Dead letters  {url}/_local/dead-letters",
            f'  Clock         {url}/_local/clock  (POST {{"offset_seconds": 86400}} moves the functions a day ahead)',
            *schedules,
            f"  Token URL     {stack.token_url}",
            f"  DynamoDB      {stack.dynamodb_endpoint}  (table {stack.table_name})",
            f"  moto          {stack.moto_endpoint}  (user pool {stack.user_pool_id}, bucket {stack.files_bucket})",
        ]
    )


def stack_variables(stack: LocalStack) -> dict[str, str]:
    return {"API": stack.url, "TOKEN_URL": stack.token_url}


def demo_variables(demo: Demo) -> dict[str, str]:
    """The demo organisation's ids and tokens, by the names the README's walk-through uses."""
    return {
        "ORG_ID": demo.org_id,
        "ADMIN_TOKEN": demo.admin.token,
        **{f"REP{n}_TOKEN": rep.token for n, rep in enumerate(demo.reps, start=1)},
        "COMPANY_ID": demo.company_id,
        "CAMPAIGN_ID": demo.campaign_id,
        "COMPANY_CLIENT_ID": demo.client_id,
        "COMPANY_CLIENT_SECRET": demo.client_secret,
        "COMPANY_TOKEN": demo.machine_token,
        "WORKFLOW_ID": demo.workflow_id,
        "PARTNER_ID": demo.partner.user_id,
        "PARTNER_TOKEN": demo.partner.token,
        "TEAM_ID": demo.team_id,
        "REP2_PHONE": demo.member_phone,
    }


def export_lines(variables: Mapping[str, str]) -> list[str]:
    return [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]


def write_env_file(variables: Mapping[str, str], path: Path = DEMO_ENV_FILE) -> None:
    """The variables as a shell script to source; readable by this user only (it holds a client secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(["# The running local stack (make dev); removed when it stops.", *export_lines(variables)])
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text + "\n")


def _shown_path(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def describe_demo(demo: Demo, variables: Mapping[str, str]) -> str:
    users = ", ".join([demo.admin.email, *(rep.email for rep in demo.reps), demo.partner.email])
    return "\n".join(
        [
            "",
            f"Demo organisation {demo.org_id}",
            f"  users (password {DEMO_PASSWORD}): {users}",
            f"  partner company {demo.company_id}: client id {demo.client_id}",
            "",
            "# Tokens last an hour; `make -s token ARGS=<email>` prints a fresh one.",
            *export_lines(variables),
            "",
            'curl -s -H "Authorization: Bearer $ADMIN_TOKEN" "$API/orgs/$ORG_ID"',
        ]
    )


def _demo(stack: LocalStack, kept: KeptData | None) -> Demo:
    """The demo organisation: seeded, or the kept one with fresh tokens when the stack kept its data."""
    saved = kept.folder / DEMO_IDS_FILE if kept else None
    if saved and stack.restored and saved.is_file():
        print(f"\nKept data from {_shown_path(saved.parent)}: the demo organisation is the one seeded before.")
        return reconnect(stack, json.loads(saved.read_text()))
    demo = seed(stack)
    if saved:
        saved.write_text(json.dumps(demo_ids(demo)))
    return demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.dev", description=__doc__)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="API port (a free one if taken)")
    parser.add_argument("--no-demo", action="store_true", help="start with an empty table")
    parser.add_argument("--workers", type=int, default=4, help="function worker processes")
    parser.add_argument(
        "--keep-data",
        action="store_true",
        help=f"keep the table, the user pool and the files in {_shown_path(KEPT_DATA_DIR)} between runs",
    )
    parser.add_argument("--fresh", action="store_true", help="with --keep-data: forget what was kept first")
    args = parser.parse_args(argv)
    kept = KeptData(KEPT_DATA_DIR) if args.keep_data or args.fresh else None
    if kept and args.fresh:
        kept.forget()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    # Explicitly, also for SIGINT: a shell starting us in the background would have it ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)

    port = preferred_or_free(args.port)
    stack = LocalStack(
        port=port,
        dynamodb_port=preferred_or_free(DEFAULT_DYNAMODB_PORT),
        moto_port=preferred_or_free(DEFAULT_MOTO_PORT),
        workers=args.workers,
        kept=kept,
    )
    try:
        stack.start()
        state.write(stack.state())
        print(describe_stack(stack), flush=True)
        if port != args.port:
            print(
                f"\nPort {args.port} is taken, so the API listens on {port}: use $API (from "
                f"{_shown_path(DEMO_ENV_FILE)}) rather than 127.0.0.1:{args.port}.",
                flush=True,
            )
        variables = stack_variables(stack)
        if not args.no_demo:
            try:
                demo = _demo(stack, kept)
            except (DemoError, RequestException, KeyError) as error:
                print(f"\nThe demo organisation could not be created: {error}", file=sys.stderr, flush=True)
            else:
                variables |= demo_variables(demo)
                print(describe_demo(demo, variables), flush=True)
        write_env_file(variables)
        print(f"\nIn another terminal: source {_shown_path(DEMO_ENV_FILE)}", flush=True)
        print("Ctrl-C stops the stack.", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the shutdown short (DynamoDB Local left running, data not kept).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        state.remove()
        DEMO_ENV_FILE.unlink(missing_ok=True)
        stack.stop()
        print("Local stack stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
