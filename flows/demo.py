"""``counsel demo``: one decision carried through all four stages on a fresh SQLite store.

Simulated participants answer through the same service calls the CLI uses, including a
refused answer (wrong answer code), a conflicted expert the powers policy keeps out, a Delphi
revision in round 2, a consulted expert who tries to vote, and an inspector accepting the
street office's work. It ends by exporting the chain with its head anchor and verifying it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from sqlalchemy import Engine

from decisions import services
from decisions.classes import DecisionClass, load_classes
from decisions.consensus import RoundAggregate, aggregate_round
from decisions.db import make_engine
from decisions.exceptions import PermissionDenied, TaskError
from decisions.model import (
    Acceptance,
    Actor,
    Answer,
    Comment,
    Opinion,
    ProgressReport,
    Vote,
)
from decisions.tally import against_consensus, tally

__all__ = ["run_demo", "examples_dir"]


def examples_dir() -> Path:
    """The ``examples/`` folder beside the packages (source checkout or editable install)."""
    return Path(__file__).resolve().parent.parent / "examples"


@dataclass
class Cast:
    engine: Engine
    actors: dict[str, Actor] = field(default_factory=dict)


def _load_actors(cast: Cast, path: Path) -> None:
    for entry in yaml.safe_load(path.read_text(encoding="utf-8")):
        actor, _token = services.add_actor(
            cast.engine,
            actor_id=entry["id"],
            name=entry["name"],
            roles=entry["roles"],
            affiliations=entry.get("affiliations", []),
            bodies=entry.get("bodies", []),
            by="demo",
        )
        cast.actors[actor.id] = actor


def _answer(
    cast: Cast,
    console: Console,
    actor_id: str,
    task_id: str,
    code: str,
    answer: Answer,
    criteria: tuple[str, ...] | None = None,
) -> None:
    actor = cast.actors[actor_id]
    services.record_answer(
        cast.engine,
        task_id,
        answer,
        actor=actor,
        answer_code=code,
        criteria=criteria,
        idempotency_key=f"answer:{task_id}",
    )
    console.print(f"    {actor.name} answered {task_id}")


def _opinion(
    criteria: tuple[str, ...], scores: list[int], recommendation: str, why: str
) -> Opinion:
    return Opinion(
        recommendation=recommendation,  # type: ignore[arg-type]
        ratings=dict(zip(criteria, scores, strict=True)),
        conditions=("Night shifts around Renmin market",) if "conditions" in recommendation else (),
        rationale=why,
    )


def run_demo(console: Console, home: Path) -> bool:
    """Run the scripted decision; returns whether the chain verified at the end."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    path = home / "demo" / f"demo-{stamp}.db"
    engine = make_engine(f"sqlite:///{path}")
    services.init_store(engine)
    console.rule("Counsel demo")
    console.print(f"A fresh store at {path}")
    cast = Cast(engine)
    examples = examples_dir()
    _load_actors(cast, examples / "actors.yaml")
    console.print(f"Added {len(cast.actors)} actors from examples/actors.yaml")

    classes = load_classes()
    proposal = services.Proposal.model_validate(
        yaml.safe_load((examples / "proposal.yaml").read_text(encoding="utf-8"))
    )
    decision = services.submit_proposal(
        engine,
        proposal,
        planner=cast.actors["li-wei"],
        classes=classes,
        idempotency_key="demo-submit",
    )
    dclass: DecisionClass = classes.get(decision.class_name, decision.district_type)
    criteria = dclass.criteria
    console.print(f"[bold]{decision.id}[/bold] filed by 李伟: {decision.title}")
    console.print(
        f"  class {dclass.name} ({decision.district_type}): criteria {', '.join(criteria)}"
    )

    d = decision.id
    deadline = datetime.now(UTC) + dclass.durations.answer

    def transition(action: str, **kwargs: Any) -> None:
        result = services.apply_transition(
            engine, d, action, idempotency_key=f"{d}:{action}:{kwargs}", **kwargs
        )
        console.print(
            f"  → {result.state.value}"
            + (f" (round {result.round})" if action in {"start_consultation", "next_round"} else "")
        )

    def report_round(number: int, answers: dict[str, tuple[list[int], str, str]]) -> RoundAggregate:
        opinions = [_opinion(criteria, scores, rec, why) for scores, rec, why in answers.values()]
        agg = aggregate_round(opinions, criteria, dclass.consensus, round=number)
        for line in agg.summary().splitlines():
            console.print(f"    {line}")
        if agg.consensus:
            console.print(f"  Round {number}: consensus on every criterion.")
        else:
            console.print(f"  Round {number}: no consensus yet on {', '.join(agg.dissent)}.")
        return agg

    # -- consult -------------------------------------------------------------------------
    console.rule("1. Consult")
    transition("start_consultation")
    codes: dict[str, tuple[str, str]] = {}
    for expert in ["wang-fang", "chen-jie", "zhao-lei", "qian-bo"]:
        try:
            assigned = services.assign_task(
                engine,
                d,
                "consult",
                expert,
                deadline=deadline,
                idempotency_key=f"{d}:consult:1:{expert}",
            )
        except PermissionDenied as refusal:
            console.print(f"    [yellow]refused[/yellow]: {refusal}")
            continue
        codes[expert] = (assigned.task.id, assigned.answer_code)
        console.print(
            f"    {cast.actors[expert].name} asked "
            f"({assigned.task.id}, code {assigned.answer_code})"
        )
    task_id, _code = codes["chen-jie"]
    try:
        services.record_answer(
            engine,
            task_id,
            _opinion(criteria, [6, 5, 6, 6, 7], "approve", "x"),
            actor=cast.actors["chen-jie"],
            answer_code="WRONG-CODE1",
        )
    except TaskError as refusal:
        console.print(f"    [yellow]refused[/yellow]: {refusal}")
    round1 = {
        "wang-fang": ([7, 6, 7, 6, 8], "approve_with_conditions", "可行，但市场周边需夜班保洁。"),
        "chen-jie": (
            [6, 4, 6, 6, 7],
            "approve_with_conditions",
            "Price ceiling is tight for night shifts.",
        ),
        "zhao-lei": ([8, 7, 7, 7, 8], "approve", "Comparable pilots cut complaints by a third."),
    }
    for expert, (scores, rec, why) in round1.items():
        tid, code = codes[expert]
        _answer(cast, console, expert, tid, code, _opinion(criteria, scores, rec, why), criteria)
    report_round(1, round1)
    transition("next_round", max_rounds=dclass.max_rounds)
    round2 = {
        "wang-fang": ([7, 6, 7, 6, 8], "approve_with_conditions", "维持第一轮意见。"),
        "chen-jie": (
            [7, 6, 6, 6, 7],
            "approve_with_conditions",
            "Revised: the ceiling holds if the night shift is two hours.",
        ),
        "zhao-lei": (
            [7, 6, 7, 6, 8],
            "approve_with_conditions",
            "Agree with the night-shift condition.",
        ),
    }
    for expert, (scores, rec, why) in round2.items():
        assigned = services.assign_task(
            engine,
            d,
            "consult",
            expert,
            round=2,
            deadline=deadline,
            idempotency_key=f"{d}:consult:2:{expert}",
        )
        _answer(
            cast,
            console,
            expert,
            assigned.task.id,
            assigned.answer_code,
            _opinion(criteria, scores, rec, why),
            criteria,
        )
    final_round = report_round(2, round2)

    # -- discuss -------------------------------------------------------------------------
    console.rule("2. Discuss")
    transition("open_discussion")
    for who, stance, text in [
        ("zhou-min", "support_with_changes", "居民希望早上7点前完成主干道清扫。"),
        ("wang-fang", "support", "The night-shift condition answers the market association."),
    ]:
        assigned = services.assign_task(
            engine, d, "discuss", who, idempotency_key=f"{d}:discuss:{who}"
        )
        _answer(
            cast,
            console,
            who,
            assigned.task.id,
            assigned.answer_code,
            Comment(stance=stance, text=text),
        )  # type: ignore[arg-type]
    amended = services.amend_proposal(
        engine,
        d,
        actor=cast.actors["li-wei"],
        title=decision.title,
        text=decision.current_version.text
        + "  5. Main roads swept before 07:00; night shift of two hours around Renmin market.\n",
        note="Residents' timing and the experts' night-shift condition",
        idempotency_key=f"{d}:amend:2",
    )
    console.print(f"    李伟 published proposal version {amended.current_version.number}")

    # -- decide --------------------------------------------------------------------------
    console.rule("3. Decide")
    transition("open_vote")
    try:
        services.assign_task(engine, d, "vote", "wang-fang", idempotency_key=f"{d}:vote:wang-fang")
    except PermissionDenied as refusal:
        console.print(f"    [yellow]refused[/yellow]: {refusal}")
    body = [a for a in cast.actors.values() if dclass.decision_body in a.bodies]
    cast_votes: list[Vote] = []
    choices = {"wang-fang": "approve", "wu-gang": "approve_with_amendments"}
    for member in body:
        if member.id == "wang-fang":
            continue  # refused above: she advised on this decision
        choice = choices.get(member.id, "approve")
        vote = Vote(choice=choice, rationale="Consistent with the experts' conditions.")  # type: ignore[arg-type]
        assigned = services.assign_task(
            engine, d, "vote", member.id, idempotency_key=f"{d}:vote:{member.id}"
        )
        _answer(cast, console, member.id, assigned.task.id, assigned.answer_code, vote)
        cast_votes.append(vote)
    resolution = tally(cast_votes, body_size=len(body), recused=1, decision_class=dclass)
    console.print(f"  {resolution.explain()}")
    if against_consensus(resolution.outcome, final_round.recommendations):
        console.print("  The result goes against the experts' consensus and needs a justification.")
    if resolution.outcome == "no_quorum":
        transition("stall", reason=resolution.explain())
        return False
    transition("approve", with_amendments=resolution.outcome == "approve_with_amendments")

    # -- execute -------------------------------------------------------------------------
    console.rule("4. Execute")
    transition("start_execution")
    work = services.assign_task(
        engine,
        d,
        "execute",
        "jianshe-office",
        zone="Jianshe Road km 0–3.1 and Renmin Street",
        measures=["open tender", "night shift around Renmin market", "07:00 main-road sweep"],
        deadline=datetime.now(UTC) + dclass.durations.execute,
        idempotency_key=f"{d}:execute:1",
    )
    _answer(
        cast,
        console,
        "jianshe-office",
        work.task.id,
        work.answer_code,
        ProgressReport(
            percent_complete=100,
            text="Tender awarded; service running since 1 March.",
            measures_done=(
                "open tender",
                "night shift around Renmin market",
                "07:00 main-road sweep",
            ),
        ),
    )
    check = services.assign_task(
        engine,
        d,
        "inspect",
        "he-ping",
        idempotency_key=f"{d}:inspect:1",
        deadline=datetime.now(UTC) + timedelta(days=14),
    )
    _answer(
        cast,
        console,
        "he-ping",
        check.task.id,
        check.answer_code,
        Acceptance(
            verdict="accept", findings="Four unannounced checks met the 30-minute standard."
        ),
    )
    transition("accept_execution")
    transition("close")

    # -- history and audit ---------------------------------------------------------------
    console.rule("History")
    for event in services.history(engine, d):
        console.print(
            f"  {event.seq:>3} {event.recorded_at[11:19]} {event.actor:<16} {event.action}"
        )
    export = path.with_suffix(".audit.jsonl")
    events = services.export_events(engine)
    with export.open("w", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event.as_dict(), ensure_ascii=False) + "\n")
        out.write(
            json.dumps({"anchor": {"count": len(events), "head_hash": events[-1].hash}}) + "\n"
        )
    report = services.verify(engine, anchor=services.verify(engine).anchor)
    console.rule("Audit")
    console.print(f"Exported {len(events)} events with the head anchor to {export}")
    if report.ok:
        console.print(
            f"[green]The audit chain verified[/green]: {report.count} events, "
            f"head {report.head_hash[:16]}…"
        )
    else:
        console.print(
            f"[red]The audit chain is broken[/red] at event {report.first_bad_seq}: {report.reason}"
        )
    final = services.get_decision(engine, d)
    console.print(f"{d} is {final.state.value}.")
    engine.dispose()
    return report.ok
