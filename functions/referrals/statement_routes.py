"""A partner team's monthly referral fee statement, as JSON, CSV or PDF. Thin handler over
common.teams.fee_statements."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from common.orgs.access import Permission
from common.teams import fee_statements
from common.teams.fee_statements import FeeStatement
from common.web.openapi_docs import answers
from common.web.route_params import Id, caller

router = APIGatewayHttpRouter()

Month = Annotated[str, Path(pattern=fee_statements.MONTH_PATTERN, description="yyyy-mm (UTC)")]
Format = Literal["json", "csv", "pdf"]
MEDIA_TYPES: dict[str, str] = {"csv": "text/csv", "pdf": "application/pdf"}
CHOOSING = (
    "`format` chooses the answer: json (the default), csv (one row per entry) or pdf. Without `format`, an "
    "`Accept` of text/csv or application/pdf chooses that one."
)


def _chosen(format: Format | None) -> Format:
    if format is not None:
        return format
    accept = (router.current_event.headers or {}).get("accept") or ""
    for name, media_type in MEDIA_TYPES.items():
        if media_type in accept:
            return "csv" if name == "csv" else "pdf"
    return "json"


@router.get(
    "/orgs/<org_id>/teams/<team_id>/statements/<month>",
    summary="The team's referral fee statement of a month: opening balance, fees, late fees, payments, "
    "adjustments, write-offs and closing balance per currency, with the entries",
    description=CHOOSING,
    tags=["team fees"],
    responses=answers(
        {
            200: {
                "description": "The statement",
                "content": {
                    "application/json": {"model": FeeStatement},
                    "text/csv": {"schema": {"type": "string"}},
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        },
        forbidden=f"A plain member of the team, or staff without {Permission.MANAGE_FEES.value}",
        not_found="No such team, or the caller is neither in it nor staff of the organisation",
        invalid="The month is not yyyy-mm, or the format is not json, csv or pdf",
    ),
)
def get_statement(
    org_id: Id,
    team_id: Id,
    month: Month,
    format: Annotated[Format | None, Query(description=CHOOSING)] = None,
) -> Response[FeeStatement]:
    team = fee_statements.require_reader(caller(router), org_id, team_id)
    statement = fee_statements.statement(org_id, team, month)
    chosen = _chosen(format)
    if chosen == "json":
        return Response(status_code=200, content_type="application/json", body=statement)
    filename = f"statement-{team_id}-{month}.{chosen}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if chosen == "csv":
        text = fee_statements.csv_text(statement)
        return Response(200, content_type="text/csv; charset=utf-8", body=text, headers=headers)  # type: ignore[arg-type]
    # Bytes: Powertools answers them base64-encoded (isBase64Encoded), which API Gateway decodes.
    pdf = fee_statements.pdf_bytes(statement)
    return Response(200, content_type=MEDIA_TYPES["pdf"], body=pdf, headers=headers)  # type: ignore[arg-type]
