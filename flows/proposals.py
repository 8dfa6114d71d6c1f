"""Checking a proposal before it is filed: every name in it must lead somewhere.

A proposal that names an unknown class, district type, district or topic would be filed and
then fail in its first step, leaving the decision in ``consulting`` with no reason the
planner can see. :func:`check_proposal` finds all such names at once, with suggestions, and
nothing is written until it passes. Names typed for ids (``东区`` for ``east-district``) are
replaced by the ids.
"""

from __future__ import annotations

from sqlalchemy import Engine

from decisions import services
from decisions.classes import ClassBook
from decisions.exceptions import InvalidProposal
from decisions.uow import UnitOfWork
from experts.references import check_references, suggest
from experts.store import load_expertise

__all__ = ["check_proposal"]


def check_proposal(
    engine: Engine, proposal: services.Proposal, classes: ClassBook, *, source: str = "The proposal"
) -> services.Proposal:
    """``proposal`` with names resolved to ids, or :class:`InvalidProposal` naming every
    unknown reference of it (class, district type, district, topics, organisations)."""
    problems: list[str] = []
    if proposal.class_name not in classes.names:
        options = suggest(proposal.class_name, classes.names)
        problems.append(
            f"There is no decision class {proposal.class_name!r}"
            + (f"; did you mean {' or '.join(map(repr, options))}?" if options else "")
            + f" (known: {', '.join(classes.names)})."
        )
    if proposal.district_type is not None and proposal.district_type not in classes.district_types:
        problems.append(
            f"The district type {proposal.district_type!r} is not one of "
            f"{', '.join(classes.district_types)}."
        )
    if not proposal.topics:
        problems.append("A proposal needs at least one topic so experts can be routed to it.")
    with UnitOfWork(engine, read_only=True) as uow:
        data = load_expertise(uow.session)
    found = check_references(
        data,
        district=proposal.district,
        topics=proposal.topics,
        organisations=[
            *proposal.stakeholder_orgs,
            *proposal.bidder_orgs,
            *proposal.executor_orgs,
        ],
    )
    problems.extend(found.problems)
    if problems:
        first, *rest = problems
        raise InvalidProposal(
            f"{source} cannot be filed: {first}" + "".join(f"\n  {problem}" for problem in rest)
        )
    fix = found.resolved
    return proposal.model_copy(
        update={
            "district": fix.get(proposal.district, proposal.district),
            "topics": [fix.get(t, t) for t in proposal.topics],
        }
    )
