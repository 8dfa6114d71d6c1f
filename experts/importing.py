"""What an import would do to the expertise database, and whether it may.

An import never loses data silently. :func:`plan_import` compares what is stored with what a
file holds and returns the database as it would be, with the experts it would add, change and
remove; :func:`check_import` refuses a plan that would leave the database without experts or
remove experts the decision store still needs ("in use": they hold an open task or were
routed to a decision; the caller finds them, as ``experts`` knows nothing of decisions).

Two modes:

``merge`` (the default)
    The file's records are added, or replace stored records with the same id; nothing is
    removed.
``replace``
    The database ends up holding exactly the file: stored records the file lacks are removed
    (refused for experts in use).

>>> from experts.model import Expert, ExpertiseData
>>> stored = ExpertiseData(experts=(Expert(id="E1", name="王芳"), Expert(id="E2", name="李强")))
>>> plan = plan_import(stored, ExpertiseData(experts=(Expert(id="E3", name="赵敏"),)),
...                    replace=True)
>>> [e.id for e in plan.added], [e.id for e in plan.removed]
(['E3'], ['E1', 'E2'])
>>> check_import(plan, in_use={"E2": "holds open task T-1 of D-2026-0001"})
Traceback (most recent call last):
...
experts.exceptions.UnsafeImport: Nothing was imported: --replace would remove 1 expert who is in use: 李强 (E2, holds open task T-1 of D-2026-0001). Add them to the file, or import without --replace to keep every stored expert.
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel

from experts.exceptions import UnsafeImport
from experts.model import District, Expert, ExpertiseData, Organisation, Topic

__all__ = ["ExpertRef", "KindCounts", "ImportPlan", "plan_import", "check_import", "some"]

#: How many records a refusal or a dry run names before "and N more".
NAMED = 5


class ExpertRef(BaseModel, frozen=True):
    """An expert named in a plan: id and name."""

    id: str
    name: str

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class KindCounts(BaseModel, frozen=True):
    """How many records of one kind an import adds, changes and removes."""

    added: int = 0
    changed: int = 0
    removed: int = 0


class ImportPlan(BaseModel, frozen=True):
    """The database after an import, and the differences from the stored one."""

    mode: Literal["merge", "replace"]
    result: ExpertiseData
    added: tuple[ExpertRef, ...]
    changed: tuple[ExpertRef, ...]
    removed: tuple[ExpertRef, ...]
    kinds: dict[str, KindCounts]

    @property
    def writes(self) -> bool:
        """Whether the import changes anything at all."""
        return any(c.added or c.changed or c.removed for c in self.kinds.values())


_R = Topic | District | Organisation | Expert


def _diff(before: Sequence[_R], after: Sequence[_R]) -> tuple[list[_R], list[_R], list[_R]]:
    old = {r.id: r for r in before}
    new = {r.id: r for r in after}
    added = [r for r in after if r.id not in old]
    changed = [r for r in after if r.id in old and old[r.id] != r]
    removed = [r for r in before if r.id not in new]
    return added, changed, removed


def _refs(records: Iterable[_R]) -> tuple[ExpertRef, ...]:
    return tuple(ExpertRef(id=r.id, name=getattr(r, "name", r.id)) for r in records)


def plan_import(
    stored: ExpertiseData, incoming: ExpertiseData, *, replace: bool = False
) -> ImportPlan:
    """What importing ``incoming`` over ``stored`` would do.

    Parameters
    ----------
    stored : ExpertiseData
        What the database holds now.
    incoming : ExpertiseData
        What the file holds (read with ``known=stored`` when merging).
    replace : bool
        Replace the database with the file (remove what it lacks) instead of merging.

    Returns
    -------
    ImportPlan
        The resulting data and the experts added, changed and removed (in record order),
        with counts for every kind of record.
    """
    result = incoming if replace else stored.merged_with(incoming)
    kinds: dict[str, KindCounts] = {}
    diffs = {}
    for kind in ("topics", "districts", "organisations", "experts"):
        added, changed, removed = _diff(getattr(stored, kind), getattr(result, kind))
        diffs[kind] = (added, changed, removed)
        kinds[kind] = KindCounts(added=len(added), changed=len(changed), removed=len(removed))
    added, changed, removed = diffs["experts"]
    return ImportPlan(
        mode="replace" if replace else "merge",
        result=result,
        added=_refs(added),
        changed=_refs(changed),
        removed=_refs(removed),
        kinds=kinds,
    )


def some(items: Sequence[object], *, limit: int = NAMED) -> str:
    """The first ``limit`` items joined with commas, then "and N more".

    >>> some(["a", "b", "c"], limit=2)
    'a, b and 1 more'
    """
    shown = ", ".join(str(i) for i in items[:limit])
    rest = len(items) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def check_import(plan: ImportPlan, *, in_use: Mapping[str, str]) -> None:
    """Refuse a plan that would lose data the decisions need.

    Parameters
    ----------
    plan : ImportPlan
        From :func:`plan_import`.
    in_use : mapping of expert id to why
        Experts the decision store still needs (any superset of the removed ones will do).

    Raises
    ------
    UnsafeImport
        If the database would hold no experts, or the plan removes experts in use (the
        first few are named, with why, then how many more).
    """
    if not plan.result.experts:
        stored = plan.kinds["experts"].removed
        raise UnsafeImport(
            "Nothing was imported: the expertise database would be left without experts"
            + (
                f" (the file has none and --replace would remove all {stored})."
                if stored
                else " (the file has none)."
            )
            + " Import a file that lists experts."
        )
    blocked = [r for r in plan.removed if r.id in in_use]
    if blocked:
        n = len(blocked)
        who = some([f"{r.name} ({r.id}, {in_use[r.id]})" for r in blocked])
        raise UnsafeImport(
            f"Nothing was imported: --replace would remove {n} expert"
            f"{' who is' if n == 1 else 's who are'} in use: {who}. Add them to the file, or "
            "import without --replace to keep every stored expert.",
            in_use={r.id: in_use[r.id] for r in blocked},
        )
