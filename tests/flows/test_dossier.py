"""Staff see the whole decision in the Prefect UI: its dossier artifact, step runs named for
what the decision does next, and events that name the actor and the decision."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from markdown_it import MarkdownIt

from decisions import services
from decisions.model import Actor, Decision, State, Task, TaskKind, TaskStatus, utcnow
from decisions.procedure import Remind
from flows.dossier import local_time
from flows.publishing import artifact_key, dossier_key, md_inline
from flows.simulate import Participants
from tests.flows.conftest import Stage, proposal, run_to_the_end

pytestmark = [
    pytest.mark.flows,
    pytest.mark.slow,
    # Prefect's HTTP clients leave keep-alive sockets to the harness server for the garbage
    # collector; they surface as unraisable ResourceWarnings at the end of a flow test.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: What a member types, trying to add a link, HTML and a table cell to a manager's page.
FORGED = "Budget ok [click me](http://evil.example) <b>bold</b> | forged cell"
RECUSAL = "My brother works for a bidder: Zhongyi Sanitation."
JUSTIFICATION = "The district budget was cut by 30%."
RENDER = MarkdownIt("commonmark").enable("table")


@pytest.fixture
def events_worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """This process's Prefect events worker, recording every event it sends on to the
    server (:func:`emitted` reads them)."""
    from prefect.events.clients import AssertingPassthroughEventsClient
    from prefect.events.worker import EventsWorker

    AssertingPassthroughEventsClient.reset()
    worker = EventsWorker.instance(AssertingPassthroughEventsClient)
    monkeypatch.setattr(EventsWorker, "instance", lambda *_args, **_kwargs: worker)
    try:
        yield worker
    finally:
        worker.drain()


def emitted(worker: Any, prefix: str) -> list[Any]:
    """The events whose name starts with ``prefix`` that ``worker`` has sent so far."""
    from prefect.events.clients import AssertingPassthroughEventsClient

    worker.wait_until_empty()
    return [
        e
        for c in AssertingPassthroughEventsClient.all
        for e in c.events
        if e.event.startswith(prefix)
    ]


def _script(criteria: tuple[str, ...], earlier: set[Any]) -> Any:
    """The people of the decision; each answers only once a dossier lists their task as
    waiting, so every step's dossier shows everyone it waits for as not yet answered."""
    listed: set[str] = set()

    def waits_in_a_dossier(task: Task) -> bool:
        if task.id not in listed:
            for version in _dossiers(task.decision_id, earlier):
                listed.update(
                    re.findall(r"\| (D\\-\d{4}\\-\d{4}\\-[A-Z]\d+) \| \*\*not yet", version)
                )
        return md_inline(task.id) in listed

    def script(task: Task, decision: Decision, actor: Actor) -> dict[str, Any] | None:
        if not waits_in_a_dossier(task):
            return None
        if task.kind is TaskKind.CONSULT:
            return {
                "recommendation": "approve_with_conditions",
                "conditions": "Night shift around Renmin market",
                "rationale": "Feasible if the tender caps the price.",
                **{f"rating_{c}": 7 for c in criteria},
            }
        if task.kind is TaskKind.DISCUSS:
            return {"stance": "support", "text": "ok"}
        if task.kind is TaskKind.VOTE:
            if actor.id == "feng-yan":
                return {"choice": "recuse", "rationale": RECUSAL}
            if actor.id == "wu-gang":
                return {
                    "choice": "reject",
                    "rationale": "Too costly.",
                    "justification": JUSTIFICATION,
                }
            return {"choice": "approve", "rationale": FORGED}
        if task.kind is TaskKind.EXECUTE:
            return {"percent_complete": 100, "text": "done", "measures_done": "night shift"}
        return {"verdict": "accept", "findings": "checked"}

    return script


def _dossiers(decision_id: str, earlier: set[Any], runs: list[Any] | None = None) -> list[str]:
    """Every version of the decision's dossier but the ``earlier`` ones (the session's
    earlier tests filed decisions of the same id in other stores), by one of ``runs`` if
    given, oldest first."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[dossier_key(decision_id)])),
            sort=ArtifactSort.CREATED_DESC,
        )
    ours = None if runs is None else {r.id for r in runs}
    return [
        str(a.data)
        for a in reversed(found)
        if a.id not in earlier and (ours is None or a.flow_run_id in ours)
    ]


def _artifact_ids(decision_id: str) -> set[Any]:
    """The ids of every version of the decision's dossier so far."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[dossier_key(decision_id)]))
        )
    return {a.id for a in found}


def _step_runs(decision_id: str, earlier: set[Any]) -> list[Any]:
    """The decision's step runs (runs of the ``decision`` flow) but the ``earlier`` ones,
    oldest first."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["decision"])),
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"decision:{decision_id}"])),
            sort=FlowRunSort.START_TIME_DESC,  # the newest: a page holds at most 200
        )
    # in the order they were made: a busy server can leave a start time unset for a while,
    # which the server's sort puts anywhere
    return sorted(
        (r for r in runs if r.id not in earlier),
        key=lambda r: r.created or r.expected_start_time,
    )


def test_a_decisions_dossier_step_states_and_events_show_it_whole(
    stage: Stage, events_worker: Any
) -> None:
    """Each step publishes the dossier: while it waits, who has answered and who has not and
    by when (Asia/Shanghai); at the end, the stages with links to their reports, the experts
    kept out with the reasons, every vote with its rationale, the recusals (stepped aside
    or refused by the separation of powers) and this decision's events verified with the
    chain's head; what people typed is escaped. Each step run ends Completed, named for what
    the decision does next; the events use the history's names and carry the actor and the
    decision."""
    engine = stage.engine
    for member, name in (("lin-tao", "林涛"), ("gao-yu", "高宇")):
        services.add_actor(
            engine, actor_id=member, name=name, roles=["member"], bodies=["district-office-meeting"]
        )
    decision = services.submit_proposal(
        engine, proposal(), planner=services.get_actor(engine, "li-wei"), classes=stage.classes
    )
    criteria = stage.classes.get("standard", "east").criteria
    # runs and dossiers of the session's earlier D-2026-0001s (other stores) are not ours
    earlier = {r.id for r in _step_runs(decision.id, set())}
    earlier |= _artifact_ids(decision.id)
    with Participants(engine, stage.classes, _script(criteria, earlier)):
        final = run_to_the_end(engine, decision.id)
    assert final == State.CLOSED.value
    did = decision.id
    history = services.history(engine, did)
    tasks = services.tasks_of(engine, did)

    # -- while waiting: who it waits for and by when; each step's name says the same -------
    runs = _step_runs(did, earlier)
    versions = _dossiers(did, earlier, runs)
    assert len(versions) == len(runs) >= 6
    names = [r.state_name for r in runs]
    routed = [t for t in tasks if t.kind is TaskKind.CONSULT and t.round == 1]
    first = versions[0]
    assert names[0] == f"Waiting for {len(routed)} of {len(routed)} answers", names
    assert f"waiting for {len(routed)} of {len(routed)} answers" in first
    assert "## What it waits for" in first and "due by (Asia/Shanghai)" in first
    for task in routed:
        name = services.get_actor(engine, task.assignee_id).name
        row = next(line for line in first.splitlines() if f"| {md_inline(task.id)} |" in line)
        assert md_inline(name) in row and "**not yet**" in row
        assert task.deadline is not None and local_time(task.deadline, SHANGHAI) in row
    for name, version in zip(names[:-1], versions[:-1], strict=True):
        assert name.startswith("Waiting for ") and name.endswith(" answers"), names
        assert name.replace("Waiting", "waiting") in version
    voting = next(v for v in versions if "### Vote: " in v)
    assert "| **吴刚** (wu\\-gang) |" in voting

    # -- at the end: stages, kept out, votes, recusals, the chain ---------------------------
    last = versions[-1]
    assert f"**Closed: approved. {md_inline('The work was executed and accepted.')}**" in last
    for stage_key in ("consult", "discuss", "decide", "execute", "history"):
        key = artifact_key(did, stage_key)
        assert f"[{key}](http://127.0.0.1:" in last and f"/v2/artifacts/key/{key})" in last
    routing = services.routings_of(engine, did)[0]
    kept = routing.notes["kept_out"]
    assert kept, "the example proposal keeps conflicted experts out"
    for expert in kept:
        row = next(line for line in last.splitlines() if md_inline(expert["name"]) in line)
        assert md_inline(expert["reason"][:40]) in row
    assert "conflict of interest" in last
    votes = {t.assignee_id: t for t in tasks if t.kind is TaskKind.VOTE}
    assert (
        f"**吴刚** (wu\\-gang): reject — Too costly\\. Justification: {md_inline(JUSTIFICATION)}"
        in (last)
    )
    assert f"**冯燕** (feng\\-yan) recused: {md_inline(RECUSAL)}" in last
    approving = [a for a, t in votes.items() if a not in {"wu-gang", "feng-yan"}]
    for member in approving:
        assert f"({md_inline(member)}): approve — {md_inline(FORGED)}" in last
    refused = [e for e in history if e.action == "powers.refused" and e.data["attempted"] == "vote"]
    assert [e.actor for e in refused] == ["e031"]
    reason = md_inline(refused[0].data["reason"])
    assert f"**孟艳** (e031) may not vote (separation of powers): {reason}" in last
    own = [
        e for e in history if e.seq <= int(re.findall(r"up to event (\d+) of the chain", last)[0])
    ]
    assert f"This decision's {len(own)} audit events verify" in last
    count, head_hash = re.findall(
        r"head when this was published: (\d+) events, hash `(\w+)`", last
    )[0]
    assert services.export_events(engine)[int(count) - 1].hash == head_hash
    assert services.check_decision_events(engine, did).ok

    # what people typed is text: no link, no HTML, no extra table cell
    rendered = RENDER.render(last)
    assert "evil.example" not in " ".join(re.findall(r'href="([^"]*)"', rendered))
    assert "<b>" not in rendered and "&lt;b&gt;bold&lt;/b&gt;" in rendered

    # -- step runs end Completed, named for what the decision does next ---------------------
    assert all(r.state is not None and r.state.is_completed() for r in runs)
    assert names[-1] == "Closed: approved", names
    closing = runs[-1].state
    assert closing is not None and closing.message and did in closing.message

    # -- events: the history's names, with the actor and the decision -----------------------
    transitions = [e for e in emitted(events_worker, "counsel.decision.") if did in str(e.resource)]
    audited = {f"counsel.{e.action}" for e in history if e.action.startswith("decision.")}
    assert transitions and {e.event for e in transitions} <= audited
    assert {"counsel.decision.consultation_started", "counsel.decision.closed"} <= {
        e.event for e in transitions
    }
    for event in transitions:
        related = {(r.id, r.role) for r in event.related}
        assert ("counsel.actor.system", "actor") in related
        assert (f"counsel.decision.{did}", "decision") in related


def test_a_reminder_event_names_the_actor_the_decision_and_the_person_reminded(
    stage: Stage, events_worker: Any
) -> None:
    """The sweep's ``counsel.task.reminded`` is named as the history names the reminder and
    carries the actor who recorded it, the decision and the assignee as related resources."""
    from flows.sweep import SweepReport, _remind

    engine = stage.engine
    decision = services.submit_proposal(
        engine, proposal(), planner=services.get_actor(engine, "li-wei"), classes=stage.classes
    )
    task = services.assign_task(
        engine, decision.id, TaskKind.DISCUSS, "zhou-min", deadline=utcnow() + timedelta(days=1)
    ).task
    assert task.status is TaskStatus.OPEN
    report = SweepReport()
    remind = Remind(task, task.deadline or utcnow(), f"{task.id}:remind:test")
    _remind(engine, remind, decision, report)
    _remind(engine, remind, decision, report)  # a second sweep: recorded once, sent once
    assert report.reminded == [task.id]
    sent = emitted(events_worker, "counsel.task.reminded")
    assert [e.resource.id for e in sent] == [f"counsel.task.{task.id}"]
    assert [e.action for e in services.history(engine, decision.id)].count("task.reminded") == 1
    related = {(r.id, r.role) for r in sent[0].related}
    assert {
        ("counsel.actor.system", "actor"),
        (f"counsel.decision.{decision.id}", "decision"),
        ("counsel.actor.zhou-min", "assignee"),
    } <= related
