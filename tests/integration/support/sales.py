"""Selling over HTTP in the integration tests: a partner company's sides (written into its item with the fields
common.leads.company_sides keeps, its receiver's secret where that module keeps it), and a proxy on 127.0.0.1
in front of the stack that makes a receiver fail its first attempts, started and stopped by the test."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from common.leads.companies import company_key
from common.platform import db

# The receiving stack's answer a proxy relays, and the headers it passes on.
PASSED_ON = ("authorization", "content-type", "webhook-id", "webhook-timestamp", "webhook-signature")


def set_sides(org_id: str, company_id: str, **fields: Any) -> None:
    """The company's sides as its item keeps them (buys_leads, lead_sale, ...)."""
    names = {f"#f{n}": name for n, name in enumerate(fields)}
    values = {f":v{n}": value for n, value in enumerate(fields.values())}
    db.update(
        company_key(org_id, company_id),
        expression="SET " + ", ".join(f"#f{n} = :v{n}" for n in range(len(fields))),
        names=names,
        values=values,
    )


def keep_receiver_secret(org_id: str, company_id: str, side: str, secret: str) -> None:
    """The receiver's client secret, kept where the delivery engine reads it (a SecureString)."""
    import common.leads.company_sides as company_sides  # the companies' sides: the secrets' one keeper

    company_sides.keep_secret(org_id, company_id, company_sides.Side(side), secret)


@dataclass
class FlakyProxy:
    """In front of `target` (a base URL): per `webhook-id`, the first request is answered 503 and goes no
    further; the second goes on, but its answer is lost (503 comes back, as if the connection dropped); the
    third and later go on and their answer comes back."""

    target: str
    port: int = 0
    requests: Counter[str] = field(default_factory=Counter)
    passed_on: list[tuple[str, int]] = field(default_factory=list)  # (webhook-id, the target's status)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        webhook_id = headers.get("webhook-id", "")
        with self.lock:
            self.requests[webhook_id] += 1
            seen = self.requests[webhook_id]
        if seen == 1:
            return 503, b'{"message": "busy"}'
        passed = {name: value for name, value in headers.items() if name in PASSED_ON}
        answer = requests.post(self.target + path, data=body, headers=passed, timeout=30)
        with self.lock:
            self.passed_on.append((webhook_id, answer.status_code))
        return (503, b'{"message": "lost"}') if seen == 2 else (answer.status_code, answer.content)


@contextmanager
def flaky_proxy(target: str) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy(target)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, answer = proxy.answer(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    proxy.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def buyer_for_the_matrix(org: Any) -> dict[str, str]:
    """For the authorization matrix (an actors.Organisation): a company buying leads and customers by e-mail (so
    nothing the matrix sells is posted), a pending lead and a customer to sell it, and a failed post of an
    earlier sale to resend (its side takes no posts: a resend fails again at once, without a request)."""
    from common.integrations import sale_deliveries
    from common.leads.customers import customer_key
    from common.platform import clock, ids

    side = {"method": "email", "email_addresses": ["buying@matrix-buyer.example"], "sale_notification_emails": []}
    answer = org.admin.post(f"/orgs/{org.org_id}/partner-companies", {"name": "Matrix buyer"})
    assert answer.status_code == 201, answer.text
    buyer_id = answer.json()["company_id"]
    set_sides(org.org_id, buyer_id, buys_leads=True, lead_sale=side, buys_customers=True, customer_sale=side)
    body = {"external_id": f"matrix-sale-{ids.new_id()}", "contact_name": "Sal Lead", "phone": "+1 555 0100"}
    pending = org.company.post(org.intake_path, {**body, "requested_location": "pending"})
    assert pending.status_code == 201, pending.text
    customer_id, at = ids.new_id(), clock.now_iso()
    db.put(
        {
            **customer_key(org.org_id, customer_id),
            "entity": "customer",
            "org_id": org.org_id,
            "customer_id": customer_id,
            "contact": {"contact_name": "Cus Tomer", "phone": "+1 555 0100"},
            "source": {"kind": "manual", "lead_id": pending.json()["lead_id"]},
            "owner": org.reps[0].user_id if org.reps else "nobody",
            "created_by": "matrix",
            "created_at": at,
        }
    )
    sale = {"sale_id": ids.new_id(), "company_id": buyer_id, "sold_at": at, "sold_by": "matrix", "method": "post"}
    record = {"entity": "lead", "org_id": org.org_id, "lead_id": pending.json()["lead_id"]}
    db.put({**sale_deliveries.new_item(record, sale), "status": "failed", "next_attempt_at": None})
    return {
        "buyer_id": buyer_id,
        "sale_lead_id": pending.json()["lead_id"],
        "sale_customer_id": customer_id,
        "posted_sale_id": sale["sale_id"],
    }
