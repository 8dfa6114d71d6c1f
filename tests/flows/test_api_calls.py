"""A step asks little of Prefect's API: the bound on a step's calls, counted as they are sent.

A burst of steps is bound by the Prefect server's work per step (README, load benchmark), so
the number of requests, events and shipped log records a step makes is a figure to hold. The
counts are deterministic (``bench/api_calls.py`` prints them per endpoint); a step that
makes more than the bounds below goes red.
"""

from __future__ import annotations

import ssl
from typing import Any
from uuid import UUID

import pytest

from bench.api_calls import ApiCalls, count_api_calls
from decisions import services
from decisions.classes import ClassBook, load_classes
from decisions.model import Decision, Task, TaskStatus
from flows.answering import submit_answer
from tests.flows.conftest import EXAMPLES, Stage, proposal

pytestmark = [
    pytest.mark.flows,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

#: Requests of every step: a CSRF token, the flow, the flow run, its name, two state
#: changes, one read, and the history and dossier artifacts. Before the stages ran inside
#: the decision's run and a step's artifacts were published in one task run, a step made
#: 29 to 43 requests (``bench/api_calls.py``, decision 2).
STEP_REQUESTS = 9
#: Requests per form a step opens: its run, created suspended
#: (:func:`flows.runs.create_suspended_run`), and the form's two inputs. Created from the
#: deployment and then suspended, a form took four.
FORM_REQUESTS = 3
#: Requests of a step that opens forms, however many: the ``answer-task`` deployment.
FORMS_REQUESTS = 1
#: Events of every step besides its artifacts' and transitions': none, with Prefect's flow
#: heartbeats on as on a stack (a step's run sends none: :func:`flows.warm.take_step`).
#: Publishing in a task run of its own cost three more (its states) and a log.
STEP_EVENTS = 0
#: Log records a step ships at most (the run's start and end, the stages it runs, what it
#: waits for, the chain's head, a refusal or a round's verdict).
STEP_LOGS = 9


def _quick(stage: Stage, classes: ClassBook, title: str) -> Decision:
    planner = services.get_actor(stage.engine, "li-wei")
    return services.submit_proposal(
        stage.engine,
        proposal(**{"class": "quick", "district_type": None, "title": title}),
        planner=planner,
        classes=classes,
    )


def _step(decision: Decision) -> ApiCalls:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows.warm import take_step

    # heartbeats on, as on a stack (the harness turns them off)
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 30}), count_api_calls() as calls:
        assert take_step(decision) == "waiting"
    return calls


def _count_tls_contexts(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record each TLS context made from now on (Prefect's client makes its own with
    ``ssl.create_default_context``, unless given one)."""
    made: list[object] = []
    make = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(args or kwargs)
        return make(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counted)
    return made


def _open(stage: Stage, decision: Decision) -> list[Task]:
    return [t for t in services.tasks_of(stage.engine, decision.id) if t.status is TaskStatus.OPEN]


def _answer_all(stage: Stage, decision: Decision, classes: ClassBook) -> None:
    criteria = classes.get("quick").criteria
    for task in _open(stage, decision):
        data = {
            "answer_code": services.answer_code_for(stage.engine, task.id),
            "recommendation": "approve",
            "rationale": "Feasible.",
            **{f"rating_{c}": 7 for c in criteria},
        }
        actor = services.get_actor(stage.engine, task.assignee_id)
        # no continuation is queued: the test takes the step itself
        submit_answer(
            stage.engine, task.id, data, actor=actor, classes=classes, notify_prefect=False
        )


def test_a_step_makes_a_bounded_number_of_api_calls(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a warm task worker (one Prefect client for its steps, a step taken before) a step
    makes at most 9 requests, one more to read the answer deployment when it opens forms,
    3 per form it opens and one per report it publishes, and no TLS context; it
    emits one event per artifact and per transition and 3 for its one task run, and ships
    at most 10 log records; the stages make no runs of their own."""
    from prefect.context import SyncClientContext

    from flows.people import answer_task

    classes_file = EXAMPLES / "classes-quick.yaml"
    monkeypatch.setenv("COUNSEL_CLASSES_FILE", str(classes_file))
    classes = load_classes(classes_file)
    answer_task.to_deployment(name="answer-task").apply()
    tls_made = _count_tls_contexts(monkeypatch)
    with SyncClientContext.get_or_create():  # as the task worker serves its steps
        _step(_quick(stage, classes, "Warming up"))  # a process's first step reads more
        tls_made.clear()
        decision = _quick(stage, classes, "Counted")
        first = _step(decision)  # submitted -> consulting: routes, assigns, opens 2 forms
        forms = len(_open(stage, decision))
        assert forms == 2
        _answer_all(stage, decision, classes)
        second = _step(decision)  # consulting -> discussing: the round, the report, 3 forms
    assert services.get_decision(stage.engine, decision.id).state.value == "discussing"
    # each step's client shares the process's TLS context (each costs 14-17 ms to make)
    assert tls_made == [], "a step made a TLS context of its own"
    discuss_forms = len(_open(stage, decision))

    for calls, forms_opened, reports, transitions in (
        (first, forms, 0, 1),
        (second, discuss_forms, 2, 1),
    ):
        artifacts = 2 + reports
        # the decision's run and one per form, each made suspended in one request
        assert calls.http["POST /flow_runs/"] == 1 + forms_opened, calls.http
        assert calls.http["POST /flow_runs/{id}/set_state"] == 2, calls.http
        assert "POST /task_runs/" not in calls.http, calls.http  # no child runs
        assert calls.http["POST /artifacts/"] == artifacts, calls.http  # all of them, made
        forms_read = FORMS_REQUESTS if forms_opened else 0
        bound = STEP_REQUESTS + forms_read + FORM_REQUESTS * forms_opened + reports
        assert calls.requests <= bound, calls.http
        assert sum(calls.events.values()) <= STEP_EVENTS + artifacts + transitions, calls.events
        assert calls.logs <= STEP_LOGS, calls.log_lines


def test_a_step_opens_forms_after_the_answer_deployment_was_made_again(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the ``answer-task`` deployment is deleted and made again (a new id), the next
    step's forms are runs of the new one (the server would accept a run naming the old)."""
    from prefect import get_client

    from flows.people import answer_task
    from flows.runs import ANSWER_DEPLOYMENT

    classes_file = EXAMPLES / "classes-quick.yaml"
    monkeypatch.setenv("COUNSEL_CLASSES_FILE", str(classes_file))
    classes = load_classes(classes_file)
    answer_task.to_deployment(name="answer-task").apply()
    _step(_quick(stage, classes, "Before"))
    with get_client(sync_client=True) as client:
        old = client.read_deployment_by_name(ANSWER_DEPLOYMENT).id
        client.delete_deployment(old)
    new = answer_task.to_deployment(name="answer-task").apply()
    assert new != old

    decision = _quick(stage, classes, "After")
    _step(decision)
    opened = _open(stage, decision)
    assert len(opened) == 2 and all(t.flow_run_id for t in opened)
    with get_client(sync_client=True) as client:
        runs = [client.read_flow_run(UUID(t.flow_run_id or "")) for t in opened]
    assert {r.deployment_id for r in runs} == {new}
    assert all(r.state is not None and r.state.is_paused() for r in runs)
