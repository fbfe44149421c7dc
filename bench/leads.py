"""The leads side of `make bench`: a partner company posting a lead, a member claiming the next lead of the
queue (a high-priority one ready, or only normal-priority ones, or with queue hours and a hold set), a
member listing 25 leads, and a member selling one lead to a company that buys leads, each next to the bare
DynamoDB calls it needs."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bench.measure import Case, Operation

REP = "bench-rep"


def _lead_body(i: int, prefix: str) -> dict[str, Any]:
    return {
        "external_id": f"{prefix}-{i}",
        "contact_name": "Bench Contact",
        "phone": "+15550100",
        "email": "contact@bench.example",
        "notes": "bench",
    }


def cases(raw: Any, table: str, org_id: str, admin: str, iterations: int) -> list[Case]:
    """The organisation's leads side set up (a member who requests leads, a company selling leads into the
    queue with its machine client), then the cases in the order they are measured: each leaves the queue as
    the next expects it."""
    from common.leads import companies, intake, queue, queue_settings, sources
    from common.leads.model import external_id_key
    from common.orgs import organisations
    from common.orgs.access import Permission, member_from_item
    from common.platform import clock, db

    from tests.support import FakeContext, http_event

    api = __import__("leads.api", fromlist=["lambda_handler"])
    context = FakeContext()

    owner = member_from_item(db.get({"pk": f"ORG#{org_id}", "sk": f"MEMBER#{admin}"}) or {})
    organisations.put_member(org_id, owner, REP, organisations.MembershipChange(permissions=[Permission.REQUEST_LEADS]))
    company = companies.create_company(
        org_id,
        companies.NewCompany(
            name="Bench seller",
            sells_leads=True,
            default_lead_location=companies.LeadLocation.QUEUE,
            queue_priority=companies.QueuePriority.HIGH,
        ),
        admin,
    )
    company_id = company["company_id"]
    companies.attach_client(org_id, company_id, "bench-client")
    company = companies.get_company(org_id, company_id)
    member_key = db.serialize({"pk": f"ORG#{org_id}", "sk": f"MEMBER#{REP}"})
    company_key = db.serialize(companies.company_key(org_id, company_id))

    intake_path = f"/orgs/{org_id}/partner-companies/{company_id}/leads"

    def handler_intake(i: int) -> None:
        response = api.lambda_handler(
            http_event("POST", intake_path, machine="bench-client", body=_lead_body(i, "H")), context
        )
        assert response["statusCode"] == 201, response

    def bare_intake(i: int) -> None:
        # The minimum: read the company (settings, credentials), then lead + external-id guard in one
        # transaction.
        raw.get_item(TableName=table, Key=company_key)
        item = intake._new_lead_item(
            org_id,
            intake.IntakeLead(**_lead_body(i, "B")),
            location=companies.LeadLocation.QUEUE,
            priority=companies.QueuePriority.HIGH,
            contact_not_before=None,
            source={"kind": "partner_company", "company_id": company_id, "external_id": f"B-{i}"},
            actor="bench",
        )
        guard = {**external_id_key(org_id, company_id, f"B-{i}"), "lead_id": item["lead_id"]}
        raw.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": db.serialize(item),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": table,
                        "Item": db.serialize(guard),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )

    claim_path = f"/orgs/{org_id}/lead-queue/claims"

    def handler_claim(_: int) -> None:
        response = api.lambda_handler(http_event("POST", claim_path, user=REP), context)
        assert response["statusCode"] == 200, response

    settings_key = db.serialize(queue_settings.settings_key(org_id))

    def bare_claim_from(rank: int) -> Operation:
        def bare_claim(_: int) -> None:
            # The minimum: the caller's membership and the queue settings (whether saved or not) in one
            # BatchGetItem, the head of the ready queue, one conditional update.
            keys = {"Keys": [member_key, settings_key], "ConsistentRead": True}
            raw.batch_get_item(RequestItems={table: keys})
            now = clock.now_iso()
            head = raw.query(
                TableName=table,
                IndexName="gsi3",
                KeyConditionExpression="gsi3pk = :pk AND gsi3sk BETWEEN :first AND :last",
                ExpressionAttributeValues={
                    ":pk": {"S": f"ORG#{org_id}#QUEUE"},
                    ":first": {"S": f"{rank}#"},
                    ":last": {"S": f"{rank}#{now}#~"},
                },
                Limit=10,
            )["Items"][0]
            raw.update_item(
                TableName=table,
                Key={"pk": head["pk"], "sk": head["sk"]},
                UpdateExpression="SET #s = :a, assignee = :u REMOVE gsi3pk, gsi3sk",
                ConditionExpression="#s = :q",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":a": {"S": "assigned"}, ":u": {"S": REP}, ":q": {"S": "queued"}},
            )

        return bare_claim

    def only_normal_leads() -> None:
        while queue.claim_next(org_id, owner) is not None:
            pass  # drain what the previous case left
        fill_queue(companies.QueuePriority.NORMAL, 2 * iterations + 10)

    def fill_queue(priority: companies.QueuePriority, count: int) -> None:
        for _ in range(count):
            intake.enter_lead(
                org_id,
                owner,
                intake.ManualLead(
                    contact_name="Walk-in",
                    source_id=sources.SELF_GENERATED,
                    phone="+15550100",
                    location=companies.LeadLocation.QUEUE,
                    priority=priority,
                ),
            )

    def hours_and_hold_set() -> None:
        # Queue hours open now in the leads' zone (the fallback, UTC) and a hold after put-backs: the claim
        # reads the settings with the membership and checks each candidate's hours.
        opened = clock.now() - timedelta(hours=1)
        hours = queue_settings.QueueHours.model_validate(
            {"from": f"{opened:%H:%M}", "until": f"{opened + timedelta(hours=12):%H:%M}"}
        )
        change = queue_settings.QueueSettingsChange(put_back_hold_minutes=30, queue_hours=hours)
        queue_settings.save_settings(org_id, owner, change)
        fill_queue(companies.QueuePriority.HIGH, 2 * iterations + 10)

    list_path = f"/orgs/{org_id}/leads"
    organisations.put_member(
        org_id,
        owner,
        REP,
        organisations.MembershipChange(permissions=[Permission.REQUEST_LEADS, Permission.MANAGE_LEADS]),
    )

    def handler_list(_: int) -> None:
        response = api.lambda_handler(
            http_event("GET", list_path, user=REP, query={"status": "assigned", "limit": "25"}), context
        )
        assert response["statusCode"] == 200 and len(json.loads(response["body"])["items"]) == 25, response

    def bare_list(_: int) -> None:
        raw.get_item(TableName=table, Key=member_key, ConsistentRead=True)
        raw.query(
            TableName=table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"ORG#{org_id}#LEADS#assigned"}},
            ScanIndexForward=False,
            Limit=25,
        )

    sale = _sale_case(raw, table, org_id, admin, iterations)
    return [
        ("lead intake (POST lead)", handler_intake, bare_intake, "GetItem + TransactWriteItems", lambda: None),
        # The intake case left 2 x iterations high-priority leads queued; top them up for the warm-up claim.
        (
            "queue claim (high-priority lead ready)",
            handler_claim,
            bare_claim_from(1),
            "BatchGetItem + Query + UpdateItem",
            lambda: fill_queue(companies.QueuePriority.HIGH, 10),
        ),
        (
            "queue claim (only normal-priority leads)",
            handler_claim,
            bare_claim_from(3),
            "BatchGetItem + Query + UpdateItem",
            only_normal_leads,
        ),
        (
            "queue claim (queue hours and hold set)",
            handler_claim,
            bare_claim_from(1),
            "BatchGetItem + Query + UpdateItem",
            hours_and_hold_set,
        ),
        ("lead listing (25 leads)", handler_list, bare_list, "GetItem + Query", lambda: None),
        sale,
    ]


def _sale_case(raw: Any, table: str, org_id: str, admin: str, iterations: int) -> Case:
    """A member (the admin: every permission) sells one pending lead per call to a company that buys leads;
    each side sells leads of its own."""
    from common.leads import companies, intake
    from common.platform import clock, db

    from tests.support import FakeContext, http_event

    api = __import__("leads.api", fromlist=["lambda_handler"])
    context = FakeContext()
    buyer = companies.create_company(org_id, companies.NewCompany(name="Bench buyer"), admin)["company_id"]
    side = {"method": "post", "post_url": "https://buyer.bench.example/leads", "source_id": "BENCH"}
    db.update(
        companies.company_key(org_id, buyer),
        expression="SET buys_leads = :on, lead_sale = :side",
        values={":on": True, ":side": side},
    )
    member_key = db.serialize({"pk": f"ORG#{org_id}", "sk": f"MEMBER#{admin}"})
    company_key = db.serialize(companies.company_key(org_id, buyer))
    leads: dict[str, list[str]] = {"handler": [], "bare": []}

    def pending_leads() -> None:
        for side_leads in leads.values():
            for _ in range(iterations + 2):
                item = intake._new_lead_item(
                    org_id,
                    intake.IntakeLead(**_lead_body(0, "S")),
                    location=companies.LeadLocation.PENDING,
                    priority=companies.QueuePriority.NORMAL,
                    contact_not_before=None,
                    source={"kind": "manual", "entered_by": admin},
                    actor="bench",
                )
                db.put(item)
                side_leads.append(item["lead_id"])

    def handler_sale(i: int) -> None:
        body = {"company_id": buyer, "lead_ids": [leads["handler"][i]]}
        response = api.lambda_handler(http_event("POST", f"/orgs/{org_id}/lead-sales", user=admin, body=body), context)
        assert response["statusCode"] == 200 and json.loads(response["body"])["sold"] == 1, response

    def bare_sale(i: int) -> None:
        # The minimum: the caller's membership, the buying company, one conditional update of the lead.
        raw.get_item(TableName=table, Key=member_key, ConsistentRead=True)
        raw.get_item(TableName=table, Key=company_key)
        lead_id = leads["bare"][i]
        raw.update_item(
            TableName=table,
            Key=db.serialize({"pk": f"ORG#{org_id}#LEAD#{lead_id}", "sk": "LEAD"}),
            UpdateExpression="SET #s = :sold, sale = :sale, gsi1pk = :g1 REMOVE gsi3pk, gsi3sk",
            ConditionExpression="#s IN (:pending, :queued) AND attribute_not_exists(sale)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=db.serialize_values(
                {
                    ":sold": "sold",
                    ":sale": {"sale_id": lead_id, "company_id": buyer, "sold_at": clock.now_iso(), "method": "post"},
                    ":g1": f"ORG#{org_id}#LEADS#sold",
                    ":pending": "pending",
                    ":queued": "queued",
                }
            ),
        )

    return (
        "lead sale (POST lead-sales, one lead)",
        handler_sale,
        bare_sale,
        "GetItem + GetItem + UpdateItem",
        pending_leads,
    )
