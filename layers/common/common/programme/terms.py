"""The programme's terms: numbered PDF versions in S3, the current one in the organisation's programme
settings, and each partner's acceptance (version and time) on their node.

    settings  ORG#<org> / PROGRAMME   terms_versions_issued (a counter), current_terms_version,
                                      terms_published_at, terms_published_by (the other fields are the
                                      portal settings', never written here)
    file      <files bucket>/orgs/<org>/terms/<version>.pdf

An admin asks for the next version (a draft: a number and a presigned upload), uploads the PDF straight
to S3, then publishes it. From then on every partner must accept that version before their next action
(partner_caller.require_partner refuses them until they do).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from common.orgs.access import Member, Principal, member_or_none
from common.partners.partner_caller import PartnerCaller, require_partner
from common.partners.partner_records import (
    NODE_HISTORY,
    PartnerStatus,
    history_event,
    node_key,
    settings_key,
    status_partition,
)
from common.platform import clock, db, history
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, DomainError, FieldError, Forbidden, NotFound
from common.platform.settings import FilesBucket, get_settings

PDF = "application/pdf"
MAX_TERMS_BYTES = 10 * 1024 * 1024
UPLOAD_SECONDS = 15 * 60
DOWNLOAD_SECONDS = 10 * 60
SETTINGS_ENTITY = "programme_settings"  # the settings item's kind, as the portal settings name it


class TermsAcceptance(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"version": 2}]})
    version: int = Field(ge=1, description="the version being accepted: the current one")


class Upload(Answer):
    url: str
    fields: dict[str, str] = Field(description="form fields to send with the file (the file goes last, as `file`)")


class TermsDraft(Answer):
    version: int
    status: Literal["draft"]
    upload: Upload
    content_type: str
    max_bytes: int
    expires_in: int = Field(description="seconds the upload form stays valid")


class PublishedTerms(Answer):
    """The current terms as published."""

    version: int | None = Field(description="the current version; null while none is published")
    published_at: Timestamp | None = None


class Terms(PublishedTerms):
    """The current terms with a download link, as staff read them."""

    url: str | None = Field(description="a short-lived download link of the PDF; null while none is published")
    url_expires_in: int | None = Field(description="seconds the link works")


class PartnerTerms(Terms):
    """The current terms as a partner reads them: also what they accepted."""

    accepted_version: int | None = Field(description="the version they accepted")
    accepted_at: Timestamp | None = None
    accepted: bool = Field(description="whether they accepted the current version (true while none is published)")


@lru_cache(maxsize=1)
def _s3() -> Any:
    # Signature v4: presigned URLs of every region accept it.
    return boto3.client("s3", config=Config(signature_version="s3v4"))


def object_key(org_id: str, version: int) -> str:
    return f"orgs/{org_id}/terms/{version}.pdf"


def _bucket() -> str:
    return get_settings(FilesBucket).files_bucket


def _require_admin(member: Member) -> None:
    if member.role != "admin":
        raise Forbidden("only an admin of the organisation manages the programme's terms")


# -- what a new participant accepts ----------------------------------------------------------------


def required_acceptance(settings: dict[str, Any], accepted: int | None) -> int | None:
    """The terms version a joining or registering partner accepts: when a version is published they must
    name it (409 not_current otherwise); when none is, nothing is needed."""
    current = settings.get("current_terms_version")
    if current is None:
        return None
    if accepted != current:
        raise not_current(current, "body.accept_terms_version")
    return int(current)


def not_current(current: int, field: str) -> Conflict:
    """One refusal wherever a version other than the current terms is accepted (joining, registering,
    accepting): it names the current version."""
    return Conflict(
        f"accept the programme's current terms: version {current}",
        errors=[FieldError(field, f"is not the current version, {current}")],
        conflicting_ids=[current],
    )


def terms_check(org_id: str, version: int | None) -> dict[str, Any]:
    """Holds a transaction to the terms version it was decided on: a version published meanwhile cancels it."""
    if version is None:
        return db.tx_check(
            settings_key(org_id),
            condition="attribute_not_exists(current_terms_version) OR attribute_type(current_terms_version, :null)",
            values={":null": "NULL"},
        )
    return db.tx_check(settings_key(org_id), condition="current_terms_version = :version", values={":version": version})


def terms_changed() -> Conflict:
    return Conflict("the programme's terms changed meanwhile: read and accept the current version")


# -- admins: upload and publish --------------------------------------------------------------------


def start_upload(org_id: str, member: Member, *, client: Any = None, s3: Any = None) -> TermsDraft:
    """The next version number (a draft until published) and a presigned POST for its PDF: that exact key,
    the PDF content type, at most 10 MB."""
    _require_admin(member)
    item = db.update(
        settings_key(org_id),
        expression="SET entity = if_not_exists(entity, :entity), org_id = :org ADD terms_versions_issued :one",
        values={":entity": SETTINGS_ENTITY, ":org": org_id, ":one": 1},
        client=client,
    )
    version = int(item["terms_versions_issued"])
    upload = (s3 or _s3()).generate_presigned_post(
        Bucket=_bucket(),
        Key=object_key(org_id, version),
        Fields={"Content-Type": PDF},
        Conditions=[{"Content-Type": PDF}, ["content-length-range", 1, MAX_TERMS_BYTES]],
        ExpiresIn=UPLOAD_SECONDS,
    )
    return TermsDraft(
        version=version,
        status="draft",
        upload=Upload(url=upload["url"], fields=upload["fields"]),
        content_type=PDF,
        max_bytes=MAX_TERMS_BYTES,
        expires_in=UPLOAD_SECONDS,
    )


def _uploaded(org_id: str, version: int, s3: Any) -> None:
    try:
        head = (s3 or _s3()).head_object(Bucket=_bucket(), Key=object_key(org_id, version))
    except ClientError as error:
        # Without s3:ListBucket (the function's role has none) S3 answers a missing key with 403, not 404.
        if str(error.response.get("Error", {}).get("Code")) in ("403", "404", "NoSuchKey", "NotFound", "Forbidden"):
            raise Conflict(f"upload the PDF of version {version} before publishing it") from error
        raise
    if head.get("ContentType") != PDF or int(head.get("ContentLength", 0)) > MAX_TERMS_BYTES:
        raise Conflict(f"the upload of version {version} is not a PDF of at most 10 MB: upload it again")


def publish(org_id: str, member: Member, version: int, *, client: Any = None, s3: Any = None) -> PublishedTerms:
    """Make an uploaded draft the current terms. Only a newer version than the current one can be
    published; publishing the current one again changes nothing."""
    _require_admin(member)
    settings = db.get(settings_key(org_id), consistent=True, client=client) or {}
    if version > int(settings.get("terms_versions_issued", 0)):
        raise NotFound(f"terms version {version} not found")
    if settings.get("current_terms_version") == version:
        return terms_view(settings)
    _uploaded(org_id, version, s3)

    def _refusal(current: db.Item | None) -> DomainError | None:
        published = (current or {}).get("current_terms_version")
        if published == version:
            return None  # published by a concurrent request: the same outcome
        return Conflict(f"version {published} is already published: only a newer upload can replace it")

    item = db.update(
        settings_key(org_id),
        expression="SET current_terms_version = :version, terms_published_at = :at, terms_published_by = :by",
        condition="attribute_not_exists(current_terms_version) OR attribute_type(current_terms_version, :null) "
        "OR current_terms_version < :version",
        values={":version": version, ":at": clock.now_iso(), ":by": member.actor, ":null": "NULL"},
        on_conflict=_refusal,
        client=client,
    )
    return terms_view(item)


# -- everyone: read and accept ---------------------------------------------------------------------


def terms_view(settings: db.Item) -> PublishedTerms:
    return PublishedTerms(
        version=settings.get("current_terms_version"), published_at=settings.get("terms_published_at")
    )


def terms_for(org_id: str, principal: Principal, *, client: Any = None, s3: Any = None) -> Terms | PartnerTerms:
    """The current terms for a staff member of the organisation, or for one of its partners (also while they
    have not accepted them yet) with what they accepted."""
    if member_or_none(principal, org_id, client=client) is not None:
        return current_terms(org_id, client=client, s3=s3)
    partner = require_partner(principal, org_id, accepting_terms=True, client=client)
    return current_terms(org_id, node=partner.node, client=client, s3=s3)


def current_terms(
    org_id: str, *, node: db.Item | None = None, client: Any = None, s3: Any = None
) -> Terms | PartnerTerms:
    """The current version with a short-lived download link; for a partner (their `node`) also what they
    accepted. No version published yet: nulls."""
    settings = db.get(settings_key(org_id), client=client) or {}
    published = terms_view(settings)
    view: dict[str, Any] = {**published.model_dump(), "url": None, "url_expires_in": None}
    version = published.version
    if version is not None:
        view["url"] = (s3 or _s3()).generate_presigned_url(
            "get_object",
            Params={
                "Bucket": _bucket(),
                "Key": object_key(org_id, version),
                "ResponseContentType": PDF,
                "ResponseContentDisposition": f'inline; filename="terms-v{version}.pdf"',
            },
            ExpiresIn=DOWNLOAD_SECONDS,
        )
        view["url_expires_in"] = DOWNLOAD_SECONDS
    if node is None:
        return Terms.of(view)
    return PartnerTerms.of(
        view,
        accepted_version=node.get("terms_version"),
        accepted_at=node.get("terms_accepted_at"),
        accepted=version is None or node.get("terms_version") == version,
    )


def accept(caller: PartnerCaller, version: int, *, client: Any = None) -> db.Item:
    """Record the partner's acceptance of the current version on their node. A partner whose terms were
    sent (PROSPECT_TERMS_SENT) becomes LIVE: the signed terms came back."""
    current = caller.settings.get("current_terms_version")
    if current is None:
        raise Conflict("the programme has no published terms to accept")
    if version != current:
        raise not_current(current, "body.version")
    node = caller.node
    if node.get("terms_version") == version:
        return node
    at = clock.now_iso()
    becomes_live = node["status"] == PartnerStatus.PROSPECT_TERMS_SENT.value
    event = history_event(
        "terms_accepted", caller.actor, terms_version=version, status=PartnerStatus.LIVE.value if becomes_live else None
    )
    addition = history.Addition(NODE_HISTORY, [event], node)
    sets = ["terms_version = :version", "terms_accepted_at = :at", "updated_at = :at", addition.expression]
    values: dict[str, Any] = {":version": version, ":at": at, ":was": node["status"], ":one": 1, **addition.values}
    if becomes_live:
        sets += ["#status = :live", "gsi1pk = :g1pk"]
        values |= {
            ":live": PartnerStatus.LIVE.value,
            ":g1pk": status_partition(caller.org_id, PartnerStatus.LIVE.value),
        }
    update = db.tx_update(
        node_key(caller.org_id, caller.partner_id),
        expression="SET " + ", ".join(sets) + " ADD version :one",
        condition=f"#status = :was AND attribute_not_exists(removed_at) AND {addition.condition}",
        names={"#status": "status"},
        values=values,
    )

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[0] is not None:
            return Conflict("your partnership changed meanwhile: retry")
        return terms_changed()

    actions = [update, terms_check(caller.org_id, version), *addition.pages()]
    db.transact(actions, on_cancel=_refusal, client=client)
    return db.get(node_key(caller.org_id, caller.partner_id), consistent=True, client=client) or node
