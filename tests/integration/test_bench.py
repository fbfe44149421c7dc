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
        # A fifth of the benchmark's populations: the sweeps' reads must still follow the 100 due, not them.
        "BENCH_SWEEP_PARTNERS": "2000",
        "BENCH_REMINDER_CUSTOMERS": "2000",
        "BENCH_CASCADE_CHANGES": "20",
        "BENCH_DISPATCH_ROUNDS": "2",
        "BENCH_EVENT_CHANGES": "10",
        "BENCH_DELIVERIES": "12",
        "BENCH_STANDARDS_TEAMS": "100",
        "BENCH_STANDARDS_OFFERS": "10000",
        "BENCH_COLD_INIT_RUNS": "0",  # its mechanics are tested below, without building the layer's twin
    }
    subprocess.run([sys.executable, "-m", "bench.run"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)
    results = json.loads((tmp_path / "latest.json").read_text())
    rows = {row["operation"]: row for row in results["latency"]}
    assert len(rows) == 9
    for name, row in rows.items():
        # The webhook writes the MessageSid record before acting and the reply after: 3 writes.
        expected_writes = 0 if name.startswith("lead listing") else 3 if name.startswith("SMS webhook") else 1
        assert row["write_round_trips"] == expected_writes, (name, row["round_trips"])
        # CPU time per operation on both sides (Lambda bills CPU, not DynamoDB Local's wait).
        assert row["handler_cpu_ms"] > 0 and row["bare_cpu_ms"] > 0, name
    assert rows["queue claim (only normal-priority leads)"]["round_trips"]["Query"] == 1
    # With queue hours set the claim still reads once before its query: the settings come with the membership.
    assert rows["queue claim (queue hours and hold set)"]["round_trips"] == {
        "BatchGetItem": 1,
        "Query": 1,
        "UpdateItem": 1,
    }
    # A sale: the membership, the buying company, one conditional write of the lead.
    assert rows["lead sale (POST lead-sales, one lead)"]["round_trips"] == {"GetItem": 2, "UpdateItem": 1}
    assert rows["partner deal creation (POST portal deal)"]["round_trips"] == {
        "BatchGetItem": 1,
        "GetItem": 1,
        "TransactWriteItems": 1,
    }
    # A closing: the caller, the customer, the closing (a redelivery finds it), the agreement in force (the
    # team's, then the organisation's), the team's balance; one transaction of all it writes.
    assert rows["team customer closed with its closing (the fee, its ledger entry)"]["round_trips"] == {
        "BatchGetItem": 1,
        "GetItem": 3,
        "Query": 2,
        "TransactWriteItems": 1,
    }
    # The daily standards work reads the teams' day counts, never the offers: no more items than its bare reads.
    standards = results["sweeps"]["standards"]
    assert standards["teams"] == 100 and standards["offers"] == 10_000
    assert standards["work_items_read"] <= standards["bare_items_read"] < standards["offers"]
    # The sweep's reads grow with the partners due (100 of 2,000), not with all partners.
    sweep = results["sweeps"]["lapse"]
    assert sweep["partners"] == 2_000 and sweep["due"] == 100
    assert sweep["handler_items_read"] == 100 and set(sweep["lapsed_per_run"]) == {100}
    assert {row["module"] for row in results["imports"]} == {
        "leads.api",
        "leads.events",
        "authorizer.handler",
        "stream_dispatcher.handler",
        "partners.api",
        "partners.events",
        "status_sweep.handler",
        "status_sweep.work",
        "referrals.api",
        "referrals.webhook",
        "payouts.api",
        "payouts.events",
        "integrations.api",
        "integrations.events",
        "integrations.delivery",
    }
    # The reminder sweep reads the due customers (100 of 2,000), not the whole list, and hands them on: four
    # messages of 25 reminders and the team's digest. Their work reminds each once a day, reading the
    # customers again with their team and the day's notices, and the assignee (the digest: the 50 oldest).
    reminders = results["sweeps"]["reminders"]
    assert reminders["customers"] == 2_000 and reminders["due"] == 100
    assert reminders["counts"]["due"] == 100 and reminders["counts"]["items_read"] <= 110
    assert reminders["counts"]["handed_on"] == reminders["second_run"]["handed_on"] == 5
    assert reminders["work"]["reminded"] == 100 and reminders["second_run_work"]["reminded"] == 0
    assert reminders["work"]["digests"] == 1 and reminders["second_run_work"]["digests"] == 0
    assert reminders["work"]["failed"] == reminders["second_run_work"]["failed"] == 0
    assert reminders["work"]["items_read"] <= 2 * 100  # the second run reads the day's notices too
    assert reminders["texts_sent"] == 101
    # The commission cascade: per deal change two reads (the credited partner, plan and record; the upline)
    # and one transaction, every level of every change paid, no record failed.
    cascade = results["sweeps"]["cascade"]
    assert cascade["changes"] == 20 and cascade["batch_item_failures"] == 0
    assert cascade["round_trips"] == {"BatchGetItem": 2, "TransactWriteItems": 1}
    assert cascade["paid_entries"] == 20 * cascade["levels"] == 100
    assert (tmp_path / "latest.md").read_text().startswith("# Benchmark results")
    assert results["cold_init"] == {"runs": 0, "rows": []}
    # The dispatcher sends a batch's 210 messages (60 leads, to two queues; 30 deals, to three) ten to a call,
    # per queue.
    dispatch = results["sweeps"]["dispatch"]
    assert dispatch["messages_per_batch"] == 210 and dispatch["failures"] == 0
    assert dispatch["sqs_calls_per_batch"] == {"SendMessageBatch": 21}
    # Each change's event: the endpoints queried, the event and the delivery put, the delivery's message sent.
    events = results["sweeps"]["integrations"]["events"]
    assert events["changes"] == events["deliveries_created"] == 10 and events["batch_item_failures"] == 0
    assert events["round_trips"] == {"GetItem": 1, "PutItem": 2, "Query": 1}
    assert events["sqs_calls"] == {"SendMessageBatch": 1}
    # Each delivery message one attempt: succeeded, received exactly once, signed as the Standard Webhooks
    # library verifies; the delivery, its endpoint and its event read, a slot and the lease taken, the attempt
    # recorded, the slot given back; a success sends no further message.
    sent = results["sweeps"]["integrations"]["deliveries"]
    assert sent["deliveries"] == sent["succeeded"] == sent["received_once"] == sent["bare_received_once"] == 12
    assert sent["batch_item_failures"] == 0
    assert sent["verified"] == sent["received"] == 2 * 12 + sent["warm"]  # both sides, and the handler's warm-up
    assert sent["round_trips"] == {"GetItem": 3, "UpdateItem": 4}
    assert sent["sqs_calls"] == {}


def test_cold_init_imports_from_read_only_copies_of_the_layer_alone(tmp_path: Path) -> None:
    from bench import cold_init
    from infra import build_layer

    site = tmp_path / "python"
    (site / "layered").mkdir(parents=True)
    (site / "layered" / "__init__.py").write_text("VALUE = 1\n")
    target = build_layer.host_target()
    build_layer.compile_bytecode(target, site)

    with cold_init.read_only_trees(site, tmp_path / "trees") as trees:
        pyc, source = trees["pyc"] / "python" / "layered", trees["source"] / "python" / "layered"
        assert list((pyc / "__pycache__").glob(f"__init__.{sys.implementation.cache_tag}.pyc"))
        assert not (source / "__pycache__").exists()
        assert not os.stat(pyc / "__init__.py").st_mode & 0o222
        for tree in trees.values():
            assert cold_init.init_seconds(tree, "import layered; assert layered.VALUE == 1", {}) > 0
            # Only the layer and the functions are on the path: not this environment's packages.
            with pytest.raises(subprocess.CalledProcessError):
                cold_init.init_seconds(tree, "import pytest", {})
        assert not (source / "__pycache__").exists()
    assert not (tmp_path / "trees").exists()
