"""A decision's dossier: the one artifact a manager and a planner open first.

Published at the end of every step of a decision (with the history table and the stage
reports the step wrote, in the step's own run), as a new version of the markdown artifact
``decision-<id>``, it says in one page:

- **where the decision stands and what it waits for**: the open tasks of the stage, who
  has answered and who has not, and by when, in the configured time zone;
- **the stages**, each with how far it got and a link to its report artifact;
- **who was kept out and why**: the experts the routing left out (conflicts of interest,
  availability, workload, organisation diversity) and everyone the separation of powers
  refused;
- **every vote with its rationale, and every recusal** (a member who stepped aside, and a
  member the separation of powers refused a vote);
- **the chain**: this decision's events checked against the chain, and the chain's head.

The same standing names the step run's final state (:func:`step_state`): ``Completed``,
named "Waiting for 3 of 5 answers", "Closed: approved", "Stalled" …, so the list of a
decision's runs reads as its story. Every text a person typed, and every name, is escaped
(:func:`~flows.publishing.md_inline`, :func:`~flows.publishing.md_block`). The facts come
from the store in one read (:func:`decisions.services.decision_record`); nothing here
decides anything.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from urllib.parse import quote
from zoneinfo import ZoneInfo

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.schemas.objects import State as PrefectState
from prefect.states import Completed
from pydantic import ValidationError
from sqlalchemy import Engine

from decisions import services
from decisions.audit import AuditEvent
from decisions.clock import utcnow
from decisions.model import Recusal, State, Task, TaskKind, TaskStatus, Vote
from decisions.procedure import STAGE_NAMES, stage_for
from decisions.services import DecisionRecord
from decisions.tally import Resolution
from flows.publishing import (
    Report,
    artifact_key,
    artifact_url,
    dossier_key,
    history_description,
    history_rows,
    md_block,
    md_inline,
    publish_reports,
    ui_url,
)

__all__ = [
    "Standing",
    "standing",
    "dossier_markdown",
    "dossier_description",
    "step_state",
    "publish_dossier",
    "local_time",
]

#: The stage each kind of task belongs to.
STAGE_OF_KIND = {
    TaskKind.CONSULT: "consult",
    TaskKind.DISCUSS: "discuss",
    TaskKind.VOTE: "decide",
    TaskKind.EXECUTE: "execute",
    TaskKind.INSPECT: "execute",
    TaskKind.SCORE: "consult",
    TaskKind.WITNESS: "consult",
}
#: What each kind of task asks, as a heading of the waiting list.
ASKED = {
    TaskKind.CONSULT: "consultation round {round}",
    TaskKind.DISCUSS: "discussion",
    TaskKind.VOTE: "vote",
    TaskKind.EXECUTE: "execution cycle {round}: progress reports",
    TaskKind.INSPECT: "execution cycle {round}: inspections",
    TaskKind.SCORE: "tender: scoring the bids",
    TaskKind.WITNESS: "tender: the witness's value for the draw",
}
#: The rules that keep an expert out of a routing, as a manager reads them.
KEPT_OUT_RULES = {
    "conflict": "conflict of interest",
    "excluded": "declared conflict",
    "unavailable": "not available",
    "workload": "at their workload cap",
    "organisation": "their organisation is already on the panel",
}
#: A decision at rest, as its step run's state names it.
AT_REST = {
    State.CLOSED: "Closed: approved",
    State.REJECTED: "Closed: rejected",
    State.WITHDRAWN: "Closed: withdrawn",
    State.STALLED: "Stalled",
}
#: The longest rationale, justification or reason the dossier quotes in full (the history
#: and the stage reports keep every word).
QUOTED = 2_000
#: How many of the people a step waits for its state's message names.
NAMED = 10


def local_time(moment: datetime | str | None, zone: ZoneInfo) -> str:
    """A moment as people read it in the city: ``2026-12-03 17:00`` in ``zone``.

    >>> from datetime import UTC
    >>> local_time(datetime(2026, 12, 3, 9, 0, tzinfo=UTC), ZoneInfo("Asia/Shanghai"))
    '2026-12-03 17:00'
    >>> local_time("2026-12-03T09:00:00.000000Z", ZoneInfo("Asia/Shanghai"))
    '2026-12-03 17:00'
    """
    if moment is None:
        return "no deadline"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _quote(text: str) -> str:
    """A person's text on one line of the dossier, escaped, cut at :data:`QUOTED`."""
    cut = text if len(text) <= QUOTED else text[:QUOTED] + " … (cut; the history has it all)"
    return md_inline(cut)


def _who(record: DecisionRecord, actor_id: str) -> str:
    """``**王芳** (e031)``: a person's name and id, both escaped."""
    name = record.name(actor_id)
    if name == actor_id:
        return f"**{md_inline(actor_id)}**"
    return f"**{md_inline(name)}** ({md_inline(actor_id)})"


# -- where it stands ----------------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """One group of tasks the decision waits on: one kind of task in one round or cycle."""

    kind: TaskKind
    round: int
    tasks: tuple[Task, ...]

    @property
    def heading(self) -> str:
        return ASKED[self.kind].format(round=self.round)

    @property
    def counted(self) -> tuple[Task, ...]:
        """The tasks whose answers count: open or answered (not passed on, not cancelled)."""
        return tuple(t for t in self.tasks if t.status in {TaskStatus.OPEN, TaskStatus.ANSWERED})

    @property
    def open(self) -> tuple[Task, ...]:
        return tuple(t for t in self.tasks if t.status is TaskStatus.OPEN)


@dataclass(frozen=True)
class Standing:
    """Where a decision stands: the step state's ``name`` and ``message``, the dossier's
    headline, and the groups of tasks it waits on (empty when it waits on nobody)."""

    name: str
    message: str
    headline: str
    waiting: tuple[Waiting, ...]


def _waiting(tasks: Iterable[Task]) -> tuple[Waiting, ...]:
    """The groups (kind and round) that have an open task, with all their tasks."""
    groups: dict[tuple[TaskKind, int], list[Task]] = defaultdict(list)
    for t in tasks:
        groups[(t.kind, t.round)].append(t)
    return tuple(
        Waiting(kind, round_no, tuple(group))
        for (kind, round_no), group in groups.items()
        if any(t.status is TaskStatus.OPEN for t in group)
    )


def _state_words(record: DecisionRecord) -> str:
    decision = record.decision
    state = decision.state.value
    if decision.state is State.CONSULTING and decision.round:
        return f"{state}, round {decision.round}"
    return state


def standing(record: DecisionRecord, zone: ZoneInfo) -> Standing:
    """Where the decision stands and what it waits for, for the dossier and the step state.

    A decision at rest is "Closed: approved" (its work accepted), "Closed: rejected",
    "Closed: withdrawn" or "Stalled", the message saying why. An active one waiting on
    people is "Waiting for N of M answers": N still open of the M answers its open groups
    of tasks count (a task passed to an alternate counts as its replacement).
    """
    decision = record.decision
    if decision.state in AT_REST:
        return _at_rest(record)
    waiting = _waiting(record.tasks)
    if not waiting:
        message = (
            f"{decision.id} is {_state_words(record)} and waits for no one: its next step "
            "is queued, or the deadline sweep takes it."
        )
        return Standing("Ready for its next step", message, message, ())
    still = sum(len(w.open) for w in waiting)
    counted = sum(len(w.counted) for w in waiting)
    name = f"Waiting for {still} of {counted} answers"
    due = min((t.deadline for w in waiting for t in w.open if t.deadline), default=None)
    by = f", the first due by {local_time(due, zone)} ({zone.key})" if due else ""
    open_ = [t for w in waiting for t in w.open]
    people = ", ".join(f"{record.name(t.assignee_id)} ({t.assignee_id})" for t in open_[:NAMED]) + (
        f" and {len(open_) - NAMED} more" if len(open_) > NAMED else ""
    )
    asked = "; ".join(w.heading for w in waiting)
    message = f"{decision.id} is {_state_words(record)}: the {asked} waits for {people}{by}."
    headline = f"{_state_words(record).capitalize()}: waiting for {still} of {counted} answers{by}."
    return Standing(name, message, headline, waiting)


def _at_rest(record: DecisionRecord) -> Standing:
    """A closed, rejected, withdrawn or stalled decision: what became of it, and why."""
    decision = record.decision
    name = AT_REST[decision.state]
    tallies = _tallies(record)
    if decision.state is State.CLOSED:
        approved = _events(record, "decision.approved")
        if approved and approved[-1].data.get("with_amendments"):
            name = "Closed: approved with amendments"
        why = "The work was executed and accepted."
    elif decision.state is State.REJECTED:
        why = tallies[-1] if tallies else "The vote rejected it."
    else:
        why = decision.state_reason or f"It is {decision.state.value}."
    message = f"{decision.id}: {name}. {why}"
    return Standing(name, message, f"{name}. {md_inline(why)}", ())


def step_state(record: DecisionRecord, zone: ZoneInfo, result: str) -> PrefectState[str]:
    """The state a step run ends in: ``Completed``, named for what the decision does next,
    with the standing as its message; the run's result stays ``result`` (``waiting`` or
    the final state), which is what the caller of the flow receives."""
    where = standing(record, zone)
    return cast(PrefectState[str], Completed(name=where.name, message=where.message, data=result))


# -- the dossier --------------------------------------------------------------------------


def _waiting_markdown(record: DecisionRecord, where: Standing, zone: ZoneInfo) -> list[str]:
    if not where.waiting:
        return []
    now = utcnow()
    lines = ["## What it waits for", ""]
    for group in where.waiting:
        lines += [
            f"### {group.heading.capitalize()}: {len(group.open)} of {len(group.counted)} "
            "still to answer",
            "",
            f"| person | task | answered | due by ({zone.key}) |",
            "|---|---|---|---|",
        ]
        for t in group.tasks:
            if t.status is TaskStatus.ANSWERED:
                answered = f"yes, {local_time(t.closed_at, zone)}"
            elif t.status is TaskStatus.OPEN:
                late = t.deadline is not None and t.deadline < now
                answered = "**not yet, overdue**" if late else "**not yet**"
            elif t.status is TaskStatus.REASSIGNED:
                answered = "no: passed to an alternate at its deadline"
            else:
                answered = "no: cancelled at its deadline"
            lines.append(
                f"| {_who(record, t.assignee_id)} | {md_inline(t.id)} | {answered} | "
                f"{local_time(t.deadline, zone)} |"
            )
        lines.append("")
    return lines


def _tallies(record: DecisionRecord) -> list[str]:
    """Each vote's resolution, in the order they were tallied."""
    said = []
    for e in _events(record, "vote.tallied"):
        try:
            said.append(Resolution.model_validate(e.data).explain())
        except ValidationError:
            said.append(f"{e.data.get('outcome', 'tallied')}.")
    return said


def _events(record: DecisionRecord, action: str) -> list[AuditEvent]:
    return [e for e in record.events if e.action == action]


def _stage_rows(record: DecisionRecord) -> list[str]:
    """One row per stage: how far it got, and its report's link once it has one."""
    decision = record.decision
    now_in = stage_for(decision.state) or (
        stage_for(decision.stalled_from) if decision.stalled_from else None
    )
    rounds, cycles, tallies = record.rounds, record.cycles, _tallies(record)
    minuted = _events(record, "discussion.minuted")
    done: dict[str, str] = {}
    if rounds:
        last = rounds[-1]
        verdict = (
            f"consensus in round {last.round}"
            if last.consensus
            else ("dissent after the last round" if last.concluded else "no consensus yet")
        )
        done["consult"] = f"{len(rounds)} round(s) aggregated; {verdict}"
    if minuted:
        positions = minuted[-1].data.get("positions")
        done["discuss"] = "minuted" + (f", {positions} position(s)" if positions else "")
    if tallies:
        done["decide"] = tallies[-1]
    if cycles:
        done["execute"] = "; ".join(f"cycle {c.cycle}: {c.outcome}" for c in cycles)
    rows = ["| stage | how far | report |", "|---|---|---|"]
    for stage, stage_name in STAGE_NAMES.items():
        how = md_inline(done.get(stage, "not reached" if stage != now_in else "under way"))
        if stage == now_in:
            how = f"**now, {decision.state.value}**: {how}"
        key = artifact_key(decision.id, stage)
        report = f"[{key}]({artifact_url(key)})" if stage in done else "none yet"
        rows.append(f"| {stage_name} | {how} | {report} |")
    history = artifact_key(decision.id, "history")
    rows.append(
        f"| history | {len(record.events)} audit events | [{history}]({artifact_url(history)}) |"
    )
    return ["## Stages", "", *rows, ""]


def _kept_out(record: DecisionRecord) -> list[str]:
    """Who the routings kept out, and everyone the separation of powers refused (the
    refused votes are in the votes' recusals)."""
    lines = ["## Who was kept out, and why", ""]
    said = False
    for routing in record.routings:
        notes = routing.notes
        kept = list(notes.get("kept_out") or [])
        total = int(notes.get("kept_out_count", len(kept)))
        lines += [f"### Experts kept out of the consultation from round {routing.first_round}", ""]
        if kept:
            lines += ["| expert | rule | why |", "|---|---|---|"]
            for x in kept:
                who = f"{md_inline(str(x.get('name', '')))} ({md_inline(str(x.get('expert', '')))})"
                rule = str(x.get("rule", ""))
                lines.append(
                    f"| {who} | {md_inline(KEPT_OUT_RULES.get(rule, rule))} | "
                    f"{_quote(str(x.get('reason', '')))} |"
                )
            if total > len(kept):
                lines.append("")
                lines.append(f"and {total - len(kept)} more (counted in the routing record).")
        elif notes.get("conflicts"):  # a routing recorded before the kept-out list
            lines += [f"- {_quote(str(reason))}" for reason in notes["conflicts"]]
        else:
            lines.append("No expert was kept out.")
        shortfall = notes.get("shortfall")
        if shortfall:
            lines += ["", f"**Fewer experts than asked:** {_quote(str(shortfall.get('reason')))}"]
        uncovered = notes.get("uncovered") or []
        if uncovered:
            topics = ", ".join(md_inline(str(u)) for u in uncovered)
            lines += ["", f"Topics no routed expert covers: {topics}."]
        lines += ["", "The panel:", ""]
        lines += [
            f"- {_who(record, slot.expert)}: "
            f"{_quote(slot.reason.removeprefix(record.name(slot.expert) + ': ') or 'routed')}"
            + (
                "; alternates " + ", ".join(md_inline(a) for a in slot.alternates)
                if slot.alternates
                else ""
            )
            for slot in routing.slots
        ]
        lines.append("")
        said = True
    refused = [e for e in _events(record, "powers.refused") if e.data.get("attempted") != "vote"]
    if refused:
        lines += ["### Refused by the separation of powers", ""]
        lines += [
            f"- {_who(record, e.actor)} may not {md_inline(str(e.data.get('attempted', 'act')))}: "
            f"{_quote(str(e.data.get('reason', '')))}"
            for e in refused
        ]
        lines.append("")
        said = True
    if not said:
        lines += ["Nobody yet: the consultation has not been routed.", ""]
    return lines


def _votes(record: DecisionRecord, zone: ZoneInfo) -> list[str]:
    """Every vote with its rationale, and every recusal, one section per sitting."""
    tasks = [t for t in record.tasks if t.kind is TaskKind.VOTE]
    sittings = sorted({t.round for t in tasks})
    opened = [e.seq for e in _events(record, "decision.vote_opened")]
    refusals = [e for e in _events(record, "powers.refused") if e.data.get("attempted") == "vote"]
    if not sittings and not refusals:
        return []
    tallies = _tallies(record)
    lines = ["## Votes", ""]
    for index, round_no in enumerate(sittings or [record.decision.round]):
        since = opened[index] if index < len(opened) else 0
        until = opened[index + 1] if index + 1 < len(opened) else None
        tally = tallies[index] if index < len(tallies) else "not tallied yet."
        lines += [f"### Vote {index + 1} (after consultation round {round_no})", "", tally, ""]
        recusals: list[str] = []
        for t in (t for t in tasks if t.round == round_no):
            answer = record.answers.get(t.id)
            who = _who(record, t.assignee_id)
            if isinstance(answer, Vote):
                line = f"- {who}: {answer.choice.replace('_', ' ')} — {_quote(answer.rationale)}"
                if answer.justification:
                    line += f" Justification: {_quote(answer.justification)}"
                lines.append(line)
            elif isinstance(answer, Recusal):
                recusals.append(f"- {who} recused: {_quote(answer.reason)}")
            elif t.status is TaskStatus.OPEN:
                lines.append(f"- {who}: no vote yet (due by {local_time(t.deadline, zone)})")
            else:
                lines.append(f"- {who}: did not vote ({t.status.value})")
        recusals += [
            f"- {_who(record, e.actor)} may not vote (separation of powers): "
            f"{_quote(str(e.data.get('reason', '')))}"
            for e in refusals
            if e.seq > since and (until is None or e.seq < until)
        ]
        lines += ["", "Recusals:", "", *(recusals or ["- none"]), ""]
    return lines


def _chain(record: DecisionRecord) -> list[str]:
    count, head_hash = record.head
    check = record.check
    if check.ok:
        own = (
            f"This decision's {check.events} audit events verify: each still matches its hash "
            "and follows the event before it in the chain."
        )
    else:
        own = (
            f"**This decision's events do not verify: {md_inline(check.reason)}.** Run "
            "`counsel audit verify` and ask an auditor before relying on this record."
        )
    return [
        "## The audit chain",
        "",
        own,
        "",
        f"The chain's head when this was published: {count} events, hash `{head_hash}`. "
        "`counsel audit verify` walks the whole chain; `counsel audit verify --anchor` "
        "checks it still holds this head.",
    ]


def dossier_markdown(record: DecisionRecord, zone: ZoneInfo) -> str:
    """The dossier of a decision, as markdown; every person's text escaped."""
    decision = record.decision
    where = standing(record, zone)
    version = decision.current_version
    runs = ui_url(f"/runs?tags={quote('decision:' + decision.id, safe='')}&hide-subflows=true")
    district = md_inline(decision.district) + (
        f" ({md_inline(decision.district_type)})" if decision.district_type else ""
    )
    lines = [
        f"# {decision.id}: {md_inline(version.title)}",
        "",
        f"**{where.headline}**",
        "",
        f"- Class {md_inline(decision.class_name)}, district {district}; filed by "
        f"{_who(record, decision.planner_id)} on {local_time(decision.created_at, zone)}; "
        f"proposal version {version.number}.",
        f"- Times are {zone.key}. Published {local_time(utcnow(), zone)}, up to event "
        f"{record.events[-1].seq if record.events else 0} of the chain.",
        f"- Every run of this decision (its steps and each person's form): [runs]({runs})",
        "",
    ]
    if decision.state is State.STALLED and decision.state_reason:
        lines += ["## Why it stalled", "", md_block(decision.state_reason), ""]
    lines += _waiting_markdown(record, where, zone)
    lines += _stage_rows(record)
    lines += _kept_out(record)
    lines += _votes(record, zone)
    lines += _chain(record)
    return "\n".join(lines) + "\n"


def dossier_description(record: DecisionRecord, zone: ZoneInfo) -> str:
    """The artifact's description, as the Artifacts page lists it."""
    count, head_hash = record.head
    return (
        f"Dossier of {record.id}: {standing(record, zone).name}; chain head {count} events, "
        f"hash {head_hash[:16]}."
    )


# -- publishing ---------------------------------------------------------------------------


def publish_dossier(
    engine: Engine, decision_id: str, zone: ZoneInfo, reports: Sequence[Report] = ()
) -> DecisionRecord:
    """Publish the stage ``reports`` a step wrote, then the decision's history table and its
    dossier from one read of the store, in the step's own run (a task run for them cost the
    server three events and a log per step); returns what was read, for the step's final
    state. A request that fails is retried by the Prefect client; a step that still fails
    here is taken again by the sweep, and publishing it again is harmless (a new version
    of each artifact)."""
    publish_reports(reports)
    record = services.decision_record(engine, decision_id)
    # _sync: the decision's flow is async, where Prefect's artifact functions would return
    # coroutines; these requests are made here, in order, as the step ends
    create_table_artifact(  # type: ignore[call-arg]
        key=artifact_key(decision_id, "history"),
        table=history_rows(record.events),
        description=history_description(decision_id, record.head),
        _sync=True,
    )
    create_markdown_artifact(  # type: ignore[call-arg]
        key=dossier_key(decision_id),
        markdown=dossier_markdown(record, zone),
        description=dossier_description(record, zone),
        _sync=True,
    )
    return record
