"""The people and units who act in Counsel, and the roles that say what they may be asked to do.

What an actor may do on a particular decision is the powers policy's ruling
(:mod:`decisions.powers`); a role only makes them a candidate for that kind of work.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from decisions.text import Name, shown

__all__ = [
    "ACTOR_ID_PATTERN",
    "LANGUAGES",
    "Language",
    "MAX_ADDRESSES",
    "Role",
    "Actor",
    "check_address",
]

ACTOR_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")

#: The languages Counsel writes to people in; Chinese unless the person asks for English.
Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
#: Where one person may be told of their tasks (e-mail, a WeCom bot, an SMS gateway...).
MAX_ADDRESSES = 8
MAX_ADDRESS_LENGTH = 1000
_ADDRESS = re.compile(r"^[a-z][a-z0-9+.-]{1,31}://\S+$")


def check_address(address: str) -> str:
    """A notification address is an Apprise URL (``mailto://…``, ``wecombot://KEY``,
    ``dingtalk://…``, ``json://host/path``…): one line, a scheme, no spaces or control
    characters. Whether the scheme is one Apprise knows is checked by the notifier."""
    if len(address) > MAX_ADDRESS_LENGTH:
        raise ValueError(
            f"a notification address is at most {MAX_ADDRESS_LENGTH} characters, not {len(address)}"
        )
    if not _ADDRESS.match(address):
        raise ValueError(
            "a notification address is an Apprise URL such as mailto://wang@example.cn or "
            f"wecombot://KEY, not {shown(address)}"
        )
    return address


class Role(StrEnum):
    PLANNER = "planner"
    EXPERT = "expert"
    STAKEHOLDER = "stakeholder"
    MEMBER = "member"
    EXECUTOR = "executor"
    INSPECTOR = "inspector"
    MANAGER = "manager"
    #: a notary or other outside witness who enters the value a tender's draw mixes in
    WITNESS = "witness"


class Actor(BaseModel, frozen=True):
    """A person or unit who acts in Counsel; roles say what they may be asked to do."""

    id: str
    name: Name = Field(min_length=1)
    roles: frozenset[Role]
    affiliations: tuple[str, ...] = ()
    bodies: tuple[str, ...] = ()
    #: Apprise URLs the person is told of tasks at; none means they are not told.
    notify: tuple[str, ...] = ()
    lang: Language = "zh"

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not ACTOR_ID_PATTERN.match(value):
            raise ValueError(
                "an actor id is 2-63 lowercase letters, digits, dots, dashes or underscores "
                f"starting with a letter or digit, not {value!r}"
            )
        return value

    @field_validator("notify")
    @classmethod
    def _check_notify(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) > MAX_ADDRESSES:
            raise ValueError(f"a person has at most {MAX_ADDRESSES} notification addresses")
        if len(set(value)) != len(value):
            raise ValueError("a notification address is given twice")
        return tuple(check_address(a) for a in value)

    @field_validator("roles")
    @classmethod
    def _check_roles(cls, value: frozenset[Role]) -> frozenset[Role]:
        if not value:
            raise ValueError("an actor needs at least one role")
        return value
