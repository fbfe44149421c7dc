"""The partner teams' daily standards computation for `make bench`: 1,000 teams whose members were offered
100,000 referral requests over the window (the offers themselves in the table, with the day counts they
left), 2 open customers per team; the standards part of the StatusSweep (what it reads and hands on) and the
work of each message (the compliance sample, then each team's rates, current rates and flags), side by side
with the bare reads it needs: the organisation's team listing, its open customers (the due index) and one
Query per team of its day counts over the window. Items returned by DynamoDB Queries are counted on each
side: the computation never reads an offer.

`python -m bench.standards` runs this row alone against DynamoDB Local (BENCH_STANDARDS_TEAMS and
BENCH_STANDARDS_OFFERS scale it down)."""

from __future__ import annotations

import os
import statistics
import time
from datetime import timedelta
from typing import Any

TEAMS = int(os.environ.get("BENCH_STANDARDS_TEAMS", "1000"))
OFFERS = int(os.environ.get("BENCH_STANDARDS_OFFERS", "100000"))
# Each request is texted to two members; a team's requests spread over this many days of the window.
MEMBERS_PER_TEAM = 2
OFFER_DAYS = 30
OPEN_CUSTOMERS_PER_TEAM = 2


def _seed(raw: Any, table: str, org_id: str) -> tuple[list[str], float]:
    """The teams, their offers, the day counts those offers left, and their open customers."""
    from common.platform import clock
    from common.teams import team_customers, team_stats
    from common.teams.membership import teams_listing
    from common.teams.team_model import offer_key, team_key, team_org_key

    from bench.partners import _write_all

    started = time.perf_counter()
    now = clock.now()
    team_ids = [f"BENCHTEAM{n:017d}" for n in range(TEAMS)]
    per_team = max(1, OFFERS // TEAMS)
    items: list[dict[str, Any]] = [{**team_org_key(org_id), "entity": "team_org", "org_id": org_id}]
    for n, team_id in enumerate(team_ids):
        members = [f"bench-m{n}-{k}" for k in range(MEMBERS_PER_TEAM)]
        items.append(
            {
                **team_key(org_id, team_id),
                "entity": "team",
                "org_id": org_id,
                "team_id": team_id,
                "name": f"Team {n:04d}",
                "leader_id": members[0],
                "version": 1,
                "gsi1pk": teams_listing(org_id),
                "gsi1sk": f"team {n:04d}#{team_id}",
            }
        )
        days: dict[str, dict[str, int]] = {}
        for o in range(per_team):
            day = (now - timedelta(days=1 + o % OFFER_DAYS)).date().isoformat()
            user = members[o % MEMBERS_PER_TEAM]
            request_id = f"BENCHREQ{n:08d}{o:010d}"
            opened = o % 4 != 0
            items.append(
                {
                    **offer_key(org_id, request_id, user),
                    "entity": "referral_offer",
                    "org_id": org_id,
                    "team_id": team_id,
                    "user_id": user,
                    "status": "delivered",
                    "message_sid": f"SM{o:032d}",
                    "offered_at": f"{day}T10:00:00.000Z",
                    **({"opened_at": f"{day}T11:00:00.000Z"} if opened else {}),
                }
            )
            counts = days.setdefault(day, dict.fromkeys(team_stats.COUNTERS, 0))
            counts["offered"] += 1
            counts["opened"] += opened
            counts["attempted"] += o % 2
        for day, counts in days.items():
            items.append(
                {
                    **team_stats.team_day_key(org_id, team_id, day),
                    "entity": team_stats.ENTITY,
                    "org_id": org_id,
                    "team_id": team_id,
                    "day": day,
                    **counts,
                }
            )
        for c in range(OPEN_CUSTOMERS_PER_TEAM):
            items.append(
                team_customers.new_customer_item(
                    org_id,
                    team_id,
                    customer={"first_name": "Casey", "last_name": f"Customer {c}"},
                    summary="bench",
                    assignee_id=members[c % MEMBERS_PER_TEAM],
                    actor="bench",
                    request_id=f"BENCHCUST{n:08d}{c:09d}",
                )
            )
    _write_all(raw, table, items)
    return team_ids, time.perf_counter() - started


def standards_case(raw: Any, table: str, admin: str) -> dict[str, Any]:
    from common.orgs import organisations
    from common.platform import clock, db
    from common.teams import standards_sweep
    from common.teams.membership import teams_listing
    from common.teams.team_model import due_partition
    from common.teams.team_stats import stats_pk

    from bench.partners import ItemsReturned

    org_id = organisations.create_organisation(organisations.NewOrganisation(name="Bench standards org"), admin)[
        "org_id"
    ]
    team_ids, seed_seconds = _seed(raw, table, org_id)
    jobs = {standards_sweep.SAMPLE_JOB: standards_sweep.sample, standards_sweep.RATES_JOB: standards_sweep.rates}
    counter = ItemsReturned(db.default_client())
    counter.take()
    start = time.perf_counter()
    messages: list[dict[str, Any]] = []
    counts = standards_sweep.hand_on(lambda m: messages.append(m) if m["org_id"] == org_id else None)
    sweep_ms = (time.perf_counter() - start) * 1000
    sweep_items = counter.take()
    start = time.perf_counter()
    work: dict[str, int] = {}
    for message in messages:
        for name, value in jobs[message["job"]](message).as_dict().items():
            work[name] = work.get(name, 0) + value
    work_ms = (time.perf_counter() - start) * 1000
    work_items = counter.take()

    bare_counter = ItemsReturned(raw)
    bare_counter.take()
    today = clock.now().date()
    first, last = (today - timedelta(days=90)).isoformat(), (today - timedelta(days=1)).isoformat()

    def query_all(**args: Any) -> None:
        page: dict[str, Any] = {}
        while True:
            response = raw.query(TableName=table, **args, **page)
            if "LastEvaluatedKey" not in response:
                return
            page = {"ExclusiveStartKey": response["LastEvaluatedKey"]}

    bare_ms: list[float] = []
    for _ in range(3):
        start = time.perf_counter()
        query_all(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": {"S": teams_listing(org_id)}},
        )
        query_all(
            IndexName="gsi3",
            KeyConditionExpression="gsi3pk = :pk",
            ExpressionAttributeValues={":pk": {"S": due_partition(org_id)}},
        )
        for team_id in team_ids:
            query_all(
                KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
                ExpressionAttributeValues={
                    ":pk": {"S": stats_pk(org_id, team_id)},
                    ":first": {"S": f"TEAM#{first}"},
                    ":last": {"S": f"TEAM#{last}"},
                },
            )
        bare_ms.append((time.perf_counter() - start) * 1000)
    return {
        "teams": TEAMS,
        "offers": (OFFERS // TEAMS) * TEAMS,
        "seed_seconds": seed_seconds,
        "sweep_ms": sweep_ms,
        "sweep_items_read": sweep_items,
        "work_ms": work_ms,
        "work_items_read": work_items,
        "handed_on": counts.handed_on,
        "work": work,
        "bare_ms": statistics.median(bare_ms),
        "bare_items_read": bare_counter.take() // len(bare_ms),
    }


def report(case: dict[str, Any]) -> list[str]:
    work = case["work"]
    return [
        "",
        f"Daily standards computation over {case['teams']:,} teams and {case['offers']:,} offers (the offers in "
        "the table; the day counts they left; 2 open customers per team): the sweep's reads and the messages it "
        "hands on, then their work (the compliance sample, each team's rates, current rates and flags), against the "
        "bare reads it needs (the team listing, the due index, one Query of each team's days):",
        "",
        "| side | ms | items the queries returned | messages | samples written | teams flagged |",
        "|---|---|---|---|---|---|",
        f"| sweep (standards part) | {case['sweep_ms']:.0f} | {case['sweep_items_read']} | {case['handed_on']} | | |",
        f"| work of its messages | {case['work_ms']:.0f} | {case['work_items_read']} | | {work.get('sampled', 0)} "
        f"| {work.get('flagged', 0)} |",
        f"| bare reads | {case['bare_ms']:.0f} | {case['bare_items_read']} | | | |",
    ]


def main() -> None:
    import contextlib

    from bench.run import BASE_ENV, TABLE
    from local.dynamodb_local import DynamoDBLocal

    with DynamoDBLocal() as dynamodb:
        os.environ.update(BASE_ENV | {"AWS_ENDPOINT_URL_DYNAMODB": dynamodb.endpoint})
        import boto3
        from common.platform.table_schema import create_table_request

        raw = boto3.client("dynamodb")
        raw.create_table(**create_table_request(TABLE))
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            case = standards_case(raw, TABLE, "bench-admin")
    print("\n".join(report(case)))
    print(f"\n(seeded in {case['seed_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
