"""What a partner company's system does with its client credentials besides posting leads: post the customers
it sells us, and ask where a lead it posted stands."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.leads import customer_intake, intake, lead_status
from common.platform.observability import metrics
from common.web.openapi_docs import INVALID, answers, ok
from common.web.route_params import Id, caller

router = APIGatewayHttpRouter()

MACHINE_ONLY = "Not a partner company's client-credentials token with the lead-intake scope"
ExternalIdParam = Annotated[
    str, Path(pattern=intake.EXTERNAL_ID_PATTERN, description="the company's own id of the lead it posted")
]


@router.post(
    "/orgs/<org_id>/partner-companies/<company_id>/customers",
    summary="A partner company posts a customer it sells us (client-credentials token with the lead-intake scope)",
    description="Idempotent on external_id: 201 when the customer is created, 200 with the same receipt after. "
    "The customer lands in the company's office location; a purchase notification follows.",
    tags=["customer intake"],
    responses=answers(
        ok("The customer was created", 201),
        ok("The external_id was posted before: the customer created then"),
        forbidden=MACHINE_ONLY,
        not_found="No such partner company for these credentials",
        conflict="The company is not set up to sell customers (or is inactive), or the same external_id is being "
        "posted concurrently",
        invalid=INVALID + " (or a campaign the company does not have, or a source other than the company)",
    ),
)
def post_customer(
    org_id: Id, company_id: Id, body: Annotated[customer_intake.PurchasedCustomer, Body()]
) -> tuple[customer_intake.CustomerReceipt, int]:
    company = intake.selling_company(org_id, company_id, caller(router), "customers")
    customer, created = customer_intake.intake_customer(org_id, company, body)
    if created:
        metrics.add_metric(name="CustomersReceived", unit=MetricUnit.Count, value=1)
    return customer_intake.receipt(customer), 201 if created else 200


@router.get(
    "/orgs/<org_id>/partner-companies/<company_id>/leads/<external_id>/status",
    summary="A partner company asks where a lead it posted stands, by its own external id",
    description="queued (also while pending), assigned, customer, returned, invalid or sold_on.",
    tags=["lead intake"],
    responses=answers(
        ok("The lead's status"),
        forbidden=MACHINE_ONLY,
        not_found="No such partner company for these credentials, or no lead it posted with this external id",
    ),
)
def get_lead_status(org_id: Id, company_id: Id, external_id: ExternalIdParam) -> lead_status.LeadIntakeStatus:
    return lead_status.lead_status(org_id, company_id, external_id, caller(router))
