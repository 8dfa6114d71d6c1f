"""Errors raised by the expertise database and expert routing.

The tree::

    ExpertsError
    ├── ExpertiseImportError (ValueError)   a file had bad rows; nothing of it was imported
    ├── InvalidExpertise (ValueError)       data refers to things that do not exist, or loops
    ├── UnknownNode (LookupError)           a topic, district, organisation or expert is not known
    │   ├── UnknownTopic
    │   ├── UnknownDistrict
    │   └── UnknownExpert
    ├── InvalidAffinity (ValueError)        a scores or conflicts CSV row cannot be read
    └── InfeasibleAssignment (ValueError)   a batch assignment's constraints cannot all be met

Every message is a full sentence a planner can act on; context travels as keyword-only
attributes so callers (the CLI, flows) can render it their own way.
"""

from __future__ import annotations

from pydantic import BaseModel

__all__ = [
    "ExpertsError",
    "RowProblem",
    "ExpertiseImportError",
    "InvalidExpertise",
    "UnknownNode",
    "UnknownTopic",
    "UnknownDistrict",
    "UnknownExpert",
    "InvalidAffinity",
    "InfeasibleAssignment",
]


class ExpertsError(Exception):
    """Base class of every error the ``experts`` package raises on purpose."""


class RowProblem(BaseModel, frozen=True):
    """One bad row: the file it is in, its 1-based line, and why it was refused."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.reason}"


class ExpertiseImportError(ExpertsError, ValueError):
    """A file could not be imported because of bad rows; none of its rows were imported.

    ``problems`` lists every bad row found (file, line, reason), in file order.
    """

    def __init__(self, *, problems: tuple[RowProblem, ...]) -> None:
        self.problems = problems
        first = problems[0]
        more = len(problems) - 1
        suffix = f" ({more} more problem{'s' if more != 1 else ''} found.)" if more else ""
        reason = first.reason.rstrip(".")
        super().__init__(
            f"Nothing was imported from {first.file}: line {first.line}: {reason}.{suffix}"
        )


class InvalidExpertise(ExpertsError, ValueError):
    """Expertise data is inconsistent (a dangling reference, a duplicate id, a loop)."""

    def __init__(self, message: str, *, problems: tuple[str, ...] = ()) -> None:
        self.problems = problems
        super().__init__(message)


class UnknownNode(ExpertsError, LookupError):
    """A name or id does not match anything in the expertise graph."""

    kind = "node"

    def __init__(self, name: str, *, suggestions: tuple[str, ...] = ()) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(
            f"There is no {self.kind} called {name!r} in the expertise database.{hint}"
        )


class UnknownTopic(UnknownNode):
    """A topic id, name or alias is not in the taxonomy."""

    kind = "topic"


class UnknownDistrict(UnknownNode):
    """A district or street office is not known."""

    kind = "district or street office"


class UnknownExpert(UnknownNode):
    """An expert id or name is not known."""

    kind = "expert"


class InvalidAffinity(ExpertsError, ValueError):
    """A row of a scores or conflicts CSV file cannot be read."""

    def __init__(self, *, file: str, line: int, reason: str) -> None:
        self.file = file
        self.line = line
        self.reason = reason
        super().__init__(f"{file}, line {line}: {reason.rstrip('.')}.")


class InfeasibleAssignment(ExpertsError, ValueError):
    """The per-item counts, load limits and conflicts of a batch cannot all be met.

    ``constraint`` names the constraint that fails (``"per_item"``, ``"max_load"``,
    ``"min_load"``); the message says which items or experts are short.
    """

    def __init__(self, message: str, *, constraint: str) -> None:
        self.constraint = constraint
        super().__init__(message)
