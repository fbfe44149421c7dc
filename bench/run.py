"""`make bench`: the leads, partners, referrals and payouts handlers in-process against DynamoDB Local, side by side
with the bare boto3 calls each operation minimally needs, in the same run; DynamoDB round trips per operation;
the commission cascade over a batch of deal changes; each handler module's import time against importing
its libraries alone; and cold init from the built layer, read-only, with and without its bytecode
(bench/cold_init.py); the events' cost and one webhook endpoint's delivery throughput. Each area's cases are
in its own module (bench/leads.py, partners.py, referrals.py, payouts.py, dispatcher.py, integrations.py with
deliveries.py), measured by bench/measure.py.

Writes bench/results/latest.md and latest.json. Never part of `make test`: numbers are reported, not asserted.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from infra.constants import IMPORT_ROOTS, add_import_roots  # noqa: E402

add_import_roots()

from common.platform.settings import environment  # noqa: E402

from bench import (  # noqa: E402
    cold_init,
    deliveries,
    dispatcher,
    fees,
    integrations,
    leads,
    partners,
    payouts,
    referrals,
    standards,
)
from bench.measure import Case, RoundTrips, compare, percentile  # noqa: E402
from local.dynamodb_local import DynamoDBLocal  # noqa: E402
from local.moto_server import MotoServer  # noqa: E402
from local.twilio_fake import FakeTwilio  # noqa: E402

TWILIO_ACCOUNT_SID = "AC" + "0" * 32
CONSUMERS = ("LeadsEvents", "PartnersEvents", "ReferralsEvents", "PayoutsEvents", "IntegrationsEvents")

ITERATIONS = int(os.environ.get("BENCH_ITERATIONS", "200"))
IMPORT_RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "11"))
# Fresh processes per handler, side and variant; 0 skips cold init (and building the layer's host twin).
COLD_INIT_RUNS = int(os.environ.get("BENCH_COLD_INIT_RUNS", "11"))
TABLE = "partner-programme-bench"
RESULTS = Path(os.environ.get("BENCH_RESULTS_DIR", ROOT / "bench" / "results"))

BASE_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
} | environment(
    stage="bench",
    table_name=TABLE,
    powertools_service_name="partner-programme",
    email_from="no-reply@bench.example",
    lead_intake_scope="leads/write",
    # Credentials are not issued in the benchmark; the API only needs the pool named to start.
    user_pool_id="us-east-1_bench",
    token_issuer="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_bench",
    jwks_url="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_bench/.well-known/jwks.json",
    portal_client_ids="bench-portal",
    # Files are not uploaded in the benchmark; the partners API only needs them named to start.
    files_bucket="partner-programme-bench-files",
    portal_url="https://portal.bench.example",
    # Replaced by the queues on moto's SQS for the dispatcher's benchmark; named for its import.
    consumer_queue_urls=json.dumps(
        {name: f"https://sqs.us-east-1.amazonaws.com/123456789012/{name}" for name in CONSUMERS}
    ),
    # Replaced by a queue on moto's SQS for the sweep's benchmark; named for its import.
    sweep_work_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/StatusSweepWork",
    # Replaced by queues on moto's SQS for the integrations' benchmark; named for its import.
    webhook_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/WebhookDelivery",
    # As on the local stack: the benchmark's webhook receiver listens on 127.0.0.1, over plain http.
    outbound_allow_loopback="true",
    money_mfa_required="false",
    # No receiver credentials are kept in the benchmark; the leads API only needs the prefix named to start.
    company_secret_prefix="/partner-programme/bench/company-secrets",
)


def run_latency(endpoint: str, moto: str, twilio: FakeTwilio) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    os.environ.update(
        BASE_ENV
        | {"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "AWS_ENDPOINT_URL": moto}
        | referrals.environment(twilio.url, TWILIO_ACCOUNT_SID)
    )
    import boto3

    os.environ.update(dispatcher.environment(boto3.client("sqs"), TABLE))
    os.environ.update(partners.sweep_queue_environment(boto3.client("sqs"), TABLE))
    os.environ.update(deliveries.queue_environment(boto3.client("sqs"), TABLE))
    # SES sends only from verified identities: the reminders' e-mails would fail (and be counted) otherwise.
    boto3.client("sesv2").create_email_identity(EmailIdentity=BASE_ENV["EMAIL_FROM"])
    from common.orgs import organisations
    from common.platform import db
    from common.platform.table_schema import create_table_request

    raw = boto3.client("dynamodb")
    raw.create_table(**create_table_request(TABLE))
    trips = RoundTrips(db.default_client())

    admin = "bench-admin"
    org_id = organisations.create_organisation(organisations.NewOrganisation(name="Bench org"), admin)["org_id"]
    cases: list[Case] = [
        *leads.cases(raw, TABLE, org_id, admin, ITERATIONS),
        (
            "partner deal creation (POST portal deal)",
            *partners.deal_creation_case(raw, TABLE, org_id, admin),
            "BatchGetItem + GetItem + TransactWriteItems",
            lambda: None,
        ),
        (
            "SMS webhook reply (PAUSE / RESUME)",
            *referrals.webhook_case(raw, TABLE, admin),
            "Query + PutItem + UpdateItem + UpdateItem",
            lambda: None,
        ),
        (
            "team customer closed with its closing (the fee, its ledger entry)",
            *fees.closing_case(raw, TABLE, admin, ITERATIONS),
            "BatchGetItem + GetItem + Query + GetItem + TransactWriteItems",
            lambda: None,
        ),
    ]
    rows = [compare(case, trips, ITERATIONS) for case in cases]
    sweep_org = organisations.create_organisation(organisations.NewOrganisation(name="Bench sweep org"), admin)[
        "org_id"
    ]
    sweeps = {
        "lapse": partners.sweep_case(raw, TABLE, sweep_org),
        "reminders": referrals.reminder_sweep_case(raw, TABLE, admin, lambda: len(twilio.messages())),
        "standards": standards.standards_case(raw, TABLE, admin),
        "cascade": payouts.cascade_case(raw, TABLE, trips.take),
        "dispatch": dispatcher.dispatch_case(boto3.client("sqs")),
        "integrations": integrations.run(raw, TABLE, admin, trips.take),
    }
    return rows, sweeps


# Each handler's libraries set up the way the handler sets them up (Logger, Tracer and Metrics created, the
# resolver or batch processor built); the difference to importing the handler is our own code.
_POWERTOOLS = (
    "import boto3, pydantic; from aws_lambda_powertools import Logger, Metrics, Tracer; "
    "Logger(); Tracer(); Metrics(namespace='PartnerProgramme')"
)
IMPORT_BASELINES = {
    "leads.api": _POWERTOOLS + "; from aws_lambda_powertools.event_handler import APIGatewayHttpResolver; "
    "APIGatewayHttpResolver(enable_validation=True)",
    "leads.events": _POWERTOOLS + "; from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType; "
    "BatchProcessor(event_type=EventType.SQS)",
    "authorizer.handler": _POWERTOOLS + "; import jwt",
    "stream_dispatcher.handler": _POWERTOOLS + "; boto3.client('sqs')",
    "partners.api": _POWERTOOLS + "; from aws_lambda_powertools.event_handler import APIGatewayHttpResolver; "
    "APIGatewayHttpResolver(enable_validation=True)",
    "partners.events": _POWERTOOLS + "; from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType; "
    "BatchProcessor(event_type=EventType.SQS)",
    "status_sweep.handler": _POWERTOOLS,
    "status_sweep.work": _POWERTOOLS + "; from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType; "
    "BatchProcessor(event_type=EventType.SQS)",
    "referrals.api": _POWERTOOLS + "; from aws_lambda_powertools.event_handler import APIGatewayHttpResolver; "
    "APIGatewayHttpResolver(enable_validation=True)",
    "referrals.webhook": _POWERTOOLS + "; from twilio.request_validator import RequestValidator",
    "payouts.api": _POWERTOOLS + "; from aws_lambda_powertools.event_handler import APIGatewayHttpResolver; "
    "APIGatewayHttpResolver(enable_validation=True)",
    "payouts.events": _POWERTOOLS + "; from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType; "
    "BatchProcessor(event_type=EventType.SQS)",
    "integrations.api": _POWERTOOLS + "; from aws_lambda_powertools.event_handler import APIGatewayHttpResolver; "
    "APIGatewayHttpResolver(enable_validation=True)",
    "integrations.events": _POWERTOOLS
    + "; from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType; "
    "BatchProcessor(event_type=EventType.SQS)",
    "integrations.delivery": _POWERTOOLS
    + "; from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType; "
    "BatchProcessor(event_type=EventType.SQS)",
}


def import_seconds(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = (
        os.environ
        | BASE_ENV
        | {"PYTHONPATH": os.pathsep.join(str(root) for root in IMPORT_ROOTS), "PYTHONDONTWRITEBYTECODE": "1"}
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def run_imports() -> list[dict[str, Any]]:
    rows = []
    for module, baseline in IMPORT_BASELINES.items():
        import_seconds(f"import {module}")  # first run fills the bytecode cache for both sides
        handler, bare = [], []
        for _ in range(IMPORT_RUNS):  # alternating, so that load on the machine hits both sides alike
            handler.append(import_seconds(f"import {module}"))
            bare.append(import_seconds(baseline))
        rows.append(
            {
                "module": module,
                "handler_ms": statistics.median(handler) * 1000,
                "libraries_ms": statistics.median(bare) * 1000,
                "ratio": statistics.median(handler) / statistics.median(bare),
            }
        )
    return rows


def run_cold_init() -> dict[str, Any]:
    if COLD_INIT_RUNS < 1:
        return {"runs": 0, "rows": []}
    site = cold_init.host_layer()
    rows = []
    with cold_init.read_only_trees(site) as trees:
        for module, baseline in IMPORT_BASELINES.items():
            variables = (
                os.environ
                | BASE_ENV
                | referrals.environment("http://127.0.0.1:9", TWILIO_ACCOUNT_SID)  # texts are never sent here
                | environment(powertools_service_name=module.split(".")[0])
            )
            statements = {"handler": f"import {module}", "libraries": baseline}
            samples: dict[tuple[str, str], list[float]] = {(v, side): [] for v in trees for side in statements}
            for run in range(COLD_INIT_RUNS + 1):  # the first round only fills the page cache
                for variant, tree in trees.items():  # interleaved, so that load on the machine hits all alike
                    for side, statement in statements.items():
                        seconds = cold_init.init_seconds(tree, statement, variables)
                        if run:
                            samples[variant, side].append(seconds * 1000)
            row: dict[str, Any] = {"module": module}
            for variant in trees:
                handler, bare = samples[variant, "handler"], samples[variant, "libraries"]
                row[variant] = {
                    "handler_p50_ms": statistics.median(handler),
                    "handler_p90_ms": percentile(handler, 0.9),
                    "libraries_p50_ms": statistics.median(bare),
                    "libraries_p90_ms": percentile(bare, 0.9),
                    "ratio_p50": statistics.median(handler) / statistics.median(bare),
                }
            rows.append(row)
    return {
        "runs": COLD_INIT_RUNS,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "host_twin_mb": cold_init.size_mb(site),
        "layer_mb": cold_init.size_mb(cold_init.LAYER_DIR) if cold_init.LAYER_DIR.is_dir() else None,
        "rows": rows,
    }


def report(latency: list[dict[str, Any]], sweeps: dict[str, Any], imports: list[dict[str, Any]]) -> str:
    lines = [
        f"# Benchmark results ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {ITERATIONS} iterations per side)",
        "",
        "Handlers called in-process against DynamoDB Local, next to the bare boto3 calls the operation minimally",
        "needs, interleaved in the same run. Targets: one write round trip per command, latency ratio <= 1.5,",
        "import ratio <= 1.3. CPU ms: this process's CPU time per operation (mean), what Lambda bills and",
        "throttles; DynamoDB Local's work runs in its own process and is not in it.",
        "",
        "| operation | handler p50 ms | handler p95 ms | bare p50 ms | bare p95 ms | ratio p50 "
        "| handler CPU ms | bare CPU ms | CPU ratio | DynamoDB calls per op (handler) | writes | bare calls |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in latency:
        calls = ", ".join(f"{op} {n:g}" for op, n in r["round_trips"].items())
        lines.append(
            f"| {r['operation']} | {r['handler_p50_ms']:.2f} | {r['handler_p95_ms']:.2f} | {r['bare_p50_ms']:.2f} "
            f"| {r['bare_p95_ms']:.2f} | {r['ratio_p50']:.2f} | {r['handler_cpu_ms']:.2f} | {r['bare_cpu_ms']:.2f} "
            f"| {r['cpu_ratio']:.2f} | {calls} | {r['write_round_trips']:g} | {r['bare_calls']} |"
        )
    lines += partners.sweep_report(sweeps["lapse"])
    lines += referrals.reminder_report(sweeps["reminders"])
    lines += standards.report(sweeps["standards"])
    lines += payouts.cascade_report(sweeps["cascade"])
    lines += dispatcher.dispatch_report(sweeps["dispatch"])
    lines += integrations.report(sweeps["integrations"])
    lines += ["", "| handler module | import ms | its libraries alone ms | ratio |", "|---|---|---|---|"]
    for r in imports:
        lines.append(f"| {r['module']} | {r['handler_ms']:.0f} | {r['libraries_ms']:.0f} | {r['ratio']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    # The handlers print their metrics (EMF) as in Lambda; send them to /dev/null, not to a slow terminal.
    moto = MotoServer().start()
    twilio = FakeTwilio(TWILIO_ACCOUNT_SID, referrals.AUTH_TOKEN).start()
    try:
        with DynamoDBLocal() as dynamodb, open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            latency, sweeps = run_latency(dynamodb.endpoint, moto.endpoint, twilio)
    finally:
        twilio.stop()
        moto.stop()
    imports = run_imports()
    cold = run_cold_init()
    text = report(latency, sweeps, imports) + cold_init.report(cold)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(text)
    (RESULTS / "latest.json").write_text(
        json.dumps({"latency": latency, "sweeps": sweeps, "imports": imports, "cold_init": cold}, indent=2)
    )
    print(text)


if __name__ == "__main__":
    main()
