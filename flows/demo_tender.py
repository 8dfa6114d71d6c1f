"""``counsel demo --tender``: a tender with three lots carried end to end by Prefect flows.

Like ``counsel demo`` it makes a fresh SQLite store and an embedded Prefect API, imports the
sample expertise database and registers the people of ``examples/actors.yaml`` and
``examples/tender-actors.yaml`` (a notary, each bidder's site manager, a street office's
inspector). Then it files ``examples/tender-proposal.yaml`` (its lots and bids in
``examples/tender-road-cleaning.yaml``) and queues its first step. What follows:

- **qualification**: every bidder checked against the class's rules; two are excluded, each
  named with the rule it failed;
- **the draw**: Counsel commits to its seed, fixes the pool of eligible evaluators (the
  tender's speciality, nobody tied to a bidder, one per organisation), the notary enters a
  value, and the panel, its alternates and their lots are drawn; the first evaluator asked
  declines and the next alternate takes the seat;
- **scoring**: each evaluator scores the qualified bids of their lots; the ranking per lot
  (price by the class's formula, outliers flagged) is published and the seed revealed;
- **award and execution**: the district office meeting votes on the ranking, the winners'
  site managers report, an inspector accepts.

The participants answer as ``counsel answer`` does (:class:`flows.simulate.Participants`).
The demo ends with ``counsel audit check-draw`` and the chain verified.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine

from decisions import services
from decisions.classes import load_classes
from decisions.db import make_engine
from decisions.model import Actor, Decision, Task, TaskKind
from flows.demo import _ChainTail, examples_dir, prepare_store, show_result
from flows.local_prefect import EmbeddedServer
from flows.publishing import artifact_key
from flows.simulate import Attempt, Participants, wait_until_settled

__all__ = ["run_tender_demo", "tender_script", "file_tender"]

#: The value the demo's notary enters (a notarial certificate number).
WITNESS_VALUE = "(2026)沪东证字第 04117 号"


def _points(seed: str, low: int, high: int) -> int:
    """A deterministic score in [low, high] for the demo's evaluators."""
    return low + int(hashlib.sha256(seed.encode()).hexdigest(), 16) % (high - low + 1)


def tender_script(engine: Engine) -> Callable[[Task, Decision, Actor], dict[str, Any] | None]:
    """What each simulated person answers in the tender demo: the first evaluator asked
    declines; the others score (lvyuan's plan the strongest, one outlier on commercial
    terms); the body approves; the winners report; the inspector accepts."""
    from flows.tender import score_fields

    state = {"declined": False, "outlier": False}
    strength = {"B01": 78, "B02": 80, "B03": 86, "B07": 74}

    def script(task: Task, decision: Decision, actor: Actor) -> dict[str, Any] | None:
        if task.kind is TaskKind.WITNESS:
            return {"value": WITNESS_VALUE}
        if task.kind is TaskKind.SCORE:
            if not state["declined"]:
                state["declined"] = True
                return {
                    "decline": True,
                    "rationale": "我的研究团队去年为一家投标人做过咨询，申请回避。",
                }
            cells = score_fields(engine, task)
            answer: dict[str, Any] = {"rationale": "按评分细则逐项打分。"}
            for n, cell in enumerate(cells):
                bid, criterion = cell.split("|", 1)
                base = strength.get(bid, 75) - (4 if criterion == "commercial" else 0)
                answer[f"points_{n}"] = base + _points(f"{actor.id}{cell}", -3, 3)
            if not state["outlier"] and cells:
                state["outlier"] = True  # one evaluator far from the others: flagged
                answer["points_0"] = 40
            return answer
        if task.kind is TaskKind.DISCUSS:
            return {"stance": "support", "text": "The ranking follows the published rules."}
        if task.kind is TaskKind.VOTE:
            return {"choice": "approve", "rationale": "The ranking follows the rules; award it."}
        if task.kind is TaskKind.EXECUTE:
            return {
                "percent_complete": 100,
                "text": "Cleaning of the lot has run to the contract's standard since 1 March.",
                "measures_done": "",
            }
        if task.kind is TaskKind.INSPECT:
            return {"verdict": "accept", "findings": "Unannounced checks met the standard."}
        return None

    return script


def file_tender(engine: Engine) -> Decision:
    """Register the tender's people and file ``examples/tender-proposal.yaml`` as li-wei."""
    examples = examples_dir()
    for entry in yaml.safe_load((examples / "tender-actors.yaml").read_text(encoding="utf-8")):
        services.add_actor(
            engine,
            actor_id=entry["id"],
            name=entry["name"],
            roles=entry["roles"],
            affiliations=entry.get("affiliations", []),
            bodies=entry.get("bodies", []),
            by="demo",
        )
    data = yaml.safe_load((examples / "tender-proposal.yaml").read_text(encoding="utf-8"))
    data["tender"] = yaml.safe_load((examples / data["tender"]).read_text(encoding="utf-8"))
    proposal = services.Proposal.model_validate(data)
    planner = services.get_actor(engine, "li-wei")
    return services.submit_proposal(engine, proposal, planner=planner, classes=load_classes())


def run_tender_demo(console: Console, home: Path, *, folder: Path, server: EmbeddedServer) -> bool:
    """Run the tender demo in ``folder`` on ``server``; True when the tender closed, its draw
    checks out and the chain verifies."""
    from prefect import get_client

    from flows.local_prefect import embedded_prefect, template_path
    from flows.local_runner import local_runner
    from flows.tender import check_draw
    from flows.warm import start_decision_run

    folder.mkdir(parents=True, exist_ok=True)
    store = folder / "counsel.db"
    url = f"sqlite:///{store}"
    os.environ["COUNSEL_DATABASE_URL"] = url  # the flows open the store from settings
    engine = make_engine(url)
    console.rule("Counsel tender demo")
    console.print(f"Store: {store}")
    experts, people = prepare_store(engine)
    decision = file_tender(engine)
    classes = load_classes()
    rules = classes.get(decision.class_name, decision.district_type).tender
    assert rules is not None
    console.print(
        f"Imported {experts} experts; registered {people} people and the tender's notary, "
        "bidders' site managers and an inspector."
    )
    console.print(
        f"[bold]{decision.id}[/bold] filed: {escape(decision.title)}; bidders "
        f"{', '.join(decision.bidder_orgs)}. Panel of {rules.panel} with {rules.alternates} "
        f"alternates, {rules.per_lot} per lot, {rules.mode} lot assignment."
    )

    def show(attempt: Attempt) -> None:
        if attempt.outcome != "recorded":
            console.print(f"  [yellow]refused[/yellow] {attempt.actor_id}: {attempt.outcome}")

    with (
        embedded_prefect(
            folder / "prefect", template=template_path(home / "cache"), server=server
        ) as api,
        local_runner(notify_every_s=0.5),
    ):
        console.print(f"Prefect API at {api}; each step runs as a decision flow run.")
        console.rule("The audit chain as it grows")
        with (
            _ChainTail(engine, decision.id, console),
            Participants(engine, classes, tender_script(engine), on_attempt=show),
        ):
            with get_client(sync_client=True) as client:
                start_decision_run(client, engine, decision.id)
            final = wait_until_settled(engine, decision.id, timeout_s=900)
    show_result(console, engine, decision.id, final)
    console.print(
        "The qualification, the pool, the draw, the ranking and the revealed seed were "
        f"published in the artifact {artifact_key(decision.id, 'consult')}."
    )
    problems = check_draw(engine, decision.id)
    if problems:
        for problem in problems:
            console.print(f"[red]check-draw:[/red] {escape(problem)}")
    else:
        console.print(
            f"[green]counsel audit check-draw {decision.id}[/green]: the draw matches its "
            "committed seed, pool, witness value and algorithm."
        )
    report = services.verify(engine)
    engine.dispose()
    if report.ok:
        console.print(
            f"[green]The audit chain verified[/green]: {report.count} events, head "
            f"{report.head_hash[:16]}…."
        )
    else:
        console.print(
            f"[red]The audit chain is broken[/red] at event {report.first_bad_seq}: {report.reason}"
        )
    return report.ok and not problems and final == "closed"
