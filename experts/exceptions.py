"""Errors raised by the expertise database and expert routing.

The tree::

    ExpertsError
    ├── ExpertiseImportError (ValueError)   a file had bad rows; nothing of it was imported
    │   └── ExpertiseEncodingError           a file is not in the encoding it is read in
    ├── UnsafeImport (ValueError)           an import would empty the database or remove
    │                                       experts in use; nothing was imported
    ├── InvalidExpertise (ValueError)       data refers to things that do not exist, or loops
    ├── UnknownNode (LookupError)           a topic, district, organisation or expert is not known
    │   ├── UnknownTopic
    │   ├── UnknownDistrict
    │   └── UnknownExpert
    ├── AmbiguousExpert (LookupError)       a name matches several experts
    ├── InvalidAffinity (ValueError)        a scores or conflicts CSV row cannot be read
    └── InfeasibleAssignment (ValueError)   a batch assignment's constraints cannot all be met

Every message is a full sentence a planner can act on; context travels as keyword-only
attributes so callers (the CLI, flows) can render it their own way.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

from pydantic import BaseModel

__all__ = [
    "ExpertsError",
    "RowProblem",
    "ExpertiseImportError",
    "ExpertiseEncodingError",
    "UnsafeImport",
    "AmbiguousExpert",
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
    """One bad row: the file it is in, its 1-based line (0: the file as a whole), and why it
    was refused."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        where = f", line {self.line}" if self.line else ""
        return f"{self.file}{where}: {self.reason}"


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
        where = f"line {first.line}: " if first.line else ""
        super().__init__(f"Nothing was imported from {first.file}: {where}{reason}.{suffix}")


class ExpertiseEncodingError(ExpertiseImportError):
    """A file's bytes are not text in the encoding it was read in (e.g. GBK read as UTF-8).

    ``line`` and ``column`` (1-based, in bytes) and ``offset`` (0-based, in the file) locate
    the first bad ``byte``; ``guess`` is an encoding the whole file decodes in, if one of the
    usual suspects does.
    """

    def __init__(
        self,
        *,
        file: str,
        line: int,
        column: int,
        offset: int,
        byte: int,
        encoding: str,
        guess: str | None,
    ) -> None:
        self.file, self.line, self.column, self.offset = file, line, column, offset
        self.byte, self.encoding, self.guess = byte, encoding, guess
        self.problems = (
            RowProblem(
                file=file,
                line=line,
                reason=(f"byte 0x{byte:02X} at column {column} is not {encoding.upper()}"),
            ),
        )
        source = guess.upper() if guess else "ENCODING"
        stem, dot, suffix = file.rpartition(".")
        target = f"{stem}.utf8.{suffix}" if dot and "/" not in suffix else f"{file}.utf8"
        looks = (
            f"It looks like {guess.upper()}{' (GBK)' if guess == 'gb18030' else ''}"
            if guess
            else "Find out its encoding"
        )
        ExpertsError.__init__(
            self,
            (
                f"Nothing was imported from {file}: line {line}, byte {offset + 1} of the file "
                f"(0x{byte:02X}, column {column}) is not {encoding.upper()}. {looks}: "
                f"convert it with `iconv -f {source} -t UTF-8 {shlex.quote(file)} > "
                f"{shlex.quote(target)}` or "
                f"import it as it is with `--encoding {guess or 'ENCODING'}`."
            ),
        )


class UnsafeImport(ExpertsError, ValueError):
    """An import would leave the database without experts or remove experts in use.

    ``in_use`` maps each expert id that would be removed but is in use to why it is;
    nothing was written.
    """

    def __init__(self, message: str, *, in_use: Mapping[str, str] | None = None) -> None:
        self.in_use = dict(in_use or {})
        super().__init__(message)


class AmbiguousExpert(ExpertsError, LookupError):
    """A name matches several experts; ``matches`` lists (id, name, organisations) of each."""

    def __init__(self, name: str, *, matches: Sequence[tuple[str, str, str]]) -> None:
        self.name = name
        self.matches = tuple(matches)
        listed = "; ".join(
            f"{eid} ({orgs or 'no current organisation'})" for eid, _n, orgs in self.matches
        )
        super().__init__(
            f"{len(self.matches)} experts are called {name!r}: {listed}. "
            "Give the id of the one you mean."
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
