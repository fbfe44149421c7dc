"""The benchmark keeps working, and the round trips it counts hold: one write per command. Only counts
are asserted here; timings are reported by `make bench`, never tested."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_benchmark_run_counts_one_write_per_command(tmp_path: Path) -> None:
    env = os.environ | {
        "BENCH_ITERATIONS": "8",
        "BENCH_IMPORT_RUNS": "1",
        "BENCH_RESULTS_DIR": str(tmp_path),
        "BENCH_SWEEP_ROUNDS": "1",
        "BENCH_CASCADE_CHANGES": "20",
    }
    subprocess.run([sys.executable, "-m", "bench.run"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    results = json.loads((tmp_path / "latest.json").read_text())
    rows = {row["operation"]: row for row in results["latency"]}
    assert len(rows) == 6
    for name, row in rows.items():
        # The webhook writes the MessageSid record before acting and the reply after: 3 writes.
        expected_writes = 0 if name.startswith("lead listing") else 3 if name.startswith("SMS webhook") else 1
        assert row["write_round_trips"] == expected_writes, (name, row["round_trips"])
    assert rows["queue claim (only normal-priority leads)"]["round_trips"]["Query"] == 1
    assert rows["partner deal creation (POST portal deal)"]["round_trips"] == {
        "BatchGetItem": 1,
        "GetItem": 1,
        "TransactWriteItems": 1,
    }
    # The sweep's reads grow with the partners due (100 of 10,000), not with all partners.
    sweep = results["sweeps"]["lapse"]
    assert sweep["partners"] == 10_000 and sweep["due"] == 100
    assert sweep["handler_items_read"] == 100 and set(sweep["lapsed_per_run"]) == {100}
    assert {row["module"] for row in results["imports"]} == {
        "leads.api",
        "leads.events",
        "authorizer.handler",
        "partners.api",
        "partners.events",
        "status_sweep.handler",
        "referrals.api",
        "referrals.webhook",
        "payouts.api",
        "payouts.events",
    }
    # The reminder sweep reads the due customers (100 of 10,000), not the whole list, and reminds once a day.
    reminders = results["sweeps"]["reminders"]
    assert reminders["customers"] == 10_000 and reminders["due"] == 100
    assert reminders["counts"]["reminded"] == 100 and reminders["second_run"]["reminded"] == 0
    assert reminders["counts"]["items_read"] <= 110
    # The commission cascade: per deal change two reads (the credited partner, plan and record; the upline)
    # and one transaction, every level of every change paid, no record failed.
    cascade = results["sweeps"]["cascade"]
    assert cascade["changes"] == 20 and cascade["batch_item_failures"] == 0
    assert cascade["round_trips"] == {"BatchGetItem": 2, "TransactWriteItems": 1}
    assert cascade["paid_entries"] == 20 * cascade["levels"] == 100
    assert (tmp_path / "latest.md").read_text().startswith("# Benchmark results")
