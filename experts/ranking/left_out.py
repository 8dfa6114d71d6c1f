"""Who and what a routing left out, and why: exclusions, uncovered topics, the shortfall.

A planner who gets fewer experts than asked, or a topic nobody covers, needs to know which
rule did it to decide what to change (widen the district, raise ``k``, accept a conflicted
expert's alternate). Each report names the rule of :mod:`experts.ranking.rules` that applied
and counts or names the experts it kept out.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from experts.index import IntArray
from experts.ranking.proximity import Proximity
from experts.ranking.results import RULES, Exclusion, Shortfall, UncoveredTopic
from experts.ranking.rules import Eligibility

__all__ = ["exclusions", "shortfall", "uncovered_topic"]


def exclusions(
    prox: Proximity,
    rules: Eligibility,
    contenders: set[int],
    blocked: set[int],
    picks: list[int],
    alternates: Mapping[int, list[int]],
    *,
    short: bool,
) -> tuple[Exclusion, ...]:
    """Experts kept out of the picks and alternates, with the rule that did it.

    Without a shortfall only those scoring at least as well as the weakest proposed
    expert are listed, alternates not; with one, all of them, alternates the organisation
    rule kept out of the picks included (each could have filled a place).
    """
    scores = prox.scores
    backups = {a for alts in alternates.values() for a in alts}
    proposed = picks + sorted(backups)
    floor = 0.0 if short else min((float(scores[u]) for u in proposed), default=0.0)
    out = []
    for u in sorted(
        (contenders | blocked) - set(picks if short else proposed),
        key=lambda u: (-float(scores[u]), u),
    ):
        why = rules.kept_out(u, picks)
        if why is None or float(scores[u]) < floor:
            continue
        reason = why[1] + ("; routed as an alternate" if u in backups else "")
        out.append(
            Exclusion(
                expert=prox.record_id(u),
                name=prox.name(u),
                score=float(scores[u]),
                cause=why[0],
                reason=reason,
            )
        )
    return tuple(out)


def shortfall(
    prox: Proximity, rules: Eligibility, k: int, picks: list[int], kept: set[int]
) -> Shortfall:
    """Why only ``len(picks)`` of ``k`` experts were found: the rules that kept others out."""
    counts: dict[str, int] = {}
    for u in kept:
        why = rules.kept_out(u, picks)
        if why is not None:
            counts[why[0]] = counts.get(why[0], 0) + 1
    by_rule = {rule: counts[rule] for rule in RULES if rule in counts}
    relevant = int(np.count_nonzero(prox.scores[prox.ix.experts] > 0))
    found = len(picks)
    head = f"asked for {k} experts, found {found}"
    if not by_rule:
        reason = (
            f"{head}: only {relevant} experts of the database are relevant to these "
            "topics and district"
        )
    else:
        parts = []
        for rule, n in by_rule.items():
            label = RULES[rule]
            if rule == "organisation":
                label += f" (at most {rules.per_org} per organisation)"
            parts.append(f"{label} kept out {n} expert{'s' if n != 1 else ''}")
        reason = f"{head}: " + "; ".join(parts)
    return Shortfall(asked=k, found=found, relevant=relevant, rules=by_rule, reason=reason)


def uncovered_topic(
    prox: Proximity, rules: Eligibility, t: int, coverers: IntArray, picks: list[int], k: int
) -> UncoveredTopic:
    """Required topic ``t`` that no pick covers, and why (``coverers``: who could have)."""
    name = prox.name(t)
    if coverers.size == 0:
        reason = f"no expert in the database is proficient in {name}"
    else:
        causes: dict[str, int] = {}
        eligible = False
        for u in coverers:
            why = rules.why_not(int(u))
            if why is None:
                eligible = True
                break
            causes[why[0]] = causes.get(why[0], 0) + 1
        if not eligible:
            words = {
                "conflict": "conflicted",
                "unavailable": "unavailable",
                "workload": "at their workload cap",
                "excluded": "excluded",
            }
            detail = ", ".join(f"{n} {words[c]}" for c, n in sorted(causes.items()))
            reason = f"every expert proficient in {name} is ruled out ({detail})"
        elif len(picks) >= k:
            reason = f"all {k} places went to experts covering other topics; raise k"
        else:
            reason = (
                f"every eligible expert proficient in {name} shares an organisation with a pick"
            )
    return UncoveredTopic(topic=prox.record_id(t), name=name, reason=reason)
