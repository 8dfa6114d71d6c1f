"""Which stage works on a decision, whether it can move now, and what a failed stage does."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from decisions.model import State, Task, TaskKind, TaskStatus
from decisions.procedure import (
    Transition,
    failure_stall,
    is_active,
    looks_stuck,
    next_commands,
    ready_to_continue,
    stage_for,
)
from tests.unit.decisions.procedure.conftest import T0, make_decision, make_view, task

OPEN, ANSWERED = TaskStatus.OPEN, TaskStatus.ANSWERED
CANCELLED, REASSIGNED = TaskStatus.CANCELLED, TaskStatus.REASSIGNED

STAGE = {
    State.SUBMITTED: "consult",
    State.RETURNED: "consult",
    State.CONSULTING: "consult",
    State.DISCUSSING: "discuss",
    State.DECIDING: "decide",
    State.APPROVED: "execute",
    State.EXECUTING: "execute",
    State.ACCEPTED: "execute",
    State.CLOSED: None,
    State.REJECTED: None,
    State.WITHDRAWN: None,
    State.STALLED: None,
}
#: The states a failed stage cannot stall from: at rest already, or past the last stall.
CANNOT_STALL = {State.STALLED, State.CLOSED, State.REJECTED, State.WITHDRAWN, State.ACCEPTED}


def test_the_table_covers_every_state() -> None:
    """The expected stages below name every state of the lifecycle."""
    assert set(STAGE) == set(State)


@pytest.mark.parametrize("state", list(State))
def test_stage_for_every_state(state: State) -> None:
    """Each state is worked on by its stage; closed, rejected, withdrawn and stalled by none."""
    assert stage_for(state) == STAGE[state]


@pytest.mark.parametrize("state", list(State))
def test_a_decision_is_active_while_a_stage_works_on_it(state: State) -> None:
    """A decision is active exactly when its state belongs to a stage."""
    assert is_active(make_decision(state, 1)) is (STAGE[state] is not None)


@pytest.mark.parametrize("state", [s for s in State if STAGE[s] is None])
def test_a_decision_at_rest_gets_no_command(state: State) -> None:
    """The procedure has nothing to do for a closed, rejected, withdrawn or stalled decision."""
    assert next_commands(make_view(make_decision(state, 2))) == []


@pytest.mark.parametrize(
    ("state", "statuses", "ready"),
    [
        pytest.param(State.CONSULTING, (), True, id="no-tasks"),
        pytest.param(State.CONSULTING, (ANSWERED, CANCELLED, REASSIGNED), True, id="all-closed"),
        pytest.param(State.CONSULTING, (ANSWERED, OPEN), False, id="one-open"),
        pytest.param(State.SUBMITTED, (), True, id="submitted"),
        pytest.param(State.APPROVED, (ANSWERED,), True, id="approved"),
        pytest.param(State.ACCEPTED, (ANSWERED,), True, id="accepted-waits-to-be-closed"),
        pytest.param(State.EXECUTING, (OPEN,), False, id="executing-open"),
        pytest.param(State.STALLED, (), False, id="stalled"),
        pytest.param(State.CLOSED, (), False, id="closed"),
        pytest.param(State.WITHDRAWN, (ANSWERED,), False, id="withdrawn"),
    ],
)
def test_ready_to_continue_when_active_and_nothing_is_open(
    state: State, statuses: tuple[TaskStatus, ...], ready: bool
) -> None:
    """A decision can take its next step now when a stage works on it and no task is open."""
    tasks = [task(TaskKind.CONSULT, f"expert-{n}", 1, s) for n, s in enumerate(statuses)]
    assert ready_to_continue(make_decision(state, 1), tasks) is ready


QUIET = T0 + timedelta(minutes=10)
WITH_FORM = task(TaskKind.CONSULT, "ana", flow_run_id="7c9e6679-7425-40de-944b-e07fc1f90ae7")
WITHOUT_FORM = task(TaskKind.CONSULT, "bo")


@pytest.mark.parametrize(
    ("state", "open_tasks", "last_activity", "stuck"),
    [
        pytest.param(State.CONSULTING, (), T0, True, id="ready-and-quiet"),
        pytest.param(State.CONSULTING, (), QUIET, True, id="quiet-since-exactly"),
        pytest.param(State.CONSULTING, (), QUIET + timedelta(seconds=1), False, id="recent"),
        pytest.param(State.CONSULTING, (), None, False, id="no-activity-known"),
        pytest.param(State.CONSULTING, (WITH_FORM,), T0, False, id="waiting-with-forms"),
        pytest.param(State.CONSULTING, (WITH_FORM, WITHOUT_FORM), T0, True, id="a-form-missing"),
        pytest.param(State.CONSULTING, (WITHOUT_FORM,), QUIET + timedelta(1), False, id="busy"),
        pytest.param(State.ACCEPTED, (), T0, True, id="accepted-not-closed"),
        pytest.param(State.STALLED, (), T0, False, id="stalled"),
        pytest.param(State.CLOSED, (WITHOUT_FORM,), T0, False, id="closed"),
    ],
)
def test_looks_stuck_when_it_could_move_and_nothing_was_recorded_since_the_quiet_window(
    state: State, open_tasks: tuple[Task, ...], last_activity: datetime | None, stuck: bool
) -> None:
    """An active decision that is ready, or has an open task without its person's form, and
    has recorded nothing since ``quiet_since`` lost its continuation."""
    decision = make_decision(state, 1)
    assert looks_stuck(decision, open_tasks, last_activity, QUIET) is stuck


@pytest.mark.parametrize("state", list(State))
def test_a_failed_stage_stalls_the_decision_unless_it_cannot_stall(state: State) -> None:
    """A failed stage stalls a decision in any stage state, keyed by the stage and the
    position in its history; a decision already stalled or past the stages is left alone."""
    decision = make_decision(state, 1)
    stall = failure_stall(decision, "decide", "database is locked", 17)
    if state in CANNOT_STALL:
        assert stall is None
        return
    assert stall == Transition(
        "stall",
        "D-2026-0001:stall:failed:decide:17",
        {
            "reason": "The vote stage failed: database is locked. Once the cause is fixed, "
            "`counsel resume D-2026-0001` takes the decision on from there."
        },
    )


def test_each_position_stalls_once() -> None:
    """Failures at two positions of the history are two stalls; a retry at one is the same."""
    decision = make_decision(State.CONSULTING, 1)
    keys = [failure_stall(decision, "consult", "boom", p) for p in (17, 17, 18)]
    assert [k.key if k else None for k in keys] == [
        "D-2026-0001:stall:failed:consult:17",
        "D-2026-0001:stall:failed:consult:17",
        "D-2026-0001:stall:failed:consult:18",
    ]


@pytest.mark.parametrize(
    ("stage", "cause", "sentence"),
    [
        pytest.param(
            "consult",
            "database is locked",
            "The consultation stage failed: database is locked.",
            id="consult",
        ),
        pytest.param(
            "discuss", "Timed out...", "The discussion stage failed: Timed out.", id="trailing-dots"
        ),
        pytest.param(
            "execute",
            "KeyError: 'ana'\n   in  flows",
            "The execution stage failed: KeyError: 'ana' in flows.",
            id="whitespace-folded",
        ),
        pytest.param("decide", "  \n ", "The vote stage failed: no message.", id="no-message"),
        pytest.param("sweep", "gone", "The sweep stage failed: gone.", id="unknown-stage"),
    ],
)
def test_the_failure_sentence_names_the_stage_and_how_to_resume(
    stage: str, cause: str, sentence: str
) -> None:
    """The stall's reason names the stage as a planner does, the cause on one line, and
    ``counsel resume`` with the decision's id."""
    stall = failure_stall(make_decision(State.DISCUSSING, 1), stage, cause, 3)
    assert stall is not None
    assert stall.reason == (
        f"{sentence} Once the cause is fixed, `counsel resume D-2026-0001` takes the decision "
        "on from there."
    )
