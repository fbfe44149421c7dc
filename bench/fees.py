"""The referral-fee side of `make bench`: closing a team customer with its closing (the status route), which
records the closing, computes its fee from the agreement in force at the referral and appends the fee to the
team's receivable ledger in one transaction, next to the bare DynamoDB calls that work needs."""

from __future__ import annotations

from typing import Any

from common.platform import ids

from bench.partners import _write_all
from bench.referrals import _team

SALE_PRICE = 45_000_000
COMMISSION = 1_350_000


def _customers(raw: Any, table: str, org_id: str, team_id: str, leader: str, count: int) -> list[str]:
    """`count` open customers of the team, assigned to its leader, as accepted referrals leave them."""
    from common.teams import team_customers

    made = [ids.new_id() for _ in range(count)]
    items = [
        team_customers.new_customer_item(
            org_id,
            team_id,
            customer={"first_name": "Casey", "last_name": f"Client {i}"},
            summary="3 beds near the schools",
            assignee_id=leader,
            actor=f"user:{leader}",
            request_id=customer_id,
        )
        for i, customer_id in enumerate(made)
    ]
    _write_all(raw, table, items)
    return made


def closing_case(raw: Any, table: str, admin: str, iterations: int) -> tuple[Any, Any]:
    """The handler (referrals API, POST .../customers/{id}/status with `closed` and the closing) as the
    team's leader, against the bare calls: the caller's consistent BatchGetItem (team, team membership,
    staff membership, account), GetItem of the customer, Query of the agreement in force, GetItem of the
    team's balance, and the TransactWriteItems (customer, closing, fee, ledger entry, balance)."""
    from common.orgs.access import member_key
    from common.partners.partner_records import account_key
    from common.platform import clock, db
    from common.teams import fee_model as fm
    from common.teams.team_model import team_customer_key, team_key, team_member_key

    from tests.support import FakeContext, http_event

    api = __import__("referrals.api", fromlist=["lambda_handler"])
    context = FakeContext(function_name="ReferralsApi")
    leader = "bench-fee-leader"
    org_id, team_id = _team(admin, leader, "+15550001001")
    handled = _customers(raw, table, org_id, team_id, leader, iterations + 2)  # and the warm-up call
    bare_customers = _customers(raw, table, org_id, team_id, leader, iterations)
    today = clock.now_iso()[:10]
    closing = {
        "close_date": today,
        "side": "buy",
        "sale_price": SALE_PRICE,
        "commission": COMMISSION,
        "currency": "USD",
    }

    def handler(i: int) -> None:
        path = f"/orgs/{org_id}/teams/{team_id}/customers/{handled[i]}/status"
        body = {"status": "closed", "closing": closing}
        response = api.lambda_handler(http_event("POST", path, user=leader, body=body), context)
        assert response["statusCode"] == 200, response

    caller_keys = [
        db.serialize(k)
        for k in (
            team_key(org_id, team_id),
            team_member_key(org_id, team_id, leader),
            member_key(org_id, leader),
            account_key(leader),
        )
    ]
    fees_pk = fm.fees_pk(org_id, team_id)
    agreement_pk = fm.agreement_pk(org_id, fm.ORG_SCOPE)
    balance_key = db.serialize({"pk": fees_pk, "sk": "BALANCE#USD#BARE"})

    def bare(i: int) -> None:
        customer_id = bare_customers[i]
        raw.batch_get_item(RequestItems={table: {"Keys": caller_keys, "ConsistentRead": True}})
        key = db.serialize(team_customer_key(org_id, team_id, customer_id))
        customer = db.deserialize(raw.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"])
        raw.query(
            TableName=table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :from AND :to",
            ExpressionAttributeValues={
                ":pk": {"S": agreement_pk},
                ":from": {"S": "VERSION#"},
                ":to": {"S": f"VERSION#{customer['created_at']}#~"},
            },
            ScanIndexForward=False,
            Limit=1,
        )
        balance = raw.get_item(TableName=table, Key=balance_key, ConsistentRead=True).get("Item")
        version = int(balance["version"]["N"]) if balance else 0
        closing_id = f"{customer_id}-buy-{today}"
        fee = 405_000
        at = clock.now_iso()
        items = [
            {"pk": fees_pk, "sk": f"CLOSING#{closing_id}", "entity": "team_closing", **closing},
            {"pk": fees_pk, "sk": f"FEE#{closing_id}", "entity": "team_fee", "amount": fee, "outstanding": fee},
            {"pk": fees_pk, "sk": f"ENTRY#{at}#{ids.new_id()}", "entity": "fee_entry", "amount": fee},
        ]
        raw.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": key,
                        "UpdateExpression": "SET #s = :closed, version = version + :one REMOVE gsi3pk, gsi3sk",
                        "ConditionExpression": "version = :v",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {
                            ":closed": {"S": "closed"},
                            ":one": {"N": "1"},
                            ":v": {"N": str(customer["version"])},
                        },
                    }
                },
                *(
                    {
                        "Put": {
                            "TableName": table,
                            "Item": db.serialize(item),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    }
                    for item in items
                ),
                {
                    "Update": {
                        "TableName": table,
                        "Key": balance_key,
                        "UpdateExpression": "ADD balance :fee, version :one",
                        "ConditionExpression": "attribute_not_exists(pk) OR version = :v",
                        "ExpressionAttributeValues": {
                            ":fee": {"N": str(fee)},
                            ":one": {"N": "1"},
                            ":v": {"N": str(version)},
                        },
                    }
                },
            ]
        )

    return handler, bare
