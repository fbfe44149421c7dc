"""A partner's node in an organisation as the partner modules read and change it: found (or 404), shown
to staff (`Partner`), and changed in one conditional write that appends to its bounded history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field

from common.partners.partner_records import NODE_HISTORY, PartnerStatus, node_key, partner_pk
from common.platform import db, history, listings
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, DomainError, NotFound


class Partner(Answer):
    """The organisation's record of a partner as staff with partners:manage see it (its history is served as
    the activity)."""

    org_id: str
    partner_id: str = Field(description="the partner's user subject, the same in every organisation")
    first_name: str
    last_name: str
    name: str
    email: str
    phone: str | None = None
    status: PartnerStatus
    origin: str = Field(description="added, existing, joined, invitation or referral")
    sponsor_id: str | None = None
    upline: list[str] = Field(description="the sponsor first, then up to the root of the programme structure")
    level: int
    brokers: list[str] = Field(description="the staff users the partner is assigned to")
    terms_version: int | None = None
    last_lead_at: Timestamp | None = None
    archived_reason: str | None = None
    archived_from: PartnerStatus | None = None
    added_at: Timestamp
    updated_at: Timestamp
    version: int


def find_node(org_id: str, partner_id: str, *, client: Any = None) -> db.Item | None:
    """The organisation's node of the partner, or None (also when the partner was removed)."""
    node = db.get(node_key(org_id, partner_id), consistent=True, client=client)
    return node if node is not None and not node.get("removed_at") else None


def get_node(org_id: str, partner_id: str, *, client: Any = None) -> db.Item:
    node = find_node(org_id, partner_id, client=client)
    if node is None:
        raise NotFound(f"partner {partner_id} not found")
    return node


class NodeChange:
    """One change of a node: fields to set (None removes), fields to remove, a history event; the write is
    conditioned on the node as read (its version, unless `condition` says otherwise) and on it not being
    removed, and it bumps the version. The event joins the node's bounded history (NODE_HISTORY): in a
    transaction, `pages()` go with `tx()`."""

    def __init__(
        self,
        node: db.Item,
        event: dict[str, Any],
        *,
        set_fields: Mapping[str, Any] | None = None,
        remove: Sequence[str] = (),
        condition: str = "version = :version",
        condition_names: Mapping[str, str] | None = None,
        condition_values: Mapping[str, Any] | None = None,
    ) -> None:
        self.node, self.event = node, event
        self.addition = history.Addition(NODE_HISTORY, [event], node)
        names: dict[str, str] = {}
        values: dict[str, Any] = {":now": event["at"], ":one": 1}
        sets, removes = ["updated_at = :now"], []
        for i, (field, value) in enumerate((set_fields or {}).items()):
            names[f"#s{i}"] = field
            if value is None:
                removes.append(f"#s{i}")
            else:
                values[f":s{i}"] = value
                sets.append(f"#s{i} = :s{i}")
        for i, field in enumerate(remove):
            names[f"#r{i}"] = field
            removes.append(f"#r{i}")
        if "version = :version" in condition:
            values[":version"] = node["version"]
        names |= dict(condition_names or {})
        values |= dict(condition_values or {})
        self._sets, self._removes = sets, removes
        self._condition = f"({condition}) AND attribute_not_exists(removed_at)"
        self.names, self.values = names, values

    def _expression(self, addition: history.Addition) -> str:
        sets, removes = [*self._sets, addition.expression], self._removes
        return "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "") + " ADD version :one"

    def applied(self, current: db.Item | None) -> bool:
        """Whether `current` shows this very change applied (a retried write whose answer was lost)."""
        return bool(
            current
            and current.get("version") == self.node["version"] + 1
            and (current.get("history") or [None])[-1] == self.event
        )

    def refusal(self, current: db.Item | None, changed: DomainError | None = None) -> DomainError:
        if not current or current.get("removed_at"):
            return NotFound(f"partner {self.node['partner_id']} not found")
        return changed or Conflict("the partner changed meanwhile; read it again and retry")

    def tx(self) -> dict[str, Any]:
        return db.tx_update(
            node_key(self.node["org_id"], self.node["partner_id"]),
            expression=self._expression(self.addition),
            condition=f"{self._condition} AND {self.addition.condition}",
            names=self.names or None,
            values={**self.values, **self.addition.values},
        )

    def pages(self) -> list[dict[str, Any]]:
        return self.addition.pages()

    def write(self, *, changed: DomainError | None = None, client: Any = None) -> db.Item:
        """One UpdateItem (with the page of the older history when it is full); decided again when the
        history filled meanwhile."""

        def _explain(current: db.Item | None) -> DomainError | None:
            return None if self.applied(current) else self.refusal(current, changed)

        def _write(addition: history.Addition) -> db.Item:
            return history.update(
                node_key(self.node["org_id"], self.node["partner_id"]),
                addition,
                expression=self._expression(addition),
                condition=f"{self._condition} AND {addition.condition}",
                names=self.names or None,
                values=self.values,
                on_conflict=_explain,
                client=client,
            )

        return history.attempt(self.addition, _write)


def nodes_of(partner_id: str, *, client: Any = None) -> list[db.Item]:
    """Every organisation's node of a partner (removed ones too): one query of the partner's partition."""
    pages = listings.pages(
        key_condition="pk = :pk AND begins_with(sk, :org)",
        values={":pk": partner_pk(partner_id), ":org": "ORG#"},
        consistent=True,
        limit=100,
        client=client,
    )
    return [item for page in pages for item in page if item.get("entity") == "partner_node"]
