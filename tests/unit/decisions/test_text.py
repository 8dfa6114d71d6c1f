"""The text policy: what free text may reach the store, and its JSON Schema twin."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from decisions.exceptions import InvalidProposal
from decisions.model import (
    Acceptance,
    Actor,
    Comment,
    Decision,
    Opinion,
    ProgressReport,
    Recusal,
    Role,
    Vote,
)
from decisions.text import (
    LINE_MAX,
    LONG_TEXT_MAX,
    NAME_MAX,
    REASON_MAX,
    SAFE_TEXT_PATTERN,
    LongText,
    clean_text,
    decode_utf8,
    plain_text,
)

FORBIDDEN = [
    *[chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"],
    "\x7f",
    "\x85",
    "\x9f",
    *[chr(c) for c in range(0x202A, 0x202F)],
    *[chr(c) for c in range(0x2066, 0x206A)],
]


@pytest.mark.parametrize("char", FORBIDDEN, ids=[f"U+{ord(c):04X}" for c in FORBIDDEN])
def test_control_and_bidi_characters_are_refused_with_their_code_point(char: str) -> None:
    """Every C0/C1 control but tab and newline, and every bidi embedding, override and
    isolate control, is refused with its code point and position."""
    with pytest.raises(ValueError, match=f"U\\+{ord(char):04X} at character 4"):
        clean_text("abc" + char + "def")


def test_text_is_nfc_normalised_and_line_ends_folded() -> None:
    """Decomposed accents are composed and CRLF or CR become LF; tabs stay."""
    assert clean_text("Cafe\u0301\r\nnai\u0308ve\rx\ty") == "Café\nnaïve\nx\ty"


def test_plain_text_never_refuses_and_keeps_its_limit() -> None:
    """Text the engine composes is made safe and cut, never refused."""
    text = plain_text("a\x00b\u202e" + "c" * 100, limit=10)
    assert len(text) == 10 and text.endswith("…") and "\x00" not in text


@pytest.mark.parametrize(
    ("make", "limit"),
    [
        (lambda t: Opinion(recommendation="approve", ratings={}, rationale=t), LONG_TEXT_MAX),
        (
            lambda t: Opinion(recommendation="approve", ratings={}, rationale="x", conditions=(t,)),
            LINE_MAX,
        ),
        (lambda t: Comment(stance="support", text=t), LONG_TEXT_MAX),
        (lambda t: Vote(choice="approve", rationale="x", justification=t), REASON_MAX),
        (lambda t: Recusal(reason=t), LONG_TEXT_MAX),
        (
            lambda t: ProgressReport(percent_complete=5, text="x", measures_done=(t,)),
            LINE_MAX,
        ),
        (lambda t: Acceptance(verdict="accept", findings=t), LONG_TEXT_MAX),
        (lambda t: Actor(id="wang-fang", name=t, roles=frozenset({Role.EXPERT})), NAME_MAX),
    ],
    ids=[
        "rationale",
        "condition",
        "comment",
        "justification",
        "recusal",
        "measure",
        "findings",
        "actor-name",
    ],
)
def test_each_field_takes_its_limit_and_not_one_character_more(
    make: Callable[[str], object], limit: int
) -> None:
    """A field holds exactly its limit; one more character is refused with the limit named."""
    make("字" * limit)
    with pytest.raises(ValidationError, match=f"at most {limit} characters"):
        make("字" * (limit + 1))


def test_a_withdrawal_reason_is_held_to_the_policy() -> None:
    """A withdrawal's reason with a bidi override is refused as the planner's mistake."""
    decision = Decision.file(
        id="D-2026-0001",
        title="t",
        description="d",
        class_name="standard",
        district="east-district",
        planner_id="li-wei",
    )
    with pytest.raises(InvalidProposal, match="The reason for withdrawing contains"):
        decision.withdraw("changed\u202e")


class _Probe(BaseModel):
    text: LongText


@given(st.text(max_size=40))
def test_the_schema_pattern_and_the_policy_agree(text: str) -> None:
    """Prefect's server (the JSON Schema pattern) and Counsel refuse exactly the same text,
    and whatever passes is stored NFC-normalised with LF line ends."""
    pattern = _Probe.model_json_schema()["properties"]["text"]["pattern"]
    assert pattern == SAFE_TEXT_PATTERN
    server_accepts = re.fullmatch(pattern, text) is not None
    try:
        stored = _Probe(text=text).text
    except ValidationError:
        assert not server_accepts
    else:
        assert server_accepts
        assert stored == unicodedata.normalize("NFC", stored)
        assert "\r" not in stored


def test_text_that_normalisation_lengthens_is_judged_by_what_was_typed() -> None:
    """Text at its limit that NFC lengthens (U+0958 becomes two characters) passes here as
    it passes Prefect's server, so a resumed form never fails on it."""
    typed = "\u0958" * LONG_TEXT_MAX
    assert len(_Probe(text=typed).text) == 2 * LONG_TEXT_MAX


def test_a_file_that_is_not_utf8_is_named_with_its_line_byte_and_fix() -> None:
    """A GB18030 file is refused with its name, the first bad line and byte, and iconv."""
    data = "title: ok\nrationale: 可行\n".encode("gb18030")
    with pytest.raises(ValueError) as refused:
        decode_utf8(data, source="answer.yaml")
    message = str(refused.value)
    assert message.startswith("answer.yaml is not UTF-8 text: line 2, byte 22 (0xBF)")
    assert "iconv -f GB18030 -t UTF-8 answer.yaml > utf8-answer.yaml" in message
    assert decode_utf8("\ufeff意见".encode(), source="x") == "意见"
