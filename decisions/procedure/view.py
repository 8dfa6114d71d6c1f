"""A read-only view of one decision: everything the procedure decides from.

The flows load it from the store (state, tasks, typed answers, actors, routing, rounds,
execution cycles) and add what this run has learnt and the store does not keep as state:
the assignments the separation of powers refused. Nothing here does I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from decisions.classes import DecisionClass
from decisions.consensus import RoundAggregate, aggregate_round
from decisions.model import (
    Actor,
    Answer,
    Decision,
    Opinion,
    Task,
    TaskKind,
    TaskStatus,
)
from decisions.progress import (
    ExecutionCycle,
    RoundRecord,
    Routing,
    TenderRecord,
    routing_of_round,
)

__all__ = ["DecisionView"]


@dataclass(frozen=True)
class DecisionView:
    """One decision as the store has it, with its class.

    ``refused`` holds the assignment keys the separation of powers refused during this
    run: an assignment is tried once per run, and a refused one is not tried again.
    """

    decision: Decision
    decision_class: DecisionClass
    tasks: tuple[Task, ...] = ()
    answers: Mapping[str, Answer] = field(default_factory=dict)
    actors: tuple[Actor, ...] = ()
    routings: tuple[Routing, ...] = ()
    rounds: tuple[RoundRecord, ...] = ()
    cycles: tuple[ExecutionCycle, ...] = ()
    refused: frozenset[str] = frozenset()
    #: a tender's recorded facts (None for other classes, or before the tender is filed)
    tender: TenderRecord | None = None

    @property
    def id(self) -> str:
        return self.decision.id

    def tasks_of(self, kind: TaskKind, round: int) -> list[Task]:
        """The tasks of ``kind`` in ``round`` (or execution cycle) except those passed on to
        an alternate, whose replacement's task stands for them."""
        return [
            t
            for t in self.tasks
            if t.kind is kind and t.round == round and t.status is not TaskStatus.REASSIGNED
        ]

    def all_tasks_of(self, kind: TaskKind, round: int) -> list[Task]:
        """The tasks of ``kind`` in ``round``, reassigned ones included."""
        return [t for t in self.tasks if t.kind is kind and t.round == round]

    def round_record(self, round: int) -> RoundRecord | None:
        return next((r for r in self.rounds if r.round == round), None)

    def consultation_start(self) -> int:
        """The round the current consultation began with.

        A consultation is open from its routing until a round concludes it; after a return
        the decision's next round begins a new one.
        """
        current = self.round_record(self.decision.round)
        if current is not None and current.concluded:  # concluded, the discussion not yet open
            return current.first_round
        concluded = {r.first_round for r in self.rounds if r.concluded}
        open_ = [
            r.first_round
            for r in self.routings
            if r.first_round not in concluded and r.first_round <= self.decision.round
        ]
        return max(open_) if open_ else max(self.decision.round, 1)

    def routing_for(self, first_round: int) -> Routing | None:
        return next((r for r in self.routings if r.first_round == first_round), None)

    def routing_of_round(self, round: int) -> Routing | None:
        """The routing of the consultation ``round`` belongs to."""
        return routing_of_round(self.routings, round)

    def opinions(self, round: int) -> list[tuple[Task, Opinion]]:
        """The opinions given in a consultation round, with their tasks."""
        return [
            (t, answer)
            for t in self.tasks_of(TaskKind.CONSULT, round)
            if isinstance(answer := self.answers.get(t.id), Opinion)
        ]

    def aggregate(self, round: int) -> RoundAggregate | None:
        """The anonymous aggregate of a consultation round's opinions (None without any)."""
        opinions = [o for _, o in self.opinions(round)]
        if not opinions:
            return None
        dclass = self.decision_class
        return aggregate_round(opinions, dclass.criteria, dclass.consensus, round=round)

    def previous_aggregate(self, round: int) -> RoundAggregate | None:
        """The aggregate of the round before ``round`` in the same consultation, which its
        panel sees beside the question (None in a consultation's first round)."""
        if round <= self.consultation_start():
            return None
        return self.aggregate(round - 1)

    def recommendations(self) -> dict[str, int]:
        """How many experts recommended what in the latest round that has opinions."""
        rounds = [t.round for t in self.tasks if isinstance(self.answers.get(t.id), Opinion)]
        if not rounds:
            return {}
        counts = Counter(o.recommendation for _, o in self.opinions(max(rounds)))
        return dict(sorted(counts.items()))

    def conditions(self) -> tuple[str, ...]:
        """The conditions the experts attached in the latest consultation report."""
        concluded = [r for r in self.rounds if r.concluded]
        return max(concluded, key=lambda r: r.round).conditions if concluded else ()

    def actor_name(self, actor_id: str) -> str:
        return next((a.name for a in self.actors if a.id == actor_id), actor_id)
