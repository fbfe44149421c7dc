"""Workflows: the ordered stages a deal moves through. An organisation has any number; its portal settings
name the default one, where partners create their deals.

    workflow  ORG#<org>#WORKFLOW#<workflowId> / WORKFLOW    gsi1 ORG#<org>#WORKFLOWS / <name casefolded>#<id>

Stages are fixed when the workflow is created: deals copy a stage's id and name into their stage and
history, so a stage must never disappear or be renamed under them. Only a stage's commission setting may
change later: "none", "compute" (moving a deal there computes the partner commissions, seed 004) or
"reverse" (moving a deal there reverses a paid commission, e.g. Cancelled). A deal copies the setting of
its stage when it moves, so a later change of the setting changes nothing already moved. Workflows stored
before the setting existed read as "none".
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from common.orgs.access import Member, Permission
from common.platform import clock, db, ids, listings
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, Forbidden, NotFound
from common.platform.validation import ShortText

MAX_STAGES = 30


class StageCommission(StrEnum):
    NONE = "none"
    COMPUTE = "compute"  # compute partner-programme commission (seed 004)
    REVERSE = "reverse"  # reverse the deal's paid commission


class NewStage(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"name": "Won", "commission": "compute"}]},
    )
    name: ShortText
    commission: StageCommission = Field(
        StageCommission.NONE,
        description="what moving a deal to this stage does to partner commissions; "
        f"other than none needs {Permission.PROGRAMME_MANAGE_BALANCES.value}",
    )


class CommissionSetting(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"commission": "compute"}]})
    commission: StageCommission


class NewWorkflow(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "Referrals",
                    "stages": [
                        {"name": "New"},
                        {"name": "Contacted"},
                        {"name": "Won", "commission": "compute"},
                        {"name": "Lost", "commission": "reverse"},
                    ],
                }
            ]
        },
    )
    name: ShortText
    stages: list[NewStage] = Field(
        min_length=1, max_length=MAX_STAGES, description="in order; deals start at the first"
    )

    @field_validator("stages")
    @classmethod
    def _distinct_names(cls, stages: list[NewStage]) -> list[NewStage]:
        names = [stage.name.casefold() for stage in stages]
        if len(set(names)) != len(names):
            raise ValueError("stage names must be distinct")
        return stages


class Stage(NewStage, Answer):
    """A stage as created (NewStage; stored before the commission setting existed: none) and its id."""

    model_config = Answer.model_config
    stage_id: str


class Workflow(Answer):
    """Not derived from NewWorkflow: its stages are answered with their ids."""

    org_id: str
    workflow_id: str
    name: str
    stages: list[Stage] = Field(description="in order; a deal starts at the first")
    created_by: str
    created_at: Timestamp


def workflow_key(org_id: str, workflow_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#WORKFLOW#{workflow_id}", "sk": "WORKFLOW"}


def _listing(org_id: str) -> str:
    return f"ORG#{org_id}#WORKFLOWS"


def commission_of(stage: Mapping[str, Any]) -> str:
    return str(stage.get("commission") or StageCommission.NONE.value)


def moves_money(stage: Mapping[str, Any]) -> bool:
    """Moving a deal to this stage computes or reverses partner commission."""
    return commission_of(stage) != StageCommission.NONE.value


def check_commission_permission(member: Member, new: NewWorkflow) -> None:
    """A stage that computes or reverses commission moves money: it also needs the balances permission."""
    if any(s.commission != StageCommission.NONE for s in new.stages) and not member.can(
        Permission.PROGRAMME_MANAGE_BALANCES
    ):
        raise Forbidden(f"stages that compute or reverse commission need {Permission.PROGRAMME_MANAGE_BALANCES.value}")


def create_workflow(org_id: str, new: NewWorkflow, actor: str, *, client: Any = None) -> db.Item:
    workflow_id = ids.new_id()
    at = clock.now_iso()
    item: db.Item = {
        **workflow_key(org_id, workflow_id),
        "entity": "workflow",
        "org_id": org_id,
        "workflow_id": workflow_id,
        "name": new.name,
        "stages": [
            {"stage_id": ids.new_id(), "name": stage.name, "commission": stage.commission.value} for stage in new.stages
        ],
        "created_by": actor,
        "created_at": at,
        "gsi1pk": _listing(org_id),
        "gsi1sk": f"{new.name.casefold()}#{workflow_id}",
    }
    db.put(
        item, condition="attribute_not_exists(pk)", on_conflict=Conflict("workflow id collision; retry"), client=client
    )
    return item


def find_workflow(org_id: str, workflow_id: str, *, client: Any = None) -> db.Item | None:
    return db.get(workflow_key(org_id, workflow_id), client=client)


def get_workflow(org_id: str, workflow_id: str, *, client: Any = None) -> db.Item:
    item = find_workflow(org_id, workflow_id, client=client)
    if item is None:
        raise NotFound(f"workflow {workflow_id} not found")
    return item


def list_workflows(
    org_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    """By name."""
    return listings.query_index(
        listings.IndexKey("gsi1", _listing(org_id)),
        cursor=cursor,
        limit=limit,
        client=client,
    )


def set_stage_commission(
    org_id: str, workflow_id: str, stage_id: str, setting: CommissionSetting, *, client: Any = None
) -> db.Item:
    """Change one stage's commission setting: one UpdateItem of that list element, conditioned on the
    element still being that stage (stages never move, but the condition makes the index safe to use)."""
    workflow = get_workflow(org_id, workflow_id, client=client)
    index = next((i for i, s in enumerate(workflow["stages"]) if s["stage_id"] == stage_id), None)
    if index is None:
        raise NotFound(f"stage {stage_id} not found in workflow {workflow_id}")
    return db.update(
        workflow_key(org_id, workflow_id),
        expression=f"SET stages[{index}].commission = :commission, updated_at = :at",
        condition=f"stages[{index}].stage_id = :stage",
        values={":commission": setting.commission.value, ":at": clock.now_iso(), ":stage": stage_id},
        on_conflict=NotFound(f"stage {stage_id} not found in workflow {workflow_id}"),
        client=client,
    )


def stage_of(workflow: db.Item, stage_id: str) -> dict[str, Any] | None:
    return next((s for s in workflow["stages"] if s["stage_id"] == stage_id), None)


def first_stage(workflow: db.Item) -> dict[str, Any]:
    return dict(workflow["stages"][0])
