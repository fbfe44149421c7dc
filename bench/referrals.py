"""The partner-team side of `make bench`: the SMS webhook answering a member's reply, and the daily
reminder sweep over 10,000 team customers of which 100 are due (what the sweep reads and hands on, then the
work of each message it handed on), each next to the bare DynamoDB calls it needs. Twilio is the loopback
stand-in (local/twilio_fake.py); SSM and SES are a moto server."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from common.platform import settings

from bench.partners import ItemsReturned

REMINDER_CUSTOMERS = int(os.environ.get("BENCH_REMINDER_CUSTOMERS", "10000"))
REMINDER_DUE = int(os.environ.get("BENCH_REMINDER_DUE", "100"))
WEBHOOK_URL = "https://api.bench.example/twilio/sms"
STATUS_URL = "https://api.bench.example/twilio/status"
AUTH_TOKEN = "bench-twilio-auth-token"
AUTH_TOKEN_PARAMETER = "/partner-programme/bench/twilio-auth-token"
LEADER_PHONE = "+15550001000"


def environment(twilio_url: str, account_sid: str) -> dict[str, str]:
    return settings.environment(
        twilio_account_sid=account_sid,
        twilio_from_number="+15005550006",
        twilio_auth_token_parameter=AUTH_TOKEN_PARAMETER,
        twilio_api_url=twilio_url,
        sms_webhook_url=WEBHOOK_URL,
        sms_status_url=STATUS_URL,
    )


def _team(admin: str, leader_id: str = "bench-leader", phone: str = LEADER_PHONE) -> tuple[str, str]:
    """An organisation with one team led by `leader_id` (each phone in one team only: the webhook's reply
    acts on every team a phone is in)."""
    from common.orgs import organisations
    from common.orgs.access import member_from_item, member_key
    from common.platform import db
    from common.teams import roster

    org_id = organisations.create_organisation(organisations.NewOrganisation(name="Bench teams org"), admin)["org_id"]
    member = member_from_item(db.get(member_key(org_id, admin)) or {})
    leader = {
        "user_id": leader_id,
        "phone": phone,
        "display_name": "Lee Leader",
        "email": "lee@bench.example",
    }
    team, _ = roster.create_team(
        org_id, member, roster.NewTeam.model_validate({"name": "Bench team", "leader": leader})
    )
    return org_id, team["team_id"]


def webhook_case(raw: Any, table: str, admin: str) -> tuple[Callable[[int], None], Callable[[int], None]]:
    """A member's PAUSE or RESUME: the handler (signature check, the phone's memberships, the MessageSid
    record, the member's update, the reply recorded) against the bare calls: Query of the phone's
    partition, PutItem of the message record, UpdateItem of the membership, UpdateItem of the record."""
    import boto3
    from common.platform import db
    from common.teams.team_model import inbound_message_key, team_member_key
    from twilio.request_validator import RequestValidator

    from tests.support import FakeContext, http_event

    boto3.client("ssm").put_parameter(Name=AUTH_TOKEN_PARAMETER, Value=AUTH_TOKEN, Type="SecureString", Overwrite=True)
    webhook = __import__("referrals.webhook", fromlist=["lambda_handler"])
    context = FakeContext(function_name="SmsWebhook")
    org_id, team_id = _team(admin)
    validator = RequestValidator(AUTH_TOKEN)

    def form(i: int, prefix: str) -> dict[str, str]:
        return {
            "MessageSid": f"SM{prefix}{i:031d}",
            "AccountSid": "AC" + "0" * 32,
            "From": LEADER_PHONE,
            "To": "+15005550006",
            "Body": "PAUSE" if i % 2 else "RESUME",
        }

    def handler(i: int) -> None:
        params = form(i, "a")
        event = http_event("POST", "/twilio/sms", body=urlencode(params))
        event["requestContext"].pop("authorizer", None)
        event["headers"] = {
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": validator.compute_signature(WEBHOOK_URL, params),
        }
        response = webhook.lambda_handler(event, context)
        assert response["statusCode"] == 200, response

    member_key = db.serialize(team_member_key(org_id, team_id, "bench-leader"))

    def bare(i: int) -> None:
        params = form(i, "b")
        raw.query(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"PHONE#{LEADER_PHONE}"}},
        )
        record = db.serialize(inbound_message_key(params["MessageSid"]))
        raw.put_item(
            TableName=table,
            Item={**record, "entity": {"S": "inbound_sms"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
        raw.update_item(
            TableName=table,
            Key=member_key,
            UpdateExpression="SET paused = :p",
            ExpressionAttributeValues={":p": {"BOOL": params["Body"] == "PAUSE"}},
        )
        raw.update_item(
            TableName=table,
            Key=record,
            UpdateExpression="SET reply = :r",
            ExpressionAttributeValues={":r": {"S": "ok"}},
        )

    return handler, bare


def reminder_sweep_case(raw: Any, table: str, admin: str, texts: Callable[[], int]) -> dict[str, Any]:
    """10,000 customers in one team, 100 of them past their 7-day update date: the reminder side of the
    StatusSweep (its reads of the due index, the messages it hands on) and the work of those messages
    (texts through the loopback Twilio, e-mails through moto's SES), against the bare Query of the
    organisation's due partition. Items returned by DynamoDB are counted on each side."""
    from common.platform import clock, db
    from common.teams import reminder_work, reminders, team_customers
    from common.teams.team_model import due_partition

    from bench.partners import _write_all

    jobs = {reminders.REMIND_JOB: reminder_work.remind, reminders.DIGEST_JOB: reminder_work.digest}

    def sweep() -> tuple[dict[str, int], dict[str, int]]:
        """The sweep's counts, and its work's (summed over the messages it handed on)."""
        messages: list[dict[str, Any]] = []
        counts = reminders.hand_on(messages.append).as_dict()
        work: dict[str, int] = {}
        for message in messages:
            for name, value in jobs[message["job"]](message).as_dict().items():
                work[name] = work.get(name, 0) + value
        return counts, work

    org_id, team_id = _team(admin)
    now = clock.now()
    items: list[dict[str, Any]] = []
    started = time.perf_counter()
    for n in range(REMINDER_CUSTOMERS):
        due = n < REMINDER_DUE
        # A due customer was last updated 8 days ago; the others yesterday.
        moment = now - timedelta(days=8 if due else 1)
        clock.set_clock(lambda moment=moment: moment)  # type: ignore[misc]
        try:
            items.append(
                team_customers.new_customer_item(
                    org_id,
                    team_id,
                    customer={"first_name": "Casey", "last_name": f"Customer {n}"},
                    summary="bench",
                    assignee_id="bench-leader",
                    actor="bench",
                    request_id=f"BENCH{n:021d}",
                )
            )
        finally:
            clock.reset_clock()
    _write_all(raw, table, items)
    seed_seconds = time.perf_counter() - started
    counter = ItemsReturned(db.default_client())
    counter.take()
    sent_before = texts()
    start = time.perf_counter()
    counts, work = sweep()
    handler_ms = (time.perf_counter() - start) * 1000
    handler_items = counter.take()
    again, again_work = sweep()  # the same day: nothing more is sent
    bare_counter = ItemsReturned(raw)
    bare_counter.take()
    bare_ms: list[float] = []
    for _ in range(5):
        start = time.perf_counter()
        page: dict[str, Any] = {}
        while True:
            response = raw.query(
                TableName=table,
                IndexName="gsi3",
                KeyConditionExpression="gsi3pk = :pk AND gsi3sk < :now",
                ExpressionAttributeValues={":pk": {"S": due_partition(org_id)}, ":now": {"S": clock.now_iso()}},
                **page,
            )
            if "LastEvaluatedKey" not in response:
                break
            page = {"ExclusiveStartKey": response["LastEvaluatedKey"]}
        bare_ms.append((time.perf_counter() - start) * 1000)
    return {
        "customers": REMINDER_CUSTOMERS,
        "due": REMINDER_DUE,
        "seed_seconds": seed_seconds,
        "handler_ms": handler_ms,
        "handler_items_read": handler_items,
        "counts": counts,
        "work": work,
        "second_run": again,
        "second_run_work": again_work,
        "texts_sent": texts() - sent_before,
        "bare_query_ms": statistics.median(bare_ms),
        "bare_items_read": bare_counter.take() // len(bare_ms),
    }


def reminder_report(sweep: dict[str, Any]) -> list[str]:
    counts, work, again = sweep["counts"], sweep["work"], sweep["second_run_work"]
    return [
        "",
        f"Reminder sweep over {sweep['customers']:,} team customers of which {sweep['due']} are past their 7-day "
        "update (the sweep's reads and the messages it hands on, then their work: texts to the loopback Twilio, "
        "e-mails to moto's SES):",
        "",
        "| side | ms | items the queries returned | messages handed on | reminders | digests | texts sent |",
        "|---|---|---|---|---|---|---|",
        f"| sweep and work (first run of the day) | {sweep['handler_ms']:.0f} | {sweep['handler_items_read']} "
        f"| {counts['handed_on']} | {work['reminded']} | {work['digests']} | {sweep['texts_sent']} |",
        f"| sweep and work (second run, same day) | | | {sweep['second_run']['handed_on']} | {again['reminded']} "
        f"| {again['digests']} | |",
        f"| bare Query of the due partition | {sweep['bare_query_ms']:.1f} | {sweep['bare_items_read']} | | | | |",
        "",
        f"The sweep's reads (organisations with teams, due customers): {counts['items_read']} items; its work's "
        f"(the customers again, their teams, assignees and the day's notices): {work['items_read']} items.",
    ]
