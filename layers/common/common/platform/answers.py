"""What every answer model shares. An answer is a pydantic model defined once, beside the domain code that
builds it; the routes return it, Powertools validates it against the route's return type, and the OpenAPI
document is generated from it. A model is built from the stored item by picking its own fields
(`Answer.of`), so storage attributes and internal fields never reach a caller and nothing is stripped by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

# Times are stored as fixed-width ISO 8601 strings (common.platform.clock.iso) and answered as stored: no
# parsing on the way out, and the document still says they are date-times.
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class Answer(BaseModel):
    """An answer: the fields it declares and nothing else. Every declared field is always present in the
    JSON (null when unset), so the document lists them all as required.

    An answer that derives from the input model whose fields it repeats sets `model_config =
    Answer.model_config`: input models forbid extra fields and carry an example of the input, which lacks
    what the answer adds (pydantic merges a parent's config), so both are reset here."""

    model_config = ConfigDict(extra="ignore", json_schema_serialization_defaults_required=True, json_schema_extra=None)

    @classmethod
    def of(cls, item: Mapping[str, Any], **fields: Any) -> Self:
        """The answer for a stored item; `fields` add or replace what the item does not hold as answered."""
        return cls.model_validate({**item, **fields} if fields else item)

    @classmethod
    def each(cls, items: Iterable[Mapping[str, Any]]) -> list[Self]:
        return [cls.of(item) for item in items]


AnswerT = TypeVar("AnswerT", bound=BaseModel)


class Page(BaseModel, Generic[AnswerT]):
    """A listing's answer: one page of items and the cursor of the next page."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    items: list[AnswerT]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last page")

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        # Page[Lead] is the document's LeadPage.
        return f"{params[0].__name__}Page"


ItemAnswerT = TypeVar("ItemAnswerT", bound=Answer)


def page_of(
    model: type[ItemAnswerT], items: Iterable[Mapping[str, Any] | ItemAnswerT], next_cursor: str | None
) -> Page[ItemAnswerT]:
    """A page of `model` answers from stored items (or answers already built from them)."""
    answers = [item if isinstance(item, model) else model.of(item) for item in items]  # type: ignore[arg-type]
    return Page[model](items=answers, next_cursor=next_cursor)  # type: ignore[valid-type]
