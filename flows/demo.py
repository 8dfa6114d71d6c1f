"""``counsel demo``: one decision carried by Prefect flows through all four stages.

It makes a fresh SQLite store and an embedded Prefect API under ``$COUNSEL_HOME/demo``,
imports the sample expertise database, registers the people of ``examples/actors.yaml``,
files ``examples/proposal.yaml`` and queues its first step, taken by a task worker in this
process (:mod:`flows.local_runner`) as a ``decision`` flow run, as on a stack.

Everyone's notifications go to a local message sink (:mod:`flows.sink`) and are printed
with their personal links, and the answer page runs in this process. The simulated
participants walk the path a person walks (:class:`flows.simulate.PageParticipants`): they
read their message, open its link and post the page's form, which records the answer
through the answer service, closes the person's suspended form and continues the decision
after a step's last answer. One expert first sends a rating of 12 and the page refuses it,
the panel disagrees on cost in round 1 and revises in round 2, a routed expert who also
sits on the decision body is refused a vote, the street office reports and an independent
inspector accepts. Progress is printed from the audit chain as it grows; the demo ends with
the history, an export with the head anchor, and the chain verified against it.
"""

from __future__ import annotations

import contextvars
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine

from decisions import services
from decisions.audit import AuditEvent
from decisions.classes import load_classes
from decisions.db import make_engine
from decisions.model import Actor, Decision, Task, TaskKind
from decisions.uow import UnitOfWork
from experts.sample import load_sample
from experts.store import save_expertise
from flows.local_prefect import EmbeddedServer
from flows.publishing import artifact_key, summarise_event
from flows.simulate import Attempt, PageParticipants, wait_until_settled
from flows.sink import Message, MessageSink

__all__ = ["run_demo", "examples_dir", "demo_script", "prepare_store", "show_result"]


def examples_dir() -> Path:
    """The ``examples/`` folder beside the packages (source checkout or editable install)."""
    return Path(__file__).resolve().parent.parent / "examples"


def demo_script(
    criteria: tuple[str, ...],
) -> Callable[[Task, Decision, Actor], dict[str, Any] | None]:
    """What each simulated person answers, deterministic for the demo's story."""
    state: dict[str, Any] = {"bad_rating_sent": False}
    round1_cost = {1: 4, 2: 6, 3: 7, 4: 5, 5: 8}  # IQR 2 on cost: no consensus in round 1

    def script(task: Task, decision: Decision, actor: Actor) -> dict[str, Any] | None:
        number = int(task.id.rsplit("-", 1)[1][1:])
        if task.kind is TaskKind.CONSULT:
            ratings = {f"rating_{c}": 6 + (number % 2) for c in criteria}
            if task.round == 1:
                ratings["rating_cost"] = round1_cost.get(number, 6)
                rationale = (
                    "可行；夜间保洁费用需核算。"
                    if number % 2
                    else "Feasible if the tender caps the price."
                )
            else:
                ratings["rating_cost"] = 6
                rationale = "Revised after round 1: the night shift fits under the ceiling."
            answer = {
                "recommendation": "approve_with_conditions",
                "conditions": "Night shift of two hours around Renmin market",
                "rationale": rationale,
                **ratings,
            }
            if not state["bad_rating_sent"]:
                state["bad_rating_sent"] = True  # the page refuses it, keeping what was typed
                return {**answer, "rating_cost": 12}
            return answer
        if task.kind is TaskKind.DISCUSS:
            if actor.id == "zhou-min":
                return {
                    "stance": "support_with_changes",
                    "text": "居民希望早上7点前完成主干道清扫。",
                }
            return {"stance": "support", "text": "The conditions answer the market association."}
        if task.kind is TaskKind.VOTE:
            choice = "approve_with_amendments" if number % 2 else "approve"
            return {"choice": choice, "rationale": "Consistent with the experts' conditions."}
        if task.kind is TaskKind.EXECUTE:
            return {
                "percent_complete": 100,
                "text": "Tender awarded; the service has run since 1 March.",
                "measures_done": "open tender\nnight shift around Renmin market",
            }
        return {
            "verdict": "accept",
            "findings": "Four unannounced checks met the 30-minute standard.",
        }

    return script


def prepare_store(
    engine: Engine, *, by: str = "demo", contact: Callable[[str], str] | None = None
) -> tuple[int, int]:
    """Create the schema, import the sample expertise database and register the people of
    ``examples/actors.yaml``: the stage the demo and the flow and browser tests start from.
    ``contact`` gives each person and expert (by id) a notification address.
    Returns (experts imported, people registered)."""
    services.init_store(engine)
    sample = load_sample()
    if contact is not None:
        sample = sample.model_copy(
            update={
                "experts": tuple(
                    e.model_copy(update={"notify": (contact(quote(e.id, safe="")),)})
                    for e in sample.experts
                )
            }
        )
    with UnitOfWork(engine) as uow:
        save_expertise(uow.session, sample)
    entries = yaml.safe_load((examples_dir() / "actors.yaml").read_text(encoding="utf-8"))
    for entry in entries:
        services.add_actor(
            engine,
            actor_id=entry["id"],
            name=entry["name"],
            roles=entry["roles"],
            affiliations=entry.get("affiliations", []),
            bodies=entry.get("bodies", []),
            notify=[contact(entry["id"])] if contact else [],
            lang=entry.get("lang", "zh"),
            by=by,
        )
    return len(sample.experts), len(entries)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def answer_page(engine: Engine, port: int) -> Iterator[str]:
    """The answer page on 127.0.0.1:``port`` in a thread of this process (with this
    thread's Prefect settings, so answers close their forms and continue the decision)."""
    import uvicorn

    from decisions.settings import load_settings
    from flows.web.app import create_app

    app = create_app(engine, settings=load_settings(), notify_prefect=True)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")
    )
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(server.run,), name="answer-page")
    thread.start()
    while not server.started and thread.is_alive():
        threading.Event().wait(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class _Inbox:
    """Prints each message the sink receives, with its personal link, as it arrives."""

    def __init__(self, sink: MessageSink, console: Console) -> None:
        self.sink, self.console = sink, console
        self.read = 0

    def flush(self) -> None:
        for message in self.sink.since(self.read):
            self.read += 1
            self._print(message)

    def _print(self, message: Message) -> None:
        link = message.task_link or next((w for w in message.body.split() if "/me/" in w), "")
        self.console.print(
            f"  [cyan]✉ {escape(message.person)}[/cyan]: {escape(message.title)}"
            + (f"\n      {escape(link)}" if link else ""),
            highlight=False,
        )


class _ChainTail:
    """Prints each new audit event of the decision as the flows write it."""

    def __init__(
        self, engine: Engine, decision_id: str, console: Console, inbox: _Inbox | None = None
    ) -> None:
        self.engine, self.decision_id, self.console = engine, decision_id, console
        self.inbox = inbox
        self.last = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _ChainTail:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.flush()

    def flush(self) -> None:
        for event in services.history(self.engine, self.decision_id):
            if event.seq > self.last:
                self.last = event.seq
                self._print(event)
        if self.inbox is not None:
            self.inbox.flush()

    def _print(self, event: AuditEvent) -> None:
        style = (
            "yellow"
            if "refused" in event.action
            else ("bold" if event.action.startswith("decision.") else "")
        )
        text = escape(
            f"  {event.seq:>4}  {event.actor:<14} {event.action:<34} {summarise_event(event)}"
        )
        self.console.print(f"[{style}]{text}[/{style}]" if style else text, highlight=False)


def show_result(console: Console, engine: Engine, decision_id: str, final: str) -> None:
    """Where the demo's decision ended, and why if it stalled."""
    console.rule("Result")
    reason = services.get_decision(engine, decision_id).state_reason
    console.print(
        f"{decision_id} is [bold]{final}[/bold]." + (f" Reason: {reason}" if reason else "")
    )


def run_demo(
    console: Console,
    home: Path,
    *,
    folder: Path,
    server: EmbeddedServer,
) -> bool:
    """Run the demo decision in ``folder`` on ``server`` (spawned by the caller, so that it
    starts while Prefect loads here); returns whether the chain verified at the end."""
    from prefect import get_client

    from flows.local_prefect import embedded_prefect, template_path
    from flows.local_runner import local_runner
    from flows.warm import start_decision_run

    folder.mkdir(parents=True, exist_ok=True)
    store = folder / "counsel.db"
    url = f"sqlite:///{store}"
    os.environ["COUNSEL_DATABASE_URL"] = url  # the flows open the store from settings
    page_port = _free_port()
    os.environ["COUNSEL_PUBLIC_URL"] = f"http://127.0.0.1:{page_port}"  # the links' answer page
    engine = make_engine(url)
    console.rule("Counsel demo")
    console.print(f"Store: {store}")
    sink = MessageSink()
    experts, people = prepare_store(engine, contact=sink.address)
    console.print(f"Imported the sample expertise database: {experts} experts.")
    console.print(
        f"Registered {people} people from examples/actors.yaml. Everyone's messages go to a "
        f"local sink (json://127.0.0.1:{sink.port}/<id>), printed below with their links."
    )
    examples = examples_dir()
    classes = load_classes()
    proposal = services.Proposal.model_validate(
        yaml.safe_load((examples / "proposal.yaml").read_text(encoding="utf-8"))
    )
    planner = services.get_actor(engine, "li-wei")
    decision = services.submit_proposal(engine, proposal, planner=planner, classes=classes)
    dclass = classes.get(decision.class_name, decision.district_type)
    console.print(
        f"[bold]{decision.id}[/bold] filed by {escape(planner.name)}: {escape(decision.title)}"
    )
    console.print(
        f"Class {dclass.name}: {dclass.experts} experts, criteria {', '.join(dclass.criteria)}; "
        f"consensus when every IQR ≤ {dclass.consensus.max_iqr:g}; "
        f"at most {dclass.max_rounds} rounds."
    )
    console.print("Starting an embedded Prefect API (no server to start by hand)…")

    def show(attempt: Attempt) -> None:
        if attempt.outcome != "recorded":
            console.print(
                f"  [yellow]refused on the answer page[/yellow] {attempt.actor_id} on "
                f"{attempt.task_id}: {escape(attempt.outcome)}"
            )

    with (
        sink,
        embedded_prefect(
            folder / "prefect", template=template_path(home / "cache"), server=server
        ) as api,
        answer_page(engine, page_port) as page,
        local_runner(notify_every_s=0.5),
    ):
        console.print(
            f"Prefect API at {api}; a task worker in this process takes each step as a "
            f"decision flow run, which ends when it must wait for people. The answer page "
            f"is at {page}; the participants answer there, from the links in their messages."
        )
        console.rule("The audit chain and the messages as they come")
        script = demo_script(dclass.criteria)
        with (
            _ChainTail(engine, decision.id, console, _Inbox(sink, console)),
            PageParticipants(engine, sink, script, on_attempt=show),
        ):
            with get_client(sync_client=True) as client:
                start_decision_run(client, engine, decision.id)
            final = wait_until_settled(engine, decision.id, timeout_s=900)
    show_result(console, engine, decision.id, final)
    console.print(
        "Stage reports were published as Prefect artifacts: "
        + ", ".join(
            artifact_key(decision.id, s)
            for s in ("consult", "discuss", "decide", "execute", "history")
        )
    )
    table = Table("seq", "actor", "action", "details", title=f"History of {decision.id}")
    for event in services.history(engine, decision.id):
        table.add_row(str(event.seq), event.actor, event.action, escape(summarise_event(event)))
    console.print(table)
    export = folder / "audit.jsonl"
    events = services.export_events(engine)
    with export.open("w", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event.as_dict(), ensure_ascii=False) + "\n")
        anchor = services.verify(engine).anchor
        out.write(json.dumps({"anchor": anchor.model_dump()}) + "\n")
    report = services.verify(engine, anchor=anchor)
    engine.dispose()
    console.print(f"Exported {len(events)} events with the head anchor to {export}")
    if report.ok:
        console.print(
            f"[green]The audit chain verified[/green]: {report.count} events, head "
            f"{report.head_hash[:16]}…, matching the exported anchor."
        )
    else:
        console.print(
            f"[red]The audit chain is broken[/red] at event {report.first_bad_seq}: {report.reason}"
        )
    return report.ok and final == "closed"
