"""The people and units who act in Counsel, and the roles that say what they may be asked to do.

What an actor may do on a particular decision is the powers policy's ruling
(:mod:`decisions.powers`); a role only makes them a candidate for that kind of work.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from decisions.text import Name

__all__ = ["ACTOR_ID_PATTERN", "Role", "Actor"]

ACTOR_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")


class Role(StrEnum):
    PLANNER = "planner"
    EXPERT = "expert"
    STAKEHOLDER = "stakeholder"
    MEMBER = "member"
    EXECUTOR = "executor"
    INSPECTOR = "inspector"
    MANAGER = "manager"


class Actor(BaseModel, frozen=True):
    """A person or unit who acts in Counsel; roles say what they may be asked to do."""

    id: str
    name: Name = Field(min_length=1)
    roles: frozenset[Role]
    affiliations: tuple[str, ...] = ()
    bodies: tuple[str, ...] = ()

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not ACTOR_ID_PATTERN.match(value):
            raise ValueError(
                "an actor id is 2-63 lowercase letters, digits, dots, dashes or underscores "
                f"starting with a letter or digit, not {value!r}"
            )
        return value

    @field_validator("roles")
    @classmethod
    def _check_roles(cls, value: frozenset[Role]) -> frozenset[Role]:
        if not value:
            raise ValueError("an actor needs at least one role")
        return value
