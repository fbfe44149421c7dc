"""Partners on the staff side: add (a new account or a known one), read, list, edit, assign brokers, remove.

Adding is one transaction: the account (put only if absent: an existing account is reused untouched), the
organisation's node, and the organisation's e-mail guard, so the same address cannot become two partners
of one organisation however the requests race. Every change of a node appends to its history in the same
write. Lifecycle status changes live in partner_lifecycle.py, e-mails in partner_mail.py (stream)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.orgs.access import Member, member_key, org_key
from common.partners.identity import NEW_USER_STATUS, ensure_user, user_details
from common.partners.partner_records import (
    NODE_HISTORY,
    NULLABLE_NODE_FIELDS,
    PartnerStatus,
    account_item,
    account_key,
    history_event,
    node_item,
    node_key,
    org_email_item,
    org_email_key,
    partner_pk,
    tree_partition,
)
from common.platform import clock, db, history
from common.platform.errors import Conflict, DomainError, NotFound, invalid
from common.platform.validation import Email, Phone, ShortText, UserRef

S = PartnerStatus
MAX_BROKERS = 10
PAGE_SIZE = 50
# Attempts at adding when the account appears (or goes) between reading it and writing.
ADD_ATTEMPTS = 3

Brokers = list[UserRef]


class NewPartner(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    first_name: ShortText
    last_name: ShortText
    email: Email
    phone: Phone
    status: Literal["PROSPECT", "LIVE"] = "LIVE"
    brokers: Brokers = Field(default_factory=list, max_length=MAX_BROKERS)
    sponsor_id: UserRef | None = Field(default=None, description="a partner of this organisation, placed above")


class ExistingPartner(BaseModel):
    """A partner of the parent organisation joining a child organisation with the same account."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    partner_id: UserRef
    status: Literal["PROSPECT", "LIVE"] = "LIVE"
    brokers: Brokers = Field(default_factory=list, max_length=MAX_BROKERS)


class PartnerEdit(BaseModel):
    """The organisation's record of the partner; the partner's own account is theirs to change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    phone: Phone | None = Field(default=None, description="null removes it")


class BrokerAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    brokers: Brokers = Field(max_length=MAX_BROKERS)


class AlreadyPartner(Conflict):
    def __init__(self, partner_id: str) -> None:
        super().__init__(f"already a partner of this organisation: {partner_id}", conflicting_ids=[partner_id])


class _AccountChanged(Conflict):
    """The account appeared or went between reading and writing: decide again."""


# -- shared by the partner modules ---------------------------------------------------------------


def partner_view(node: db.Item) -> db.Item:
    return db.answer_of(node, NULLABLE_NODE_FIELDS, "history")


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


# -- brokers ---------------------------------------------------------------------------------------


def check_brokers(org_id: str, brokers: Sequence[str], *, client: Any = None) -> list[dict[str, Any]]:
    """Brokers are staff members of the organisation: one BatchGetItem of their memberships (422 naming
    those that are not), and a condition per broker for the write, so a membership removed meanwhile
    fails it."""
    wanted = sorted(set(brokers))
    if not wanted:
        return []
    found = {
        i["user_id"] for i in db.batch_get([member_key(org_id, b) for b in wanted], consistent=True, client=client)
    }
    strangers = [b for b in wanted if b not in found]
    if strangers:
        raise invalid("body.brokers", f"not staff members of this organisation: {', '.join(strangers)}")
    return [db.tx_check(member_key(org_id, b), condition="attribute_exists(pk)") for b in wanted]


def broker_gone() -> DomainError:
    return invalid("body.brokers", "a broker stopped being a member of this organisation meanwhile")


def set_brokers(org_id: str, partner_id: str, brokers: Sequence[str], actor: str, *, client: Any = None) -> db.Item:
    checks = check_brokers(org_id, brokers, client=client)
    node = get_node(org_id, partner_id, client=client)
    wanted = sorted(set(brokers))
    change = NodeChange(node, history_event("brokers_assigned", actor, brokers=wanted), set_fields={"brokers": wanted})

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        return change.refusal(failed[0]) if failed[0] is not None else broker_gone()

    db.transact([change.tx(), *checks, *change.pages()], on_cancel=_refusal, client=client)
    changed = {**node, "brokers": wanted, "version": node["version"] + 1, "updated_at": change.event["at"]}
    return change.addition.applied(changed)


# -- adding ----------------------------------------------------------------------------------------


def _sponsor_upline(org_id: str, sponsor_id: str | None, client: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """The new node's upline under `sponsor_id`, and the condition that the sponsor is still where it was read."""
    if sponsor_id is None:
        return [], []
    sponsor = find_node(org_id, sponsor_id, client=client)
    if sponsor is None or sponsor["status"] == S.ARCHIVED.value:
        raise invalid("body.sponsor_id", "is not a partner of this organisation")
    check = db.tx_check(
        node_key(org_id, sponsor_id),
        condition="gsi2sk = :path AND attribute_not_exists(removed_at)",
        values={":path": sponsor["gsi2sk"]},
    )
    return [sponsor_id, *sponsor.get("upline", [])], [check]


def _join(
    org_id: str,
    partner_id: str,
    details: dict[str, Any],
    *,
    status: str,
    origin: str,
    actor: str,
    brokers: list[str],
    upline: list[str],
    account_write: dict[str, Any],
    checks: list[dict[str, Any]],
    check_refusals: Sequence[DomainError],
    client: Any,
) -> db.Item:
    """Write the node and the e-mail guard with `account_write` (put or check) in one transaction. A node
    left by an earlier removal is replaced, its history kept."""
    previous = db.get(node_key(org_id, partner_id), consistent=True, client=client)
    if previous is not None and not previous.get("removed_at"):
        raise AlreadyPartner(partner_id)
    node = node_item(
        org_id=org_id,
        partner_id=partner_id,
        status=S(status),
        origin=origin,
        actor=actor,
        sponsor_id=upline[0] if upline else None,
        upline=upline,
        brokers=brokers,
        **details,
    )
    pages = history.carried(NODE_HISTORY, previous, node)
    if previous is None:
        node_write = db.tx_put(node, condition="attribute_not_exists(pk)")
    else:
        node["version"] = previous["version"] + 1
        node_write = db.tx_put(node, condition="removed_at = :removed", values={":removed": previous["removed_at"]})
    guard = db.tx_put(org_email_item(org_id, details["email"], partner_id), condition="attribute_not_exists(pk)")

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        account, node_failed, guard_failed, *rest = failed[: len(failed) - len(pages)]
        if guard_failed is not None or (node_failed is not None and not node_failed.get("removed_at")):
            return AlreadyPartner((guard_failed or {}).get("partner_id") or partner_id)
        if account is not None or node_failed is not None:
            return _AccountChanged("the partner changed meanwhile")
        return next((refusal for f, refusal in zip(rest, check_refusals, strict=True) if f is not None), broker_gone())

    db.transact([account_write, node_write, guard, *checks, *pages], on_cancel=_refusal, client=client)
    return node


def add_partner(org_id: str, member: Member, new: NewPartner, *, client: Any = None, cognito: Any = None) -> db.Item:
    """A new partner of the organisation: one sign-in per e-mail address (an address that already has one,
    as a partner elsewhere or as staff, keeps it, and its partner account is reused). The answer is the
    node whichever it was; a login that already has a password is marked so on the account, so its login
    e-mail says to sign in as usual and never carries a link that would choose another."""
    broker_checks = check_brokers(org_id, new.brokers, client=client)
    upline, sponsor_checks = _sponsor_upline(org_id, new.sponsor_id, client)
    if taken := db.get(org_email_key(org_id, new.email), consistent=True, client=client):
        raise AlreadyPartner(taken["partner_id"])
    partner_id, created = ensure_user(
        new.email,
        first_name=new.first_name,
        last_name=new.last_name,
        phone=new.phone,
        email_verified=False,
        client=cognito,
    )
    if partner_id in upline:
        raise invalid("body.sponsor_id", "a partner cannot be placed under themselves")
    verified, password = False, False
    if not created:
        login = user_details(partner_id, client=cognito)
        verified, password = login["email_verified"], login["status"] != NEW_USER_STATUS
    details = {"first_name": new.first_name, "last_name": new.last_name, "email": new.email, "phone": new.phone}
    refusals: list[DomainError] = [invalid("body.sponsor_id", "the sponsor changed meanwhile") for _ in sponsor_checks]
    refusals += [broker_gone() for _ in broker_checks]
    for attempt in range(ADD_ATTEMPTS):
        existing = db.get(account_key(partner_id), consistent=True, client=client)
        if existing is None:
            account = account_item(partner_id=partner_id, email_confirmed=verified, **details)
            account_write = db.tx_put(
                {**account, "password_set": True} if password else account, condition="attribute_not_exists(pk)"
            )
        elif password and not existing.get("password_set"):
            account_write = db.tx_update(
                account_key(partner_id),
                expression="SET password_set = :yes",
                condition="attribute_exists(pk)",
                values={":yes": True},
            )
        else:
            account_write = db.tx_check(account_key(partner_id), condition="attribute_exists(pk)")
        try:
            return _join(
                org_id,
                partner_id,
                details,
                status=new.status,
                origin="added",
                actor=f"user:{member.user_id}",
                brokers=new.brokers,
                upline=upline,
                account_write=account_write,
                checks=[*sponsor_checks, *broker_checks],
                check_refusals=refusals,
                client=client,
            )
        except _AccountChanged:
            if attempt == ADD_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def add_existing(org_id: str, member: Member, body: ExistingPartner, *, client: Any = None) -> db.Item:
    """Enterprise: a partner of the parent organisation joins this (child) organisation with the same
    account. Not a partner of the parent (or no parent): 404."""
    org = db.get(org_key(org_id), client=client) or {}
    parent_id = org.get("parent_id")
    missing = NotFound(f"partner {body.partner_id} not found in the parent organisation")
    if not parent_id:
        raise missing
    broker_checks = check_brokers(org_id, body.brokers, client=client)
    items = db.batch_get(
        [account_key(body.partner_id), node_key(parent_id, body.partner_id)], consistent=True, client=client
    )
    account = next((i for i in items if i["sk"] == "ACCOUNT"), None)
    parent_node = next((i for i in items if i["sk"] != "ACCOUNT"), None)
    if account is None or parent_node is None or parent_node.get("removed_at"):
        raise missing
    parent_check = db.tx_check(
        node_key(parent_id, body.partner_id), condition="attribute_exists(pk) AND attribute_not_exists(removed_at)"
    )
    details = {k: account.get(k) for k in ("first_name", "last_name", "email", "phone")}
    return _join(
        org_id,
        body.partner_id,
        details,
        status=body.status,
        origin="existing",
        actor=f"user:{member.user_id}",
        brokers=body.brokers,
        upline=[],
        account_write=db.tx_check(account_key(body.partner_id), condition="attribute_exists(pk)"),
        checks=[parent_check, *broker_checks],
        check_refusals=[missing, *(broker_gone() for _ in broker_checks)],
        client=client,
    )


# -- reading ---------------------------------------------------------------------------------------


def list_partners(
    org_id: str,
    *,
    status: PartnerStatus | None = None,
    live_without_lead: bool = False,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    client: Any = None,
) -> tuple[list[db.Item], str | None]:
    """By status, newest first; or the whole programme structure (every status but ARCHIVED, which is
    listed only when asked for). Removed partners are in no index, so never listed."""
    if live_without_lead:
        if status not in (None, S.LIVE):
            raise invalid("query.filter", "live_without_lead lists LIVE partners only")
        status = S.LIVE
    if status is not None:
        return db.query(
            index="gsi1",
            key_condition="gsi1pk = :pk",
            values={":pk": f"ORG#{org_id}#PARTNERS#{status.value}"},
            filter_expression="attribute_not_exists(last_lead_at)" if live_without_lead else None,
            newest_first=True,
            cursor=cursor,
            limit=limit,
            client=client,
        )
    return db.query(
        index="gsi2",
        key_condition="gsi2pk = :pk",
        values={":pk": tree_partition(org_id), ":archived": S.ARCHIVED.value},
        names={"#status": "status"},
        filter_expression="#status <> :archived",
        cursor=cursor,
        limit=limit,
        client=client,
    )


# -- editing and removing --------------------------------------------------------------------------


def edit_partner(org_id: str, partner_id: str, edit: PartnerEdit, actor: str, *, client: Any = None) -> db.Item:
    fields = {name: getattr(edit, name) for name in edit.model_fields_set}
    if not fields:
        raise invalid("body", "name at least one of first_name, last_name, phone")
    for name in ("first_name", "last_name"):
        if name in fields and fields[name] is None:
            raise invalid(f"body.{name}", "cannot be removed")
    node = get_node(org_id, partner_id, client=client)
    first, last = fields.get("first_name", node["first_name"]), fields.get("last_name", node["last_name"])
    event = history_event("edited", actor, fields=sorted(fields))
    change = NodeChange(node, event, set_fields={**fields, "name": f"{first} {last}".strip()})
    return change.write(client=client)


def remove_partner(org_id: str, partner_id: str, actor: str, *, client: Any = None) -> None:
    """The partner leaves the organisation: out of every index, the e-mail free again; the node and its
    history stay (staff can still read the activity). The account stays for their other organisations."""
    node = get_node(org_id, partner_id, client=client)
    at = clock.now_iso()
    change = NodeChange(
        node,
        history_event("removed", actor, status=node["status"]),
        set_fields={"removed_at": at, "removed_by": actor},
        remove=[a for a in ("gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk") if a in node],
    )
    guard = db.tx_delete(
        org_email_key(org_id, node["email"]),
        condition="attribute_not_exists(pk) OR partner_id = :partner",
        values={":partner": partner_id},
    )

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        return change.refusal(failed[0]) if failed[0] is not None else Conflict("the e-mail guard changed meanwhile")

    db.transact([change.tx(), guard, *change.pages()], on_cancel=_refusal, client=client)


def nodes_of(partner_id: str, *, client: Any = None) -> list[db.Item]:
    """Every organisation's node of a partner (removed ones too): one query of the partner's partition."""
    pages = db.pages(
        key_condition="pk = :pk AND begins_with(sk, :org)",
        values={":pk": partner_pk(partner_id), ":org": "ORG#"},
        consistent=True,
        limit=100,
        client=client,
    )
    return [item for page in pages for item in page if item.get("entity") == "partner_node"]
