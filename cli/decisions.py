"""Planner, participant and manager commands: submit, status, history, tasks, answer, amend,
withdraw, resume.

Each acts as the actor whose token is in ``COUNSEL_TOKEN``; every command parses its input,
calls one service and prints. Answers go through the same path as the Prefect form
(:mod:`flows.answering`): recorded once in the store, then the decision continues.

Prefect is loaded only by the commands that talk to it (``submit``, ``answer``, ``resume``),
so ``status``, ``history`` and ``tasks`` start without it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine

from cli.common import (
    console,
    current_actor,
    event_dict,
    open_engine,
    prefect_configured,
    read_yaml,
)
from cli.errors import InputFileError, RefusingGroup
from decisions import services
from decisions.classes import load_classes
from decisions.exceptions import CounselError, InvalidProposal, validation_sentence
from decisions.model import Actor, State, TaskKind
from decisions.settings import load_settings
from decisions.text import shown
from flows.proposals import check_proposal
from flows.summaries import summarise_event

__all__ = ["app"]

app = typer.Typer(cls=RefusingGroup, pretty_exceptions_enable=False)


def _ui_links(decision_id: str, run_id: str) -> tuple[str, str]:
    """The queued step's task run and the decision's dossier, in the UI the README documents
    (Prefect 3.9's new UI, under ``/v2``)."""
    from flows.publishing import artifact_url, dossier_key, ui_url  # loads Prefect

    return ui_url(f"/runs/task-run/{run_id}"), artifact_url(dossier_key(decision_id))


@app.command()
def submit(
    proposal_file: Annotated[Path, typer.Argument(help="The proposal, as YAML.")],
    run: Annotated[
        bool, typer.Option(help="Start the decision flow on the Prefect server.")
    ] = True,
) -> None:
    """File a proposal as a new decision and start its flow; prints its id and run address."""
    engine = open_engine()
    planner = current_actor(engine)
    data = read_yaml(proposal_file)
    if isinstance(data, dict) and isinstance(data.get("tender"), str):
        # a tender's lots and bids may be a file of their own, named beside the proposal
        data = {**data, "tender": read_yaml(_beside(proposal_file, data["tender"]))}
    try:
        proposal = services.Proposal.model_validate(data)
    except ValidationError as err:
        raise InvalidProposal(f"{proposal_file}: {validation_sentence(err)}") from err
    filed = proposal_file.read_bytes()
    if proposal.tender is not None:  # a new file of bids is a new tender, not a repeat
        filed += json.dumps(proposal.tender, sort_keys=True, default=str).encode()
    digest = hashlib.sha256(filed).hexdigest()[:20]
    classes = load_classes(load_settings().classes_file)
    proposal = check_proposal(engine, proposal, classes, source=str(proposal_file))
    decision = services.submit_proposal(
        engine,
        proposal,
        planner=planner,
        classes=classes,
        idempotency_key=f"submit:{planner.id}:{digest}",
    )
    console.print(
        f"Filed [bold]{decision.id}[/bold]: {escape(decision.title)} ({decision.state.value})."
    )
    if run:
        _start_flow(engine, decision.id, done="filed")


def _beside(proposal_file: Path, name: str) -> Path:
    """The file ``name`` (the tender's lots and bids) in the proposal's folder."""
    if not name.strip() or not name.isprintable() or len(name) > 255:
        raise InputFileError(
            f"{proposal_file}: tender: give the lots and bids, or the name of the YAML file "
            f"beside the proposal that holds them, not {shown(name)}."
        )
    return proposal_file.parent / name


def _start_flow(engine: Engine, decision_id: str, *, done: str) -> None:
    """Queue the decision's next step for the stack's task workers, or say how it will start."""
    from flows.runs import DECISION_DEPLOYMENT as deployment  # loads Prefect

    by_hand = f"`prefect deployment run {deployment} --param decision_id={decision_id}`"
    if not prefect_configured():
        console.print(
            f"PREFECT_API_URL is not set, so no flow was started. Start one with {by_hand}; "
            "on a running stack the deadline sweep starts it.",
            markup=False,
        )
        return
    from prefect import get_client

    from flows.warm import start_decision_run

    try:
        with get_client(sync_client=True) as client:
            run_id = start_decision_run(client, engine, decision_id).id
    except Exception as err:  # noqa: BLE001 - report the server's refusal in one sentence
        raise CounselError(
            f"{decision_id} is {done}, but its flow could not be started on {deployment}: "
            f"{err}. The deadline sweep starts it once the stack is up, or start it yourself "
            f"with {by_hand}."
        ) from err
    step, dossier = _ui_links(decision_id, str(run_id))
    console.print(f"Its next step, queued for a task worker: {step}", markup=False)
    console.print(f"Its dossier, after each step: {dossier}", markup=False)


#: Besides the lifecycle's own events, the steps ``status`` tells: why a round followed
#: another, how the consultation ended, how the vote went.
STORY_ACTIONS = frozenset(
    {
        "consultation.routed",
        "consultation.round_aggregated",
        "consultation.reported",
        "vote.tallied",
    }
)


@app.command()
def status(
    decision_id: Annotated[str, typer.Argument(help="Decision id, e.g. D-2026-0001.")],
) -> None:
    """Show where a decision stands and the state of its tasks."""
    engine = open_engine()
    decision = services.get_decision(engine, decision_id)
    console.print(f"[bold]{decision.id}[/bold] {escape(decision.title)}")
    line = f"State: {decision.state.value}"
    if decision.state is State.STALLED and decision.stalled_from:
        line += f" in {decision.stalled_from.value}"
    if decision.round:
        line += f", consultation round {decision.round}"
    if decision.state_reason:
        line += f" — {decision.state_reason}"
    console.print(line, markup=False, highlight=False)
    if decision.state is State.STALLED:
        console.print(
            f"What to do: fix what the reason names, then `counsel resume {decision.id}` "
            "(the planner or a manager); or withdraw it if it stalled before the vote.",
            markup=False,
        )
    console.print(
        f"Class {decision.class_name}, district {decision.district}; "
        f"planner {decision.planner_id}; "
        f"proposal version {decision.current_version.number}.",
        markup=False,
    )
    steps = [
        (event, summarise_event(event))
        for event in services.history(engine, decision_id)
        if event.action.startswith("decision.") or event.action in STORY_ACTIONS
    ]
    story = Table("time (UTC)", "step", "details", title="How it got here")
    for event, details in steps:
        story.add_row(
            event.recorded_at[:16].replace("T", " "),
            event.action.removeprefix("decision."),
            escape(details),
        )
    console.print(story)
    table = Table("task", "kind", "round", "assignee", "status", "deadline (UTC)", title="Tasks")
    for task in services.tasks_of(engine, decision_id):
        deadline = f"{task.deadline:%Y-%m-%d %H:%M}" if task.deadline else ""
        table.add_row(
            task.id, task.kind.value, str(task.round), task.assignee_id, task.status.value, deadline
        )
    console.print(table)


FIELDS: dict[TaskKind, str] = {
    TaskKind.CONSULT: "recommendation (approve | approve_with_conditions | reject), "
    "rating_<criterion>: 1-9 each, conditions, rationale",
    TaskKind.DISCUSS: "stance (support | support_with_changes | oppose | neutral), text",
    TaskKind.VOTE: "choice (approve | approve_with_amendments | reject | return | recuse), "
    "rationale, justification",
    TaskKind.EXECUTE: "percent_complete (0-100), text, measures_done (one text: the measures "
    "completed, one per line)",
    TaskKind.INSPECT: "verdict (accept | reject), findings",
    TaskKind.SCORE: "points_0, points_1 … (0-100, one per bid and criterion below), "
    "rationale; or decline (true) with the rationale saying why",
    TaskKind.WITNESS: "value (the witness's value, such as a certificate number)",
}


@app.command()
def tasks() -> None:
    """List your open tasks with their answer codes and the fields an answer needs."""
    engine = open_engine()
    me = current_actor(engine)
    mine = services.open_tasks_for(engine, me.id)
    if not mine:
        console.print(f"{me.name} has no open tasks.")
        return
    classes = load_classes(load_settings().classes_file)
    console.print(f"[bold]Open tasks of {escape(me.name)}[/bold] ({len(mine)})")
    for task in mine:
        decision = services.get_decision(engine, task.decision_id)
        deadline = f"{task.deadline:%Y-%m-%d %H:%M} UTC" if task.deadline else "none"
        lines = [
            f"\n[bold]{task.id}[/bold]  {task.kind.value}, round {task.round}, "
            f"decision {task.decision_id}: {escape(decision.title)}",
            f"  deadline: {deadline}",
            f"  answer code: {services.answer_code_for(engine, task.id)}",
            f"  answer fields: {FIELDS[task.kind]}",
        ]
        if task.kind is TaskKind.CONSULT:
            criteria = classes.get(decision.class_name, decision.district_type).criteria
            lines.append("  criteria to rate 1-9: " + ", ".join(f"rating_{c}" for c in criteria))
        if task.kind is TaskKind.SCORE:
            from flows.tender import score_fields  # the bids of the evaluator's lots

            lines += [
                f"  points_{n}: {escape(cell.replace('|', ' · '))}"
                for n, cell in enumerate(score_fields(engine, task))
            ]
        if task.zone:
            lines.append(f"  zone: {escape(task.zone)}")
        lines.extend(f"  measure: {escape(m)}" for m in task.measures)
        lines.append(f"  answer with: counsel answer {task.id} --file answer.yaml")
        console.print("\n".join(lines), highlight=False)


@app.command()
def answer(
    task_id: Annotated[str, typer.Argument(help="The task you answer, e.g. D-2026-0001-C003.")],
    file: Annotated[Path | None, typer.Option("--file", help="The answer as YAML.")] = None,
    field: Annotated[
        list[str] | None, typer.Option("--set", help="A field as name=value; repeatable.")
    ] = None,
) -> None:
    """Answer one of your tasks; the waiting flow run continues."""
    from flows.answering import submit_answer  # loads Prefect

    engine = open_engine()
    me = current_actor(engine)
    data: dict[str, Any] = read_yaml(file) if file else {}
    for item in field or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise InputFileError(f"--set takes name=value, not {shown(item)}.")
        data[name.strip()] = value
    if "answer_code" not in data:
        # Only the assignee's own code is filled in; anyone else is refused (and audited).
        owns = _owns(engine, me, task_id)
        data["answer_code"] = services.answer_code_for(engine, task_id) if owns else "XXXXX-XXXXX"
    classes = load_classes(load_settings().classes_file)
    outcome = submit_answer(
        engine, task_id, data, actor=me, classes=classes, notify_prefect=prefect_configured()
    )
    recorded = outcome.recorded
    verb = "Recorded" if recorded.created else "Already recorded"
    console.print(f"{verb}: your answer to {task_id} (audit event {recorded.event.seq}).")
    if outcome.continued:
        console.print(f"That was the last answer awaited: {recorded.task.decision_id} continues.")
    if outcome.follow_up:
        console.print(outcome.follow_up)


def _owns(engine: Engine, me: Actor, task_id: str) -> bool:
    return services.get_task(engine, task_id).assignee_id == me.id


@app.command()
def amend(
    decision_id: Annotated[str, typer.Argument(help="Your decision.")],
    file: Annotated[Path, typer.Option("--file", help="YAML with title, text and note.")],
) -> None:
    """Publish an amended proposal version (planners, during discussion)."""
    engine = open_engine()
    me = current_actor(engine)
    data = read_yaml(file)
    missing = [k for k in ("title", "text") if not str(data.get(k, "")).strip()]
    if missing:
        raise InputFileError(f"{file} needs {' and '.join(missing)}.")
    decision = services.amend_proposal(
        engine,
        decision_id,
        actor=me,
        title=str(data["title"]),
        text=str(data["text"]),
        note=str(data.get("note", "")),
        idempotency_key=f"amend:{decision_id}:{hashlib.sha256(file.read_bytes()).hexdigest()[:20]}",
    )
    console.print(f"Published version {decision.current_version.number} of {decision_id}.")


@app.command()
def withdraw(
    decision_id: Annotated[str, typer.Argument(help="Your decision.")],
    reason: Annotated[str, typer.Option(help="Why it is withdrawn.")],
) -> None:
    """Withdraw your proposal before the vote."""
    engine = open_engine()
    me = current_actor(engine)
    decision = services.apply_transition(
        engine, decision_id, "withdraw", actor_id=me.id, reason=reason
    )
    console.print(f"{decision.id} is {decision.state.value}.")


@app.command()
def resume(
    decision_id: Annotated[str, typer.Argument(help="The stalled decision.")],
) -> None:
    """Take a stalled decision on from the stage it stalled in, once its cause is fixed."""
    engine = open_engine()
    me = current_actor(engine)
    before = services.get_decision(engine, decision_id)
    decision = services.apply_transition(
        engine,
        decision_id,
        "resume",
        actor_id=me.id,
        idempotency_key=f"resume:{decision_id}:{services.event_count(engine, decision_id)}",
    )
    console.print(
        f"{decision.id} is {decision.state.value} again (it stalled: {before.state_reason}).",
        markup=False,
    )
    _start_flow(engine, decision.id, done="resumed")


@app.command()
def history(
    decision_id: Annotated[str, typer.Argument(help="Decision id, e.g. D-2026-0001.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show every audit event of one decision, oldest first."""
    events = services.history(open_engine(), decision_id)
    if as_json:
        for event in events:
            print(json.dumps(event_dict(event), ensure_ascii=False))
        return
    table = Table(
        "seq", "time (UTC)", "actor", "action", "details", title=f"History of {decision_id}"
    )
    for event in events:
        table.add_row(
            str(event.seq),
            event.recorded_at[:19].replace("T", " "),
            event.actor,
            event.action,
            escape(summarise_event(event)),
        )
    console.print(table)
