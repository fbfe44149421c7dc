"""Files on a deal, uploaded straight to S3 with a presigned POST and fetched with short-lived presigned GETs;
the function never carries file bytes.

    file  ORG#<org>#DEAL#<dealId> / FILE#<fileId>      S3 object orgs/<org>/deals/<dealId>/<fileId>

The file record is written when the upload is granted. S3 enforces the grant's policy: that exact key, the
declared content type (one of ALLOWED_TYPES), and a length of at most the declared size (itself at most
MAX_FILE_BYTES); a request outside those limits is refused before anything is granted (422).
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal, get_args
from urllib.parse import quote

import boto3
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.deals.deal_records import deal_pk, guard_refusal, partner_guard, require_shared, staff_deal, staff_guard
from common.orgs.access import Member
from common.partners.partner_caller import PartnerCaller
from common.platform import clock, db, ids, listings
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, DomainError
from common.platform.settings import FilesBucket, get_settings
from common.platform.validation import SINGLE_LINE

MAX_FILE_BYTES = 10 * 1024 * 1024
UPLOAD_EXPIRES = timedelta(minutes=10)
DOWNLOAD_EXPIRES = timedelta(minutes=5)
# The documents a deal needs: PDF, PNG and JPEG images, Word and Excel documents, plain text and CSV.
ContentType = Literal[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "text/plain",
    "text/csv",
]
ALLOWED_TYPES: tuple[str, ...] = get_args(ContentType)
# A file name is shown and offered as the download's name: no control characters or path separators.
FileName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^/\\]+$"),
    SINGLE_LINE,
]


class NewFile(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "valuation.pdf", "content_type": "application/pdf", "size": 245760}]},
    )
    name: FileName
    content_type: ContentType
    size: int = Field(ge=1, le=MAX_FILE_BYTES, description=f"bytes, at most {MAX_FILE_BYTES}")


class DealFile(NewFile, Answer):
    """A file as declared (NewFile; the upload may not exceed its size), where it belongs and its download
    link (it works once the upload is done)."""

    model_config = Answer.model_config
    org_id: str
    deal_id: str
    file_id: str
    uploaded_by: str = Field(description="user:<id> or partner:<id>")
    created_at: Timestamp
    download_url: str = Field(description="a presigned GET, valid for a few minutes")


class UploadGrant(Answer):
    url: str
    fields: dict[str, str] = Field(description="send these as form fields of a multipart POST, the file last")
    expires_at: Timestamp


class FileUpload(Answer):
    file: DealFile
    upload: UploadGrant


@lru_cache(maxsize=1)
def _s3() -> Any:
    return boto3.client("s3", config=Config(signature_version="s3v4"))


def file_key(org_id: str, deal_id: str, file_id: str) -> db.Key:
    return {"pk": deal_pk(org_id, deal_id), "sk": f"FILE#{file_id}"}


def object_key(org_id: str, deal_id: str, file_id: str) -> str:
    return f"orgs/{org_id}/deals/{deal_id}/{file_id}"


def upload_grant(item: db.Item, *, client: Any = None) -> UploadGrant:
    """A presigned POST for exactly this file: its key, its content type and at most its declared size."""
    s3 = client or _s3()
    form = s3.generate_presigned_post(
        Bucket=get_settings(FilesBucket).files_bucket,
        Key=item["s3_key"],
        Fields={"Content-Type": item["content_type"]},
        Conditions=[{"Content-Type": item["content_type"]}, ["content-length-range", 1, item["size"]]],
        ExpiresIn=int(UPLOAD_EXPIRES.total_seconds()),
    )
    return UploadGrant(url=form["url"], fields=form["fields"], expires_at=clock.iso(clock.now() + UPLOAD_EXPIRES))


def download_url(item: db.Item, *, client: Any = None) -> str:
    s3 = client or _s3()
    url: str = s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": get_settings(FilesBucket).files_bucket,
            "Key": item["s3_key"],
            "ResponseContentType": item["content_type"],
            "ResponseContentDisposition": f"attachment; filename*=UTF-8''{quote(item['name'], safe='')}",
        },
        ExpiresIn=int(DOWNLOAD_EXPIRES.total_seconds()),
    )
    return url


def _file_item(org_id: str, deal_id: str, new: NewFile, uploaded_by: str) -> db.Item:
    file_id = ids.new_id()
    return {
        **file_key(org_id, deal_id, file_id),
        "entity": "deal_file",
        "org_id": org_id,
        "deal_id": deal_id,
        "file_id": file_id,
        "name": new.name,
        "content_type": new.content_type,
        "size": new.size,
        "s3_key": object_key(org_id, deal_id, file_id),
        "uploaded_by": uploaded_by,
        "created_at": clock.now_iso(),
    }


def _grant(guard: dict[str, Any], item: db.Item, client: Any, s3: Any) -> FileUpload:
    def refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[0] is not None:
            return guard_refusal(item["deal_id"], failed[0])
        return Conflict("file id collision; retry")

    db.transact([guard, db.tx_put(item, condition="attribute_not_exists(pk)")], on_cancel=refusal, client=client)
    return FileUpload(file=linked_view(item, client=s3), upload=upload_grant(item, client=s3))


def add_staff_file(
    org_id: str, deal_id: str, member: Member, new: NewFile, *, client: Any = None, s3: Any = None
) -> FileUpload:
    item = _file_item(org_id, deal_id, new, member.actor)
    return _grant(staff_guard(org_id, deal_id, member), item, client, s3)


def add_partner_file(
    caller: PartnerCaller, deal_id: str, new: NewFile, *, client: Any = None, s3: Any = None
) -> FileUpload:
    item = _file_item(caller.org_id, deal_id, new, caller.actor)
    return _grant(partner_guard(caller.org_id, deal_id, caller.partner_id), item, client, s3)


def linked_view(item: db.Item, *, client: Any = None) -> DealFile:
    """A file as every route answers it: with its download link (it works once the upload is done)."""
    return DealFile.of(item, download_url=download_url(item, client=client))


def _with_links(items: list[db.Item], s3: Any) -> list[DealFile]:
    return [linked_view(i, client=s3) for i in items]


def list_staff_files(
    org_id: str,
    deal_id: str,
    member: Member,
    *,
    cursor: str | None = None,
    limit: int = 50,
    client: Any = None,
    s3: Any = None,
) -> tuple[list[DealFile], str | None]:
    """Every file of the deal, newest first, each with a short-lived download link."""
    staff_deal(org_id, deal_id, member, client=client)
    items, next_cursor = listings.query(
        key_condition="pk = :pk AND begins_with(sk, :prefix)",
        values={":pk": deal_pk(org_id, deal_id), ":prefix": "FILE#"},
        newest_first=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )
    return _with_links(items, s3), next_cursor


def list_partner_files(
    caller: PartnerCaller,
    deal_id: str,
    *,
    cursor: str | None = None,
    limit: int = 50,
    client: Any = None,
    s3: Any = None,
) -> tuple[list[DealFile], str | None]:
    """The files the partner uploaded to the deal, newest first, each with a short-lived download link."""
    require_shared(caller, deal_id, client=client)
    items, next_cursor = listings.query(
        key_condition="pk = :pk AND begins_with(sk, :prefix)",
        filter_expression="uploaded_by = :me",
        values={":pk": deal_pk(caller.org_id, deal_id), ":prefix": "FILE#", ":me": caller.actor},
        newest_first=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )
    return _with_links(items, s3), next_cursor
