"""A tender's rules: qualified bidders, a verifiable draw of evaluators, scored bids.

For a class with a ``tender`` section the consultation stage is the tender's; discussion,
vote and execution are the usual ones, the decision body voting on the ranking and the
winners executing their lots.

1. Every bidder is checked against the class's qualification rules (``qualify``); with no
   qualified bid the decision stalls.
2. Counsel commits to its server seed in the audit chain (``commit``) before the pool exists.
3. The eligible pool is fixed and recorded (``fix_pool``); with fewer eligible experts than
   the panel needs the decision stalls.
4. A witness of the class's witness body enters a value (a ``witness`` task) after the pool
   is fixed; with no witness available the decision stalls.
5. The panel, its alternates and their lots are drawn from the pool with the seed made of
   the server's seed, the witness's value and the pool (``draw``).
6. The holder of each seat gets a ``score`` task for the qualified bids of its lots. A
   holder who declines, whose task is cancelled (its deadline passed), or whom the
   separation of powers refuses is replaced by the next alternate in the draw's order
   (``replace``, replayed by ``counsel audit check-draw``).
7. Once every seat has scored, the round's ranking is recorded (``rank``), the server seed is
   revealed (``reveal``) and the discussion opens.
"""

from __future__ import annotations

import hashlib

from decisions.model import Actor, BidScores, Role, State, Task, TaskKind, TaskStatus, WitnessEntry
from decisions.procedure import keys
from decisions.procedure.commands import Assign, Command, TenderStep, Transition, Wait
from decisions.procedure.view import DecisionView

__all__ = ["tender_consultation", "witnesses_for", "winners", "winners_executors", "NO_SPEC"]

#: Why a tender decision filed without its lots and bids cannot be consulted.
NO_SPEC = "The decision is of a tender class but no lots and bids were filed with it."
#: The round a tender's witness task belongs to (one witness per tender, whatever the round).
WITNESS_ROUND = 1


def witnesses_for(actors: tuple[Actor, ...], body: str) -> list[Actor]:
    """The witnesses of ``body`` (a notary office), in id order."""
    return sorted(
        (a for a in actors if Role.WITNESS in a.roles and body in a.bodies), key=lambda a: a.id
    )


def _stall(view: DecisionView, cause: str, reason: str) -> list[Command]:
    return [
        Transition(
            "stall", keys.stall(view.id, cause, view.decision.updated_at), {"reason": reason}
        )
    ]


def tender_consultation(view: DecisionView) -> list[Command]:
    """What the tender stage of ``view``'s decision does next (nothing once it is over)."""
    decision, dclass = view.decision, view.decision_class
    rules = dclass.tender
    assert rules is not None, "only a tender class has a tender stage"
    if decision.state in {State.SUBMITTED, State.RETURNED}:
        return [
            Transition("start_consultation", keys.start_consultation(view.id, decision.round + 1))
        ]
    if decision.state is not State.CONSULTING:
        return []
    record = view.tender
    if record is None:
        return _stall(view, "tender:spec", NO_SPEC)
    if record.qualification is None:
        return [TenderStep("qualify", keys.tender(view.id, "qualified"))]
    if not record.qualified:
        return _stall(
            view,
            "tender:qualified",
            "No bid qualified under the class's qualification rules; the tender cannot be "
            "evaluated (the exclusions and their reasons are in the history).",
        )
    if record.commitment is None:
        return [TenderStep("commit", keys.tender(view.id, "seed-committed"))]
    if record.pool is None:
        return [TenderStep("fix_pool", keys.tender(view.id, "pool-fixed"))]
    pool = record.pool["members"]
    if len(pool) < rules.panel + rules.alternates:
        return _stall(
            view,
            "tender:pool",
            f"Only {len(pool)} experts are eligible to evaluate the tender but its panel "
            f"needs {rules.panel} and {rules.alternates} alternates.",
        )
    if record.draw is None:
        return _witness(view, rules.witness_body)
    return _scoring(view)


def _witness(view: DecisionView, body: str) -> list[Command]:
    """Ask a witness for the value the draw mixes in; draw once it is entered."""
    tasks = view.all_tasks_of(TaskKind.WITNESS, WITNESS_ROUND)
    for task in tasks:
        entry = view.answers.get(task.id)
        if isinstance(entry, WitnessEntry):
            return [TenderStep("draw", keys.tender(view.id, "drawn"), {"witness": entry.value})]
    waiting = tuple(t for t in tasks if t.status is TaskStatus.OPEN)
    if waiting:
        return [Wait("consult", waiting)]
    asked = {t.assignee_id for t in tasks}
    candidates = tuple(
        a.id
        for a in witnesses_for(view.actors, body)
        if a.id not in asked
        and keys.assignment(view.id, TaskKind.WITNESS, WITNESS_ROUND, a.id) not in view.refused
    )
    if not candidates:
        return _stall(
            view,
            f"tender:witness:{len(asked)}",
            f"No witness of {body} is available to enter the value the draw of evaluators "
            "mixes in; register one with `counsel actors add ID --role witness --body "
            f"{body}`, then resume the decision.",
        )
    return [
        Assign(
            TaskKind.WITNESS,
            candidates,
            tuple(keys.assignment(view.id, TaskKind.WITNESS, WITNESS_ROUND, c) for c in candidates),
            WITNESS_ROUND,
            view.decision_class.durations.answer,
        )
    ]


def _seat_task(view: DecisionView, holder: str, round_no: int) -> Task | None:
    tasks = [t for t in view.all_tasks_of(TaskKind.SCORE, round_no) if t.assignee_id == holder]
    return tasks[-1] if tasks else None


def _scoring(view: DecisionView) -> list[Command]:
    """Each seat's holder scores; decliners are replaced; then rank, reveal, discuss."""
    record = view.tender
    assert record is not None and record.draw is not None
    dclass = view.decision_class
    round_no = view.decision.round
    duration = min(dclass.durations.answer, dclass.durations.consult)
    declined: list[str] = []
    assigns: list[Command] = []
    waiting: list[Task] = []
    scores: dict[str, dict[str, dict[str, int]]] = {}
    for member in record.panel:
        if not record.lots_of(member):
            continue  # the lot assignment gave this seat no lot: nothing to score
        holder = record.holder(member)
        task = _seat_task(view, holder, round_no)
        if task is None:
            key = keys.assignment(view.id, TaskKind.SCORE, round_no, holder)
            if key in view.refused:
                declined.append(holder)
            else:
                assigns.append(Assign(TaskKind.SCORE, (holder,), (key,), round_no, duration))
            continue
        answer = view.answers.get(task.id)
        if isinstance(answer, BidScores):
            scores[holder] = answer.scores
        elif task.status is TaskStatus.OPEN:
            waiting.append(task)
        else:  # declined, or cancelled when its deadline passed
            declined.append(holder)
    if declined:
        everyone = sorted({*record.declined(), *declined})
        alternates = len(record.draw["alternates"])
        if len(everyone) > alternates:  # each one who declines takes up an alternate
            return _stall(
                view,
                f"tender:alternates:{len(everyone)}",
                f"The panel cannot be completed: {len(everyone)} drawn evaluators declined or "
                f"could not serve and the draw has {alternates} alternates.",
            )
        digest = hashlib.sha256("\n".join(everyone).encode()).hexdigest()[:16]
        return [
            TenderStep(
                "replace",
                keys.tender(view.id, "replaced", digest),
                {"declined": everyone},
            )
        ]
    if assigns:
        return assigns
    if waiting:
        return [Wait("consult", tuple(waiting))]
    if record.ranking is None or record.ranking.get("round") != round_no:
        return [
            TenderStep(
                "rank",
                keys.tender(view.id, "ranked", round_no),
                {"round": round_no, "scores": scores},
            )
        ]
    if record.revealed is None:
        return [TenderStep("reveal", keys.tender(view.id, "seed-revealed"))]
    return [Transition("open_discussion", keys.open_discussion(view.id, round_no))]


def winners(view: DecisionView) -> dict[str, tuple[str, ...]]:
    """The winning bidders of the latest ranking and the lots each won (lot names with their
    street offices): who executes which responsibility zone once the body awards them."""
    record = view.tender
    if record is None or record.ranking is None:
        return {}
    lots = {lot["id"]: lot for lot in record.spec.get("lots", ())}
    bids = {bid["id"]: bid for bid in record.spec.get("bids", ())}
    won: dict[str, list[str]] = {}
    for lot in record.ranking["ranking"]["lots"]:
        winner = lot.get("winner")
        if winner is None or winner not in bids:
            continue
        spec_lot = lots.get(lot["lot"], {"name": lot["lot"], "street_office": ""})
        zone = spec_lot["name"]
        if spec_lot.get("street_office"):
            zone = f"{spec_lot['street_office']} {zone}"
        won.setdefault(bids[winner]["bidder"], []).append(zone)
    return {org: tuple(zones) for org, zones in sorted(won.items())}


def winners_executors(
    actors: tuple[Actor, ...], awarded: dict[str, tuple[str, ...]]
) -> list[Actor]:
    """The executors of the winning bidders (``awarded``'s organisations), in id order."""
    return sorted(
        (a for a in actors if Role.EXECUTOR in a.roles and awarded.keys() & set(a.affiliations)),
        key=lambda a: a.id,
    )
