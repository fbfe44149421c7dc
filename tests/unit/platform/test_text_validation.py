"""Human text fields: one-line text (names, titles, subjects) refuses control characters, invisible
formatting characters and line separators; multi-line text keeps tab, LF and CR only; both are stored
NFC-normalised, with lengths counted after normalising. That every text field of every request model is one
or the other: tests/unit/project/test_request_text_fields.py."""

from __future__ import annotations

import unicodedata

import pytest
from common.platform.validation import LongText, ShortText
from pydantic import TypeAdapter, ValidationError

SHORT = TypeAdapter(ShortText)
LONG = TypeAdapter(LongText)

# Format (Cf) and separator (Zl, Zp) characters; control characters (Cc) below.
INVISIBLE = [
    "\u200b",  # zero-width space
    "\u200c",  # zero-width non-joiner
    "\u200d",  # zero-width joiner
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u202a",  # left-to-right embedding
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u2067",
    "\u2068",
    "\u2069",
    "\u2060",  # word joiner
    "\ufeff",  # byte order mark
    "\u00ad",  # soft hyphen
    "\u061c",  # Arabic letter mark
    "\U000e0041",  # tag character
    "\u2028",  # line separator
    "\u2029",  # paragraph separator
]
CONTROLS = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9f"]
LINE_BREAKS = ["\n", "\r", "\t"]


def refusal(adapter: TypeAdapter[str], text: str) -> str:
    """The message of the one error validating `text`, or "accepted"."""
    try:
        adapter.validate_python(text)
    except ValidationError as error:
        (only,) = error.errors()
        return str(only["msg"])
    return "accepted"


def test_one_line_text_refuses_each_character_anywhere_inside() -> None:
    # Leading whitespace is stripped, not refused: those characters are tried after the first letter.
    texts = [f"Pa{c}t" for c in INVISIBLE + CONTROLS + LINE_BREAKS]
    texts += [f"{c}Pat" if not c.isspace() else f"P{c}at" for c in INVISIBLE + CONTROLS + LINE_BREAKS]
    named = {text: f"U+{ord(next(c for c in text if c not in 'Pat')):04X}" for text in texts}

    assert [text for text in texts if named[text] not in refusal(SHORT, text)] == []


def test_multi_line_text_refuses_each_character_but_line_breaks() -> None:
    texts = [f"First line\nsecond{c}line" for c in INVISIBLE + CONTROLS]

    assert [text for text in texts if f"U+{ord(text[17]):04X}" not in refusal(LONG, text)] == []


def test_multi_line_text_keeps_its_line_breaks_and_tabs() -> None:
    assert LONG.validate_python("Call first\r\nthen\te-mail\n\nThanks") == "Call first\r\nthen\te-mail\n\nThanks"


def test_the_position_is_named() -> None:
    assert refusal(SHORT, "Pat\u202ekcab") == (
        "must not contain control, invisible formatting or line separator characters (U+202E at position 3)"
    )


def test_names_in_any_script_are_accepted() -> None:
    names = ["René", "Zoë O'Brien-Šimić", "Ærøskøbing", "Łódź", "Ĳssel", "李小龍", "محمد", "דוד", "Nguyễn", "Ελένη"]

    assert [SHORT.validate_python(name) for name in names] == [unicodedata.normalize("NFC", n) for n in names]


def test_text_is_stored_nfc_normalised() -> None:
    decomposed = "Rene\u0301 Zoe\u0308"

    assert SHORT.validate_python(decomposed) == "Ren\u00e9 Zo\u00eb"
    assert LONG.validate_python(f"{decomposed}\nline") == "Ren\u00e9 Zo\u00eb\nline"
    assert SHORT.validate_python("\u212b") == "\u00c5"  # the angstrom sign is the letter Å


def test_lengths_are_counted_after_normalising() -> None:
    """200 letters with combining accents are 400 code points as sent, 200 as stored."""
    assert SHORT.validate_python("e\u0301" * 200) == "\u00e9" * 200
    with pytest.raises(ValidationError):
        SHORT.validate_python("e\u0301" * 201)


def test_surrounding_whitespace_is_still_stripped_and_blank_is_refused() -> None:
    assert SHORT.validate_python("  Pat \n") == "Pat"
    for blank in ("", "   ", "\n\t"):
        with pytest.raises(ValidationError):
            SHORT.validate_python(blank)


def test_a_lone_surrogate_is_refused() -> None:
    for adapter in (SHORT, LONG):
        with pytest.raises(ValidationError):
            adapter.validate_python("Pa\ud800t")


def test_a_number_is_not_a_name() -> None:
    with pytest.raises(ValidationError) as refused:
        SHORT.validate_python(5)

    assert refused.value.errors()[0]["type"] == "string_type"
