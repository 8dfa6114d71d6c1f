"""Rows of either import format: built into records, then checked against each other.

The YAML and CSV readers differ only in how they find rows. Each builds every row into its
record with :func:`build_record`, noting where it came from (:class:`Loc`) and any problem in
a :class:`Parsed`; :func:`cross_check` then checks what the rows name (parents, districts,
organisations, topics, duplicate ids and links) and either assembles the
:class:`~experts.model.ExpertiseData` or raises with every problem at once, so nothing of a
bad file is imported and its author can fix all of it in one pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from experts.exceptions import ExpertiseImportError, RowProblem
from experts.model import (
    Affiliation,
    District,
    Expert,
    ExpertiseData,
    LocalKnowledge,
    Organisation,
    Proficiency,
    Topic,
)

__all__ = ["Loc", "Parsed", "build_record", "cross_check", "shown"]


@dataclass(frozen=True)
class Loc:
    """Where a row came from: the file and its line (0 for the file as a whole)."""

    file: str
    line: int


@dataclass
class Parsed:
    """Rows as read, each with where it came from, before cross-checking."""

    problems: list[RowProblem] = field(default_factory=list)
    topics: list[tuple[Topic, Loc]] = field(default_factory=list)
    aliases: list[tuple[str, str, Loc]] = field(default_factory=list)
    districts: list[tuple[District, Loc]] = field(default_factory=list)
    organisations: list[tuple[Organisation, Loc]] = field(default_factory=list)
    interests: list[tuple[str, str, Loc]] = field(default_factory=list)
    experts: list[tuple[Expert, Loc]] = field(default_factory=list)
    affiliations: list[tuple[str, Affiliation, Loc]] = field(default_factory=list)
    proficiencies: list[tuple[str, Proficiency, Loc]] = field(default_factory=list)
    knowledge: list[tuple[str, LocalKnowledge, Loc]] = field(default_factory=list)

    def problem(self, loc: Loc, reason: str) -> None:
        self.problems.append(RowProblem(file=loc.file, line=loc.line, reason=reason))


_M = TypeVar("_M", bound=BaseModel)


def shown(value: object, *, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters: a refusal quotes what the file holds
    without echoing a megabyte back (``decisions.text.shown``; the layers keep them apart)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(err: ValidationError) -> str:
    """The first validation error as a sentence fragment a person can act on."""
    first = err.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"])
    value = first.get("input")
    got = "" if isinstance(value, dict) else f" (got {shown(value)})"
    msg = first["msg"]
    if first["type"] == "string_pattern_mismatch":
        msg = "must not be empty or start or end with a blank"
    elif first["type"] == "extra_forbidden":
        return f"unknown field {shown(where)}"
    return f"{where}: {msg[0].lower() + msg[1:]}{got}" if where else f"{msg}{got}"


def build_record(parsed: Parsed, cls: type[_M], raw: Any, loc: Loc) -> _M | None:
    """The record ``cls`` built from ``raw``, or None with the problem noted in ``parsed``."""
    if not isinstance(raw, Mapping):
        parsed.problem(loc, f"expected a record with named fields, found {type(raw).__name__}")
        return None
    unknown = sorted(str(k) for k in raw if k not in cls.model_fields)
    if unknown:
        parsed.problem(loc, f"unknown field {shown(unknown[0])}")
        return None
    try:
        return cls.model_validate(dict(raw))
    except ValidationError as err:
        parsed.problem(loc, _describe(err))
        return None


def cross_check(parsed: Parsed, known: ExpertiseData | None) -> ExpertiseData:
    """Check references between rows and assemble the data, or raise with every problem."""
    known = known or ExpertiseData()

    def ids(rows: list[tuple[Any, Loc]], what: str) -> dict[str, Loc]:
        seen: dict[str, Loc] = {}
        for record, loc in rows:
            if record.id in seen:
                parsed.problem(
                    loc,
                    f"{what} id {record.id!r} is already used on line "
                    f"{seen[record.id].line} of {seen[record.id].file}",
                )
            else:
                seen[record.id] = loc
        return seen

    topic_ids = ids(parsed.topics, "topic")
    ids(parsed.districts, "district")
    org_ids = ids(parsed.organisations, "organisation")
    expert_ids = ids(parsed.experts, "expert")
    all_topics = {t.id: t.parent for t in known.topics}
    for t, _ in reversed(parsed.topics):  # the first of duplicate rows wins
        all_topics[t.id] = t.parent
    all_districts = {d.id: d for d in known.districts} | {d.id: d for d, _ in parsed.districts}
    all_orgs = {o.id for o in known.organisations} | set(org_ids)

    for topic, loc in parsed.topics:
        if topic.parent is not None and topic.parent not in all_topics:
            parsed.problem(loc, f"parent topic {topic.parent!r} is not defined")
        elif topic.parent is not None and _in_cycle(topic.id, all_topics):
            parsed.problem(loc, f"topic {topic.id!r} is its own ancestor")
    for district, loc in parsed.districts:
        parent = all_districts.get(district.parent) if district.parent else None
        if district.kind == "street_office":
            if district.parent is None:
                parsed.problem(loc, f"street office {district.id!r} needs a parent district")
            elif parent is None:
                parsed.problem(loc, f"parent district {district.parent!r} is not defined")
            elif parent.kind != "district":
                parsed.problem(
                    loc,
                    f"the parent of {district.id!r} must be a district, "
                    f"not the street office {parent.id!r}",
                )
        elif district.parent is not None:
            parsed.problem(loc, "a district has no parent; use kind street_office")
    for org, loc in parsed.organisations:
        if org.district is not None and org.district not in all_districts:
            parsed.problem(loc, f"district {org.district!r} is not defined")

    def refs(
        rows: list[tuple[str, str, Loc]],
        owners: set[str],
        what: str,
        targets: Mapping[str, object] | set[str],
        target_what: str,
    ) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for owner, target, loc in rows:
            if owner not in owners:
                parsed.problem(loc, f"{what} {owner!r} is not defined")
            elif target not in targets:
                parsed.problem(loc, f"{target_what} {target!r} is not defined")
            elif target in out.setdefault(owner, []):
                parsed.problem(loc, f"{target_what} {target!r} is listed twice for {owner!r}")
            else:
                out[owner].append(target)
        return out

    aliases = refs(
        parsed.aliases, set(topic_ids), "topic", {a for _, a, _ in parsed.aliases}, "alias"
    )
    interests = refs(parsed.interests, set(org_ids), "organisation", all_topics, "topic")

    def edges(
        rows: list[tuple[str, Any, Loc]],
        attr: str,
        targets: Mapping[str, object] | set[str],
        target_what: str,
    ) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        seen: set[tuple[str, str]] = set()
        for owner, edge, loc in rows:
            target = getattr(edge, attr)
            if owner not in expert_ids:
                parsed.problem(loc, f"expert {owner!r} is not defined in this file")
            elif target not in targets:
                parsed.problem(loc, f"{target_what} {target!r} is not defined")
            elif (owner, target) in seen:
                parsed.problem(
                    loc, f"{target_what} {target!r} is listed twice for expert {owner!r}"
                )
            else:
                seen.add((owner, target))
                out.setdefault(owner, []).append(edge)
        return out

    affiliations = edges(parsed.affiliations, "organisation", all_orgs, "organisation")
    proficiencies = edges(parsed.proficiencies, "topic", all_topics, "topic")
    knowledge = edges(parsed.knowledge, "district", all_districts, "district")

    if parsed.problems:
        # Whole-file problems (line 0) first: they explain the row problems after them.
        problems = sorted(parsed.problems, key=lambda p: (p.line > 0, p.file, p.line))
        raise ExpertiseImportError(problems=tuple(problems))
    return ExpertiseData(
        topics=tuple(
            t.model_copy(update={"aliases": tuple(aliases[t.id])}) if t.id in aliases else t
            for t, _ in parsed.topics
        ),
        districts=tuple(d for d, _ in parsed.districts),
        organisations=tuple(
            o.model_copy(update={"interests": tuple(interests.get(o.id, ()))})
            for o, _ in parsed.organisations
        ),
        experts=tuple(
            e.model_copy(
                update={
                    "affiliations": tuple(affiliations.get(e.id, ())),
                    "proficiencies": tuple(proficiencies.get(e.id, ())),
                    "districts": tuple(knowledge.get(e.id, ())),
                }
            )
            for e, _ in parsed.experts
        ),
    )


def _in_cycle(start: str, parents: Mapping[str, str | None]) -> bool:
    """Whether ``start`` is among its own ancestors."""
    seen: set[str] = set()
    node = parents.get(start)
    while node is not None and node not in seen:
        if node == start:
            return True
        seen.add(node)
        node = parents.get(node)
    return False
