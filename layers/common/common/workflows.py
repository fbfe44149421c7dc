"""Workflows: the ordered stages a deal moves through. An organisation has any number; its portal settings
name the default one, where partners create their deals.

    workflow  ORG#<org>#WORKFLOW#<workflowId> / WORKFLOW    gsi1 ORG#<org>#WORKFLOWS / <name casefolded>#<id>

Stages are fixed when the workflow is created: deals copy a stage's id and name into their stage and
history, so a stage must never disappear or be renamed under them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import clock, db, ids
from .errors import Conflict, NotFound
from .validation import ShortText

MAX_STAGES = 30


class NewStage(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: ShortText


class NewWorkflow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
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


def workflow_key(org_id: str, workflow_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#WORKFLOW#{workflow_id}", "sk": "WORKFLOW"}


def _listing(org_id: str) -> str:
    return f"ORG#{org_id}#WORKFLOWS"


def view(item: db.Item) -> dict[str, Any]:
    return db.without_storage(item)


def create_workflow(org_id: str, new: NewWorkflow, actor: str, *, client: Any = None) -> db.Item:
    workflow_id = ids.new_id()
    at = clock.now_iso()
    item: db.Item = {
        **workflow_key(org_id, workflow_id),
        "entity": "workflow",
        "org_id": org_id,
        "workflow_id": workflow_id,
        "name": new.name,
        "stages": [{"stage_id": ids.new_id(), "name": stage.name} for stage in new.stages],
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
    return db.query(
        index="gsi1",
        key_condition="gsi1pk = :pk",
        values={":pk": _listing(org_id)},
        cursor=cursor,
        limit=limit,
        client=client,
    )


def stage_of(workflow: db.Item, stage_id: str) -> dict[str, Any] | None:
    return next((s for s in workflow["stages"] if s["stage_id"] == stage_id), None)


def first_stage(workflow: db.Item) -> dict[str, Any]:
    return dict(workflow["stages"][0])


def stage_names(workflows: list[db.Item]) -> dict[str, str]:
    """stage id -> name, over the given workflows (stage ids are unique across workflows)."""
    return {s["stage_id"]: s["name"] for w in workflows for s in w["stages"]}
