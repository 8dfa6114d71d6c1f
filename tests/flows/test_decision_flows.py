"""Decisions carried by the Prefect flows, with simulated people answering through the
real answer path (the answer service, then resuming the waiting run)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from decisions import services
from decisions.classes import load_classes
from decisions.model import Actor, Decision, State, Task, TaskKind
from decisions.tables import AnswerRow
from flows.answering import submit_answer
from flows.publishing import artifact_key
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


def actions(stage: Stage, decision_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [(e.action, e.actor, e.data) for e in services.history(stage.engine, decision_id)]


def opinion(criteria: tuple[str, ...], cost: int, **extra: Any) -> dict[str, Any]:
    ratings = {f"rating_{c}": 7 for c in criteria}
    ratings["rating_cost"] = cost
    return {
        "recommendation": "approve_with_conditions",
        "rationale": "r",
        "conditions": "night shift",
        **ratings,
        **extra,
    }


def test_full_decision_with_refusals_revision_recusal_and_acceptance(stage: Stage) -> None:
    """A decision goes from filing to closed: a wrong code is refused and the task keeps
    waiting, consensus comes in round 2, an answer sent twice is recorded once, a consulted
    expert is refused a vote, a vote against consensus needs its justification, a member
    recuses, an executor may not inspect their own work, and the chain verifies."""
    engine = stage.engine
    for member in ("lin-tao", "gao-yu"):
        services.add_actor(
            engine,
            actor_id=member,
            name=member,
            roles=["member"],
            bodies=["district-office-meeting"],
        )
    services.add_actor(
        engine,
        actor_id="dual-unit",
        name="Dual Unit",
        roles=["executor", "inspector"],
        affiliations=["jianshe-street-office"],
    )
    planner = services.get_actor(engine, "li-wei")
    decision = services.submit_proposal(engine, proposal(), planner=planner, classes=stage.classes)
    criteria = stage.classes.get("standard", "east").criteria
    seen: dict[str, int] = {}
    round1_cost = {1: 4, 2: 6, 3: 7, 4: 5, 5: 8}

    def script(task: Task, d: Decision, actor: Actor) -> dict[str, Any] | None:
        seen[task.id] = seen.get(task.id, 0) + 1
        number = int(task.id.rsplit("-", 1)[1][1:])
        if task.kind is TaskKind.CONSULT:
            cost = round1_cost[number] if task.round == 1 else 6
            if number == 1 and seen[task.id] == 1:
                return {**opinion(criteria, cost), "answer_code": "WRONG-CODES"}
            return opinion(criteria, cost)
        if task.kind is TaskKind.DISCUSS:
            return {"stance": "support", "text": "ok"}
        if task.kind is TaskKind.VOTE:
            if actor.id == "wu-gang":
                if seen[task.id] == 1:
                    return {"choice": "reject", "rationale": "Too costly."}
                return {
                    "choice": "reject",
                    "rationale": "Too costly.",
                    "justification": "The district budget was cut by 30%.",
                }
            if actor.id == "feng-yan":
                return {"choice": "recuse", "rationale": "My brother works for a bidder."}
            return {"choice": "approve", "rationale": "Consistent with the experts."}
        if task.kind is TaskKind.EXECUTE:
            return {"percent_complete": 100, "text": "done", "measures_done": "night shift"}
        return {"verdict": "accept", "findings": "checked four times"}

    with Participants(engine, stage.classes, script) as people:
        final = run_to_the_end(engine, decision.id)

    assert final == State.CLOSED.value
    events = actions(stage, decision.id)
    names = [a for a, _, _ in events]

    wrong = [d for a, _, d in events if a == "task.answer_refused" and d["rule"] == "answer-code"]
    assert [w["task_id"] for w in wrong] == [f"{decision.id}-C001"]
    assert services.get_task(engine, f"{decision.id}-C001").status.value == "answered"

    rounds = [d for a, _, d in events if a == "consultation.round_aggregated"]
    assert [(r["round"], r["consensus"]) for r in rounds] == [(1, False), (2, True)]
    assert rounds[0]["iqr"]["cost"] == 2.0

    first = next(t for t in services.tasks_of(engine, decision.id) if t.kind is TaskKind.DISCUSS)
    again = submit_answer(
        engine,
        first.id,
        {
            "answer_code": services.answer_code_for(engine, first.id),
            "stance": "support",
            "text": "ok",
        },
        actor=services.get_actor(engine, first.assignee_id),
        classes=stage.classes,
    )
    assert not again.recorded.created
    with engine.connect() as conn:
        stored = conn.execute(
            select(func.count()).select_from(AnswerRow).where(AnswerRow.task_id == first.id)
        )
        assert stored.scalar_one() == 1
    assert (
        sum(1 for a, _, d in events if a.startswith("task.answered") and d["task_id"] == first.id)
        == 1
    )

    refused = [(who, d["attempted"]) for a, who, d in events if a == "powers.refused"]
    assert ("e031", "vote") in refused
    assert ("dual-unit", "inspect") in refused

    justification = [d for a, who, d in events if a == "task.answer_refused" and who == "wu-gang"]
    assert len(justification) == 1 and "justification" in justification[0]["reason"]
    assert "task.answered.recusal" in names
    tally = next(d for a, _, d in events if a == "vote.tallied")
    assert (tally["recused"], tally["cast"], tally["in_favour"], tally["passed"]) == (2, 4, 3, True)
    assert names[-2:] == ["decision.execution_accepted", "decision.closed"]
    assert services.verify(engine).ok
    assert all(
        a.outcome == "recorded" or "not right" in a.outcome or "justification" in a.outcome
        for a in people.attempts
    )
    assert not [a.follow_up for a in people.attempts if a.follow_up]  # each answer continued
    _check_prefect_view(decision)


def _check_prefect_view(decision: Decision) -> None:
    """The UI shows each person's run by name and tag, and the history artifact."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterKey,
        FlowRunFilter,
        FlowRunFilterTags,
    )

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=["actor:wu-gang", f"decision:{decision.id}"])
            )
        )
        assert {r.name for r in runs} == {f"decide · {decision.id} · wu-gang"}
        assert {"stage:decide", "class:standard", "district:east-district"} <= set(runs[0].tags)
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[artifact_key(decision.id, "history")])
            )
        )
    assert artifacts and "chain head:" in (artifacts[0].description or "")


@pytest.fixture
def drill_classes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A class with second-long deadlines, so reminders and expiry happen within the test."""
    data = {
        "version": 1,
        "classes": {
            "drill": {
                "description": "Deadline drill.",
                "experts": 3,
                "alternates": 2,
                "min_answers": 2,
                "criteria": ["feasibility", "cost"],
                "consensus": {"max_iqr": 1.0},
                "max_rounds": 2,
                "durations": {
                    "answer": "8s",
                    "reminder": "3s",
                    "consult": "1m",
                    "discuss": "1m",
                    "vote": "1m",
                    "execute": "1m",
                },
                "decision_body": "drill-body",
                "quorum": "2/3",
                "majority": "simple",
                "acceptance": {"inspectors": 1},
            }
        },
    }
    path = tmp_path / "classes.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("COUNSEL_CLASSES_FILE", str(path))
    return path


def test_silence_reminds_reassigns_ends_in_dissent_and_stalls_on_quorum(
    drill_classes: Path, stage: Stage
) -> None:
    """An expert who never answers is reminded and replaced by an alternate; spread
    ratings leave dissent after the last round; a silent body misses quorum and the
    decision stalls with the reason."""
    engine = stage.engine
    classes = load_classes(drill_classes)
    for member in ("m1", "m2", "m3"):
        services.add_actor(
            engine, actor_id=member, name=member.upper(), roles=["member"], bodies=["drill-body"]
        )
    decision = services.submit_proposal(
        engine,
        proposal(**{"class": "drill", "district_type": None}),
        planner=services.get_actor(engine, "li-wei"),
        classes=classes,
    )
    silent: set[str] = set()
    given: Counter[int] = Counter()

    def script(task: Task, d: Decision, actor: Actor) -> dict[str, Any] | None:
        if task.kind is TaskKind.CONSULT:
            if task.round == 1 and not silent:
                silent.add(actor.id)
            if actor.id in silent:
                return None
            # alternating by the order of the round's answers, so any two of them (however
            # many come in before the round closes, whoever is silent) spread by 8: dissent
            given[task.round] += 1
            cost = 1 if given[task.round] % 2 else 9
            return {
                "recommendation": "approve",
                "rationale": "r",
                "rating_feasibility": 5,
                "rating_cost": cost,
            }
        if task.kind is TaskKind.DISCUSS:
            return {"stance": "neutral", "text": "no view"}
        return None  # the body stays silent

    with Participants(engine, classes, script):
        final = run_to_the_end(engine, decision.id)

    assert final == State.STALLED.value
    stored = services.get_decision(engine, decision.id)
    assert stored.state_reason is not None and stored.state_reason.startswith(
        "Quorum missed: 0 of 3"
    )
    events = actions(stage, decision.id)
    silent_id = next(iter(silent))
    reminded = [d for a, _, d in events if a == "task.reminded"]
    assert any(d["assignee"] == silent_id for d in reminded)
    assert any(a == "task.reassigned" for a, _, _ in events)
    report = next(d for a, _, d in events if a == "consultation.reported")
    assert report["consensus"] is False and report["rounds"] == 2
    assert report["dissent"] and report["dissent"][0].startswith("cost (IQR")
    assert services.verify(engine).ok
