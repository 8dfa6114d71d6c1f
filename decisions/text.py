"""The text policy: every free text a person writes passes here before it reaches the store.

Answers, proposals and their versions, names, comments and reasons are read later by other
people — in the CLI, in Prefect's UI, in reports an auditor exports — so what is stored must
be plain text that shows as it was meant:

* it is NFC-normalised (``"e\\u0301"`` and ``"é"`` are one spelling), and ``\\r\\n`` or a lone
  ``\\r`` becomes ``\\n``;
* it holds no NUL or other control character except newline and tab (C0, DEL and C1);
* it holds no bidirectional embedding, override or isolate control (U+202A–U+202E,
  U+2066–U+2069), which would make text show reversed or out of order;
* it fits the field it is for: a name is a line, a rationale a few pages, not a megabyte.

The same rules are expressed as JSON Schema (``maxLength`` and :data:`SAFE_TEXT_PATTERN`) in
the answer forms, so Prefect's server refuses such input before a run resumes. The types
below (:data:`Name`, :data:`Title`, :data:`Line`, :data:`Reason`, :data:`LongText`,
:data:`Document`) carry both: pydantic applies :func:`clean_text` and the length, and the
schema carries the pattern.

>>> clean_text("Cafe\\u0301\\r\\nok")
'Café\\nok'
>>> clean_text("evil\\u202eexe.txt")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: contains the bidirectional control U+202E at character 5; remove it ...
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

__all__ = [
    "clean_text",
    "shown",
    "decode_utf8",
    "checked_text",
    "plain_text",
    "SAFE_TEXT_PATTERN",
    "NAME_MAX",
    "TITLE_MAX",
    "LINE_MAX",
    "REASON_MAX",
    "LONG_TEXT_MAX",
    "DOCUMENT_MAX",
    "Name",
    "Title",
    "Line",
    "Reason",
    "LongText",
    "Document",
]

#: A person's or organisation's name.
NAME_MAX = 200
#: A proposal's title.
TITLE_MAX = 300
#: One condition, one measure: a line of a list.
LINE_MAX = 1_000
#: A reason, a justification, a note, a list of conditions: a few paragraphs.
REASON_MAX = 4_000
#: A rationale, a comment, a progress report, findings: a few pages.
LONG_TEXT_MAX = 20_000
#: A proposal's description and text: a document of some twenty pages.
DOCUMENT_MAX = 100_000

_BIDI = "\u202a-\u202e\u2066-\u2069"
_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_FORBIDDEN = re.compile(f"[{_CONTROLS}{_BIDI}]")

#: The JSON Schema pattern of safe text (carriage returns pass; :func:`clean_text` folds them).
SAFE_TEXT_PATTERN = (
    r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]*$"
)


def clean_text(value: str) -> str:
    """Return ``value`` NFC-normalised with line ends folded to ``\\n``, or raise.

    Raises
    ------
    ValueError
        With a sentence naming the first forbidden character and where it is.
    """
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    if found := _FORBIDDEN.search(text):
        char = found.group()
        code = f"U+{ord(char):04X}"
        where = f"at character {found.start() + 1}"
        if "\u202a" <= char <= "\u202e" or "\u2066" <= char <= "\u2069":
            raise ValueError(
                f"contains the bidirectional control {code} {where}; "
                "remove it and type the text as it should read"
            )
        name = "NUL" if char == "\x00" else "the control character"
        raise ValueError(
            f"contains {name} {code} {where}; only letters, punctuation, spaces, "
            "tabs and line breaks are allowed"
        )
    return text


def shown(value: object, *, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, to quote what someone typed in a refusal
    without echoing a megabyte back.

    >>> shown("x" * 100, limit=10)
    "'xxxxxxxx…"
    """
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def decode_utf8(data: bytes, *, source: str) -> str:
    """The text of a file people wrote (an answer, a proposal, a classes file), or a
    ``ValueError`` naming the file, the first line and byte that are not UTF-8, and the fix.

    >>> decode_utf8("意见".encode("gb18030"), source="answer.yaml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: answer.yaml is not UTF-8 text: line 1, byte 1 (0xD2) cannot be read. ...
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ValueError(
            f"{source} is not UTF-8 text: line {line}, byte {err.start + 1} "
            f"(0x{data[err.start]:02X}) cannot be read. If it was saved as GBK or GB18030 "
            f"(Excel and Notepad on a Chinese Windows do), convert it with "
            f"`iconv -f GB18030 -t UTF-8 {source} > utf8-{Path(source).name}` and use that."
        ) from None


def checked_text(value: str, *, what: str, limit: int) -> str:
    """:func:`clean_text` with a length check, for text that arrives outside a model.

    Raises ``ValueError`` with a sentence that starts with ``what`` (e.g. "The reason").
    """
    try:
        text = clean_text(value)
    except ValueError as err:
        raise ValueError(f"{what} {err}.") from err
    if len(text) > limit:
        raise ValueError(f"{what} is {len(text):,} characters long; at most {limit:,} are kept.")
    return text


def plain_text(value: str, *, limit: int) -> str:
    """Text the engine composes (a failure's cause, collected questions) made safe to store.

    Unlike :func:`clean_text` it never refuses: forbidden characters become U+FFFD and the
    text is cut to ``limit`` characters with an ellipsis, so recording why something failed
    can never fail in turn.

    >>> plain_text("disk\\x00full " + "x" * 20, limit=12)
    'disk�full x…'
    """
    text = _FORBIDDEN.sub("\ufffd", unicodedata.normalize("NFC", value.replace("\r\n", "\n")))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _policy(limit: int) -> tuple[Any, Any]:
    """The field's JSON Schema (``maxLength``, ``pattern``) and its check in Python.

    The length is checked before normalising, as Prefect's server checks the schema, so the
    two never disagree (NFC can lengthen a few scripts' text: U+0958 becomes two characters).
    """

    def check(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if len(value) > limit:
            raise ValueError(f"String should have at most {limit} characters")
        return clean_text(value)

    schema = Field(json_schema_extra={"maxLength": limit, "pattern": SAFE_TEXT_PATTERN})
    return schema, BeforeValidator(check)


_NAME_MAX = _policy(NAME_MAX)
Name = Annotated[str, _NAME_MAX[0], _NAME_MAX[1]]
_TITLE_MAX = _policy(TITLE_MAX)
Title = Annotated[str, _TITLE_MAX[0], _TITLE_MAX[1]]
_LINE_MAX = _policy(LINE_MAX)
Line = Annotated[str, _LINE_MAX[0], _LINE_MAX[1]]
_REASON_MAX = _policy(REASON_MAX)
Reason = Annotated[str, _REASON_MAX[0], _REASON_MAX[1]]
_LONG_TEXT_MAX = _policy(LONG_TEXT_MAX)
LongText = Annotated[str, _LONG_TEXT_MAX[0], _LONG_TEXT_MAX[1]]
_DOCUMENT_MAX = _policy(DOCUMENT_MAX)
Document = Annotated[str, _DOCUMENT_MAX[0], _DOCUMENT_MAX[1]]
