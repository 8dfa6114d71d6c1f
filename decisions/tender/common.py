"""What the tender modules share: ids, keys, bilingual labels, strict frozen models."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from decisions.text import Name, shown

__all__ = [
    "ID_PATTERN",
    "KEY_PATTERN",
    "DistrictType",
    "Lang",
    "ShortId",
    "Key",
    "Label",
    "Strict",
]

#: A lot's, a bid's or a rule's id: ``L1``, ``east-3``, ``B2026.07``.
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
#: A declared fact's or a criterion's key: ``registered_capital``, ``technical``.
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

#: The district types a class may be adjusted for (the same as :mod:`decisions.classes`).
DistrictType = Literal["east", "middle", "west"]
#: The languages a report is written in.
Lang = Literal["zh", "en"]


class Strict(BaseModel):
    """A frozen model that refuses keys it does not know, so a misspelling is caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_text(value: Any) -> Any:
    """YAML reads ``id: 3`` as a number; an id of digits is still an id."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _check_id(value: str) -> str:
    if not ID_PATTERN.match(value):
        raise ValueError(
            "an id is 1-40 letters, digits, dots, dashes or underscores starting with a "
            f"letter or digit, not {shown(value)}"
        )
    return value


def _check_key(value: str) -> str:
    if not KEY_PATTERN.match(value):
        raise ValueError(
            "a key is 1-40 lowercase letters, digits or underscores starting with a letter, "
            f"not {shown(value)}"
        )
    return value


ShortId = Annotated[str, BeforeValidator(_as_text), AfterValidator(_check_id)]
Key = Annotated[str, AfterValidator(_check_key)]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("a label cannot be blank")
    return value


class Label(Strict):
    """A name shown to people: in Chinese (``zh``) and in English (``en``), both required."""

    zh: Annotated[Name, AfterValidator(_not_blank)]
    en: Annotated[Name, AfterValidator(_not_blank)]

    def __call__(self, lang: str) -> str:
        """The label in ``lang`` (``zh`` or ``en``; Chinese for anything else)."""
        return self.en if lang == "en" else self.zh
