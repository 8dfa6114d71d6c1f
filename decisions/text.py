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
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

__all__ = [
    "clean_text",
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


def _clean_if_text(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


def _policy(limit: int) -> Any:
    return Field(max_length=limit, json_schema_extra={"pattern": SAFE_TEXT_PATTERN})


_CLEAN = BeforeValidator(_clean_if_text)

Name = Annotated[str, _policy(NAME_MAX), _CLEAN]
Title = Annotated[str, _policy(TITLE_MAX), _CLEAN]
Line = Annotated[str, _policy(LINE_MAX), _CLEAN]
Reason = Annotated[str, _policy(REASON_MAX), _CLEAN]
LongText = Annotated[str, _policy(LONG_TEXT_MAX), _CLEAN]
Document = Annotated[str, _policy(DOCUMENT_MAX), _CLEAN]
