"""One pagination convention on every listing, over HTTP: pages of exactly `limit` items but the last, every
item exactly once, no empty page after a cursor, the last page's cursor null; `limit` on every listing of the
published document; queued leads in queue order (by priority, then readiness)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from common.money.ledger import NEXT_CURSOR_HEADER
from common.money.plans import plan_key
from common.partners.partner_records import PartnerStatus, node_item
from common.platform import clock, db

from local.stack import LocalStack
from tests.integration.support.actors import Actor, lead, new_organisation

# Items each listing below is given; the limits walk it in pages that divide it exactly, and that do not.
N = 6
LIMITS = (1, 2, 3, 4, N, N + 1)
JSON_LISTING_MAX, EXPORT_PATHS = 100, ("/export",)
# How a listing's summary or description says its order ("newest first", "by name", "in structure order").
ORDER_WORDS = (" first", " by ", " order")


def next_page_follows(pages: list[list[Any]], page: list[Any], cursor: str | None, limit: int, path: str) -> bool:
    """Checks one page against the convention and keeps it in `pages`: whether a cursor names a next page."""
    assert len(page) <= limit
    if cursor is not None:
        assert len(page) == limit, f"{path}: a page before the last holds `limit` items"
    if pages:
        assert page, f"{path}: a page after a cursor is never empty"
    pages.append(page)
    assert len(pages) <= 2 * N, f"{path}: the cursor does not move on"
    return cursor is not None


def walk(actor: Actor, path: str, limit: int, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of a JSON listing, checking the convention on the way."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        answer = actor.get(path, params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) >= {"items", "next_cursor"}
        items, cursor = body["items"], body["next_cursor"]
        if not next_page_follows(pages, items, cursor, limit, path):
            return pages


def walk_csv(actor: Actor, path: str, limit: int) -> list[list[dict[str, str]]]:
    """Every page of a CSV export: the cursor in its header, absent on the last page."""
    pages: list[list[dict[str, str]]] = []
    cursor: str | None = None
    while True:
        answer = actor.get(path, params={"limit": limit, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        header, *rows = list(csv.reader(io.StringIO(answer.text)))
        page = [dict(zip(header, row, strict=True)) for row in rows]
        cursor = answer.headers.get(NEXT_CURSOR_HEADER)
        if not next_page_follows(pages, page, cursor, limit, path):
            return pages


def assert_each_once(
    pages: list[list[dict[str, Any]]], key: str, expected: list[str], limit: int, *, ordered: bool
) -> None:
    seen = [item[key] for page in pages for item in page]
    if ordered:
        assert seen == expected, f"limit {limit}: every item exactly once, in the listing's order"
    else:
        assert sorted(seen) == sorted(expected), f"limit {limit}: every item exactly once"
    assert len(pages) == max(1, -(-len(expected) // limit))


def assert_limit_is_checked(actor: Actor, path: str) -> None:
    for bad in ("0", "101", "x"):
        refused = actor.get(path, params={"limit": bad})
        assert refused.status_code == 422, (path, bad, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in refused.json()["errors"]] == ["query.limit"], refused.text


def check_listing(actor: Actor, path: str, key: str, expected: list[str], *, ordered: bool, **params: Any) -> None:
    """Walk the listing at every limit (`expected` in the listing's order when `ordered`); bad limits refused."""
    for limit in LIMITS:
        assert_each_once(walk(actor, path, limit, **params), key, expected, limit, ordered=ordered)
    assert_limit_is_checked(actor, path)


def add_plan(org_id: str) -> None:
    version = {"version": 1, "effective_from": clock.now_iso(), "created_at": clock.now_iso(), "created_by": "x"}
    db.put(
        {
            **plan_key(org_id),
            "entity": "commission_plan",
            "org_id": org_id,
            "currency": "EUR",
            "version_count": 1,
            "versions": [{**version, "levels": [{"level": 1, "rule": "fixed", "amount": 1000, "cap": None}]}],
        }
    )


def add_partner(org_id: str, status: PartnerStatus = PartnerStatus.LIVE) -> str:
    partner_id = f"p-{uuid.uuid4().hex}"
    details: dict[str, Any] = {
        "first_name": "Pat",
        "last_name": "Partner",
        "email": f"{partner_id}@it.example",
        "phone": None,
    }
    db.put(node_item(org_id=org_id, partner_id=partner_id, status=status, origin="added", actor="system", **details))
    return partner_id


def test_members_come_in_pages(stack: LocalStack) -> None:
    fresh = new_organisation(stack, reps=0)
    path = f"/orgs/{fresh.org_id}/members"
    for n in range(N - 2):  # the admin and the supervisor are members already
        added = fresh.admin.put(f"{path}/member-{n}-{uuid.uuid4().hex[:8]}", {"permissions": ["leads:request"]})
        assert added.status_code == 200, added.text
    members = [m["user_id"] for m in fresh.admin.get(path, params={"limit": 100}).json()["items"]]
    assert len(members) == N
    check_listing(fresh.admin, path, "user_id", sorted(members), ordered=True)  # by user id


def test_partners_by_status_and_the_structure_with_archived_ones_filtered_out(stack: LocalStack) -> None:
    org = new_organisation(stack, reps=0)
    # Archived partners sit among the others in the structure, which a filter leaves them out of.
    live, archived = [], []
    for _ in range(N):
        live.append(add_partner(org.org_id))
        archived += [add_partner(org.org_id, PartnerStatus.ARCHIVED), add_partner(org.org_id, PartnerStatus.ARCHIVED)]
    path = f"/orgs/{org.org_id}/partners"
    check_listing(org.admin, path, "partner_id", live, ordered=False, status="LIVE")
    check_listing(org.admin, path, "partner_id", archived, ordered=False, status="ARCHIVED")
    check_listing(org.admin, path, "partner_id", live, ordered=False)


def test_an_activity_with_back_dated_contacts_comes_in_pages(stack: LocalStack) -> None:
    org = new_organisation(stack, reps=0)
    partner_id = add_partner(org.org_id)
    path = f"/orgs/{org.org_id}/partners/{partner_id}"
    start = datetime.now(UTC) - timedelta(days=1)
    for n in range(N - 1):  # with the node's "added" entry, N entries
        at = (start + timedelta(minutes=n)).isoformat().replace("+00:00", "Z")
        added = org.admin.post(f"{path}/contacts", {"channel": "phone", "summary": f"call {n}", "at": at})
        assert added.status_code == 201, added.text
    for limit in LIMITS:
        pages = walk(org.admin, f"{path}/activity", limit)
        entries = [(e["kind"], e.get("summary")) for page in pages for e in page]
        # Newest first in the order recorded, whatever the (back-dated) times the contacts carry.
        assert entries == [("contact", f"call {n}") for n in reversed(range(N - 1))] + [("history", None)]
        assert len(pages) == -(-N // limit)
    assert_limit_is_checked(org.admin, f"{path}/activity")


def test_a_lead_history_comes_in_pages(stack: LocalStack) -> None:
    fresh = new_organisation(stack, reps=1)
    rep = fresh.reps[0]
    lead_id = fresh.company.post(fresh.intake_path, lead("HIST-1")).json()["lead_id"]
    for _ in range((N - 1) // 2):  # received, then claimed and requeued each time: N - 1 entries
        assert rep.post(f"/orgs/{fresh.org_id}/lead-queue/claims").json()["lead_id"] == lead_id
        assert rep.post(f"/orgs/{fresh.org_id}/leads/{lead_id}/requeue", {}).status_code == 200
    assert rep.post(f"/orgs/{fresh.org_id}/lead-queue/claims").status_code == 200  # the N-th
    path = f"/orgs/{fresh.org_id}/leads/{lead_id}/history"
    for limit in LIMITS:
        pages = walk(fresh.admin, path, limit)
        actions = [e["action"] for page in pages for e in page]
        assert actions == ["claimed"] + ["requeued", "claimed"] * ((N - 1) // 2) + ["received"]
        assert len(pages) == -(-N // limit)
    assert_limit_is_checked(fresh.admin, path)


def test_deals_come_newest_first_in_pages(stack: LocalStack) -> None:
    fresh = new_organisation(stack, reps=0)
    created = fresh.admin.post(f"/orgs/{fresh.org_id}/workflows", {"name": "Loans", "stages": [{"name": "New"}]})
    assert created.status_code == 201, created.text
    contact = {"first_name": "Jane", "last_name": "Doe", "email": "jane@customer.example", "phone": "+1 555 0100"}
    deals = []
    for _ in range(N):
        deal = fresh.admin.post(
            f"/orgs/{fresh.org_id}/deals", {"workflow_id": created.json()["workflow_id"], "contacts": [contact]}
        )
        assert deal.status_code == 201, deal.text
        deals.append(deal.json()["deal_id"])
    check_listing(fresh.admin, f"/orgs/{fresh.org_id}/deals", "deal_id", deals[::-1], ordered=True)  # newest first


def test_wallet_entries_and_the_ledger_exports_come_in_pages(stack: LocalStack) -> None:
    fresh = new_organisation(stack, reps=0)
    add_plan(fresh.org_id)
    alice, bob = add_partner(fresh.org_id), add_partner(fresh.org_id)
    amounts = {alice: [10 + n for n in range(N - 2)], bob: [100, 200]}
    entries = []
    for partner_id, partner_amounts in amounts.items():
        for amount in partner_amounts:
            corrected = fresh.admin.post(
                f"/orgs/{fresh.org_id}/wallets/{partner_id}/corrections", {"amount": amount, "reason": "goodwill"}
            )
            assert corrected.status_code == 201, corrected.text
            entries.append(corrected.json()["entry_id"])
    alice_entries = entries[: N - 2]
    entries_path = f"/orgs/{fresh.org_id}/wallets/{alice}/entries"
    check_listing(fresh.admin, entries_path, "entry_id", alice_entries[::-1], ordered=True)  # newest first
    for limit in LIMITS:
        pages = walk_csv(fresh.admin, f"/orgs/{fresh.org_id}/ledger/export", limit)
        assert [row["entry_id"] for page in pages for row in page] == entries  # oldest first
        assert len(pages) == -(-N // limit)
    wallet_export = f"/orgs/{fresh.org_id}/wallets/{alice}/export"
    assert [row["entry_id"] for page in walk_csv(fresh.admin, wallet_export, N - 2) for row in page] == alice_entries
    for bad in ("0", "5001", "x"):
        refused = fresh.admin.get(wallet_export, params={"limit": bad})
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["query.limit"]


def test_queued_leads_come_by_priority_then_readiness(stack: LocalStack) -> None:
    fresh = new_organisation(stack, reps=1, queue_priority="normal")
    rep = fresh.reps[0]

    def enter(priority: str, **fields: Any) -> str:
        body = {
            "contact_name": "Walk-in",
            "phone": "+1 555 0199",
            "location": "queue",
            "priority": priority,
            "source_id": "self-generated",
        }
        entered = rep.post(f"/orgs/{fresh.org_id}/leads", {**body, **fields})
        assert entered.status_code == 201, entered.text
        return str(entered.json()["lead_id"])

    deferred_high = enter("high", contact_not_before="2099-01-01T00:00:00Z")
    normal_1 = fresh.company.post(fresh.intake_path, lead("PRIO-1")).json()["lead_id"]
    medium_1 = enter("medium")
    high_1 = enter("high")
    normal_2 = enter("normal")
    high_2 = enter("high")
    expected = [high_1, high_2, deferred_high, medium_1, normal_1, normal_2]
    path = f"/orgs/{fresh.org_id}/leads"
    for limit in LIMITS:
        pages = walk(fresh.admin, path, limit, status="queued")
        listed = [item["lead_id"] for page in pages for item in page]
        assert listed == expected, limit
        assert [item["priority"] for page in pages for item in page] == ["high"] * 3 + ["medium"] + ["normal"] * 2
    # A rep claims the queue's head: the listing shows the leads in the order they would be handed out.
    assert rep.post(f"/orgs/{fresh.org_id}/lead-queue/claims").json()["lead_id"] == high_1
    assert_limit_is_checked(fresh.admin, path)


def document_schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_every_listing_in_the_document_takes_a_limit(stack: LocalStack) -> None:
    document = requests.get(f"{stack.url}/openapi.json", timeout=30).json()
    listings, defaults = [], set()
    for path, item in document["paths"].items():
        operation = item.get("get")
        if operation is None:
            continue
        query = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
        if "cursor" not in query:
            continue
        listings.append(path)
        told = f"{operation.get('summary', '')} {operation.get('description', '')}".lower()
        assert any(word in told for word in ORDER_WORDS), f"GET {path} does not say its order"
        assert "limit" in query, f"GET {path} takes a cursor but no limit"
        schema = query["limit"]["schema"]
        assert schema.get("minimum") == 1, path
        if not path.endswith(EXPORT_PATHS):
            assert schema.get("maximum") == JSON_LISTING_MAX, path
            defaults.add(schema.get("default"))
            answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
            for view in answer.get("anyOf", [answer]):  # callers who get different views: each view is a page
                page = document_schema(document, view)
                assert {"items", "next_cursor"} <= set(page.get("properties", {})), f"GET {path} answers no page"
                assert page["properties"]["next_cursor"].get("anyOf"), f"GET {path}: next_cursor may be null"
    assert len(listings) > 30
    assert len(defaults) == 1, f"one default page size for JSON listings, not {defaults}"
