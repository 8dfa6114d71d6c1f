"""Checking what a proposal names against the expertise database, before it is filed.

A proposal names a district (or street office), topics and organisations by id. A name that
matches nothing strands a decision: routing fails in its first step, long after the planner
has gone. A near miss is worse: a stakeholder spelled ``tongji-univ`` instead of
``tongji-university`` matches no one, so experts of that organisation would not be kept out
for their conflict of interest. So:

* the district and every topic must be in the database (an exact name or alias is taken as
  its id, and reported);
* an organisation the database does not know is allowed — residents' committees and bidders
  are often new to it — unless it is a near miss of one it knows, which is refused with the
  suggestion.

Everything is checked at once, so the planner fixes the file in one go.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from experts.model import ExpertiseData

__all__ = ["ReferenceCheck", "check_references", "suggest"]


@dataclass(frozen=True)
class ReferenceCheck:
    """What :func:`check_references` found: refusals, and ids to use in their place."""

    problems: tuple[str, ...] = ()
    resolved: dict[str, str] = field(default_factory=dict)
    unknown_organisations: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return not self.problems


def suggest(
    text: str, known: Iterable[str], *, n: int = 3, cutoff: float = 0.6, within: bool = True
) -> tuple[str, ...]:
    """Up to ``n`` of ``known`` that look like ``text`` (case-insensitive), best first.

    With ``within``, known items that contain ``text`` (three characters or more) count too.

    >>> suggest("east-distrct", ["east-district", "west-district", "renmin-street"])
    ('east-district', 'west-district')
    >>> suggest("east", ["east-district", "renmin-street"])
    ('east-district',)
    """
    by_fold: dict[str, str] = {}
    for item in known:
        by_fold.setdefault(item.casefold(), item)
    wanted = text.casefold()
    close = difflib.get_close_matches(wanted, list(by_fold), n=n, cutoff=cutoff)
    if within and len(wanted) >= 3:
        close += sorted(f for f in by_fold if wanted in f and f not in close)
    return tuple(by_fold[c] for c in close[:n])


def _did_you_mean(options: Sequence[str]) -> str:
    return f"; did you mean {' or '.join(repr(o) for o in options)}?" if options else "."


def check_references(
    data: ExpertiseData,
    *,
    district: str,
    topics: Sequence[str],
    organisations: Sequence[str] = (),
) -> ReferenceCheck:
    """Check a proposal's district, topics and organisations against ``data``.

    Parameters
    ----------
    data : ExpertiseData
        The expertise database.
    district : str
        The proposal's district or street office (id, or exact name).
    topics : sequence of str
        The proposal's topics (ids, exact names or aliases).
    organisations : sequence of str
        Stakeholders, bidders and executors (ids).

    Returns
    -------
    ReferenceCheck
        False when anything is refused; ``problems`` holds one sentence each, and
        ``resolved`` maps a name typed for an id to that id.

    Examples
    --------
    >>> from experts.model import District, ExpertiseData, Topic
    >>> data = ExpertiseData(topics=(Topic(id="street-cleaning", name="道路保洁"),),
    ...                      districts=(District(id="east-district", name="东区"),))
    >>> check_references(data, district="东区", topics=["street-cleaning"]).resolved
    {'东区': 'east-district'}
    >>> check_references(data, district="east", topics=["street-cleaning"]).problems
    ("The district 'east' is not in the expertise database; did you mean 'east-district'?",)
    """
    problems: list[str] = []
    resolved: dict[str, str] = {}
    if not data.topics and not data.districts:
        return ReferenceCheck(
            problems=(
                "The expertise database is empty, so no expert could be routed to this "
                "proposal; import one first (`counsel experts import FILE`, or `--sample`).",
            )
        )
    districts = {d.id: d for d in data.districts}
    district_names = {d.name.casefold(): d.id for d in data.districts}
    if district not in districts:
        if (found := district_names.get(district.casefold())) is not None:
            resolved[district] = found
        else:
            options = suggest(district, [*districts, *(d.name for d in data.districts)])
            problems.append(
                f"The district {district!r} is not in the expertise database"
                + _did_you_mean(options)
            )
    topic_ids = {t.id for t in data.topics}
    topic_labels: dict[str, str] = {}
    for t in data.topics:
        for label in (t.name, *t.aliases):
            topic_labels.setdefault(label.casefold(), t.id)
    for topic in topics:
        if topic in topic_ids:
            continue
        if (found := topic_labels.get(topic.casefold())) is not None:
            resolved[topic] = found
            continue
        options = suggest(topic, [*topic_ids, *(t.name for t in data.topics)])
        problems.append(
            f"The topic {topic!r} is not in the expertise database" + _did_you_mean(options)
        )
    org_ids = {o.id for o in data.organisations}
    unknown: list[str] = []
    for org in dict.fromkeys(organisations):
        if org in org_ids:
            continue
        if options := suggest(org, org_ids, cutoff=0.85, within=False):
            problems.append(
                f"The organisation {org!r} is not in the expertise database but looks like "
                f"{' or '.join(repr(o) for o in options)}; a misspelt organisation would let "
                "its staff advise on this decision. Use the database's id, or a name that is "
                "clearly new."
            )
        else:
            unknown.append(org)
    return ReferenceCheck(
        problems=tuple(problems), resolved=resolved, unknown_organisations=tuple(unknown)
    )
