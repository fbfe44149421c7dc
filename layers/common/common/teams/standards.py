"""An organisation's performance standards for its partner teams (issue 23): the rolling window the rates
are taken over and the least each rate must reach. Absent, the defaults apply (the published standards:
75% of requests opened, 75% of opened requests attempted, 80% of open customers updated within 7 days,
over 90 days).

    standards   ORG#<org>#TEAM_STANDARDS / STANDARDS   entity "team_standards", version
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from common.platform import clock, db
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict

DEFAULT_WINDOW_DAYS = 90
MIN_WINDOW_DAYS = 7
# Below the day items' lifetime (common.teams.team_stats.KEEP).
MAX_WINDOW_DAYS = 365
DEFAULT_OPEN_RATE = 75
DEFAULT_ATTEMPT_RATE = 75
DEFAULT_COMPLIANCE_RATE = 80

Percent = Annotated[StrictInt, Field(ge=0, le=100)]


def standards_key(org_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#TEAM_STANDARDS", "sk": "STANDARDS"}


class Standards(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"window_days": 90, "open_rate": 75, "attempt_rate": 75, "compliance_rate": 80}]
        },
    )
    window_days: Annotated[StrictInt, Field(ge=MIN_WINDOW_DAYS, le=MAX_WINDOW_DAYS)] = Field(
        DEFAULT_WINDOW_DAYS, description="the rolling window the rates are taken over, in days"
    )
    open_rate: Percent = Field(DEFAULT_OPEN_RATE, description="least share of offered requests opened, in %")
    attempt_rate: Percent = Field(
        DEFAULT_ATTEMPT_RATE, description="least share of opened requests the member tried to accept, in %"
    )
    compliance_rate: Percent = Field(
        DEFAULT_COMPLIANCE_RATE, description="least share of open customers updated within 7 days, in %"
    )


class OrgStandards(Standards, Answer):
    model_config = Answer.model_config
    org_id: str
    updated_at: Timestamp | None = Field(None, description="null while the defaults apply")
    updated_by: str | None = None
    version: int = Field(description="0 while the defaults apply")


def get_standards(org_id: str, *, client: Any = None) -> OrgStandards:
    item = db.get(standards_key(org_id), client=client)
    return OrgStandards.of(item) if item else OrgStandards(org_id=org_id, version=0)


def put_standards(org_id: str, standards: Standards, actor: str, *, client: Any = None) -> OrgStandards:
    """Set the organisation's standards (the whole of them: a field left out takes its default)."""
    at = clock.now_iso()
    item = db.update(
        standards_key(org_id),
        expression=(
            "SET entity = :entity, org_id = :org, window_days = :window, open_rate = :open, "
            "attempt_rate = :attempt, compliance_rate = :compliance, updated_at = :at, updated_by = :by "
            "ADD version :one"
        ),
        values={
            ":entity": "team_standards",
            ":org": org_id,
            ":window": standards.window_days,
            ":open": standards.open_rate,
            ":attempt": standards.attempt_rate,
            ":compliance": standards.compliance_rate,
            ":at": at,
            ":by": actor,
            ":one": 1,
        },
        on_conflict=Conflict("standards changed meanwhile"),
        client=client,
    )
    return OrgStandards.of(item)
