"""The rules that keep an expert out of a query's picks, each with the sentence that says so.

An expert may not be picked who has a declared conflict, works for or is affiliated with an
organisation that is a stakeholder of the decision (or, with ``interest_conflicts``, has a
commercial interest in a required topic, a broader or a narrower one), is marked unavailable,
or is at their workload cap. Among eligible experts, at most ``per_organisation`` picks may
share a current organisation. The rules are checked in that order and the first that applies
is the one reported, so an expert is always kept out for one stated reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from experts.ranking.proximity import Proximity
from experts.ranking.results import ExclusionCause

__all__ = ["Eligibility"]


class Eligibility:
    """Who may be picked for one query, and who may be picked together.

    Parameters
    ----------
    prox : Proximity
        The query (its required topics decide the interest conflicts).
    per_organisation : int or None
        Most picks that may share a current organisation; None for no limit.
    stakeholders : iterable of str
        Ids of organisations whose current staff are conflicted.
    exclude : mapping of expert id to reason, or iterable of expert ids
        Experts with a personal conflict.
    load : mapping of expert id to int, optional
        Current assignments, overriding the graph's ``active_assignments``.
    interest_conflicts : bool
        Also conflict the staff of organisations with a commercial interest in a required
        topic, a broader or a narrower one.
    """

    def __init__(
        self,
        prox: Proximity,
        *,
        per_organisation: int | None,
        stakeholders: Iterable[str],
        exclude: Mapping[str, str] | Iterable[str],
        load: Mapping[str, int] | None,
        interest_conflicts: bool,
    ) -> None:
        self.prox = prox
        self.per_org = per_organisation
        self.load = load or {}
        index = prox.ix
        self.excluded_ids: dict[str, str] = (
            dict(exclude)
            if isinstance(exclude, Mapping)
            else {e: "has a declared conflict of interest" for e in exclude}
        )
        # Organisation -> why its staff are conflicted.
        self.conflicted_orgs: dict[int, str] = {}
        for org in stakeholders:
            o = index.pos.get(f"org:{org}")
            if o is not None:
                self.conflicted_orgs[o] = "is a stakeholder of this decision"
        if interest_conflicts:
            for t in prox.topics:
                related = index.descendants(t) + index.ancestors(t)
                for r in related:
                    for o in index.interest_orgs.get(index.nodes[r], ()):
                        self.conflicted_orgs.setdefault(
                            o, f"has a commercial interest in {prox.name(r)}"
                        )
        self._why: dict[int, tuple[ExclusionCause, str] | None] = {}

    def why_not(self, u: int) -> tuple[ExclusionCause, str] | None:
        """Why expert ``u`` may not be picked at all, or None."""
        if u in self._why:
            return self._why[u]
        prox = self.prox
        ix = prox.ix
        eid = prox.record_id(u)
        out: tuple[ExclusionCause, str] | None = None
        if eid in self.excluded_ids:
            out = ("excluded", self.excluded_ids[eid])
        else:
            for o in prox.orgs(u):
                if o in self.conflicted_orgs:
                    role = prox.G.edges[ix.nodes[u], ix.nodes[o]].get("role", "employee")
                    tie = (
                        f"works for {prox.name(o)}"
                        if role == "employee"
                        else (f"is affiliated with {prox.name(o)} ({role})")
                    )
                    out = ("conflict", f"{tie}, which {self.conflicted_orgs[o]}")
                    break
        if out is None and not ix.available[u]:
            out = ("unavailable", "is marked unavailable")
        if out is None:
            active = self.load.get(eid, int(ix.load[u]))
            cap = int(ix.workload_cap[u])
            if active >= cap:
                out = ("workload", f"is at the workload cap ({active} of {cap} assignments)")
        self._why[u] = out
        return out

    def compatible(self, u: int, chosen: Iterable[int]) -> bool:
        """Whether ``u`` can join ``chosen`` without breaking the organisation rule."""
        if self.per_org is None:
            return True
        orgs = self.prox.orgs
        mine = set(orgs(u))
        if not mine:
            return True
        counts: dict[int, int] = {}
        for c in chosen:
            for o in orgs(c):
                if o in mine:
                    counts[o] = counts.get(o, 0) + 1
        return all(v < self.per_org for v in counts.values())

    def kept_out(self, u: int, picks: list[int]) -> tuple[ExclusionCause, str] | None:
        """Why ``u`` is not a pick (a rule of :meth:`why_not`, or the organisation rule)."""
        if u in picks:
            return None
        if (why := self.why_not(u)) is not None:
            return why
        if self.compatible(u, picks):
            return None
        prox = self.prox
        mine = set(prox.orgs(u))
        shared = next(((o, p) for p in picks for o in prox.orgs(p) if o in mine), None)
        if shared is None:  # pragma: no cover - incompatible means an organisation is shared
            return None
        o, p = shared
        return (
            "organisation",
            f"shares {prox.name(o)} with the pick {prox.name(p)} "
            f"({prox.record_id(p)}); at most "
            f"{self.per_org} pick{'s' if self.per_org != 1 else ''} "
            "per organisation",
        )
