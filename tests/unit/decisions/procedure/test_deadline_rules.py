"""Deadlines: when a task's person is reminded, when it expires, and who replaces them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from decisions.model import TaskKind
from decisions.procedure import Expire, Remind, deadline_of, due, expiry_reason
from decisions.progress import Routing
from tests.unit.decisions.procedure.conftest import (
    STANDARD,
    T0,
    TWO_DAYS,
    hours,
    routing,
    task,
    variant,
)

C, D = TaskKind.CONSULT, TaskKind.DISCUSS
#: ana's slot has two alternates in order; bo's has none.
ROUTED = routing(1, ("ana", "fan", "gu"), ("bo",))


@pytest.mark.parametrize(
    ("own_deadline", "deadline"),
    [
        pytest.param(None, T0 + TWO_DAYS, id="answer-after-creation"),
        pytest.param(T0 + hours(30), T0 + hours(30), id="its-own"),
        pytest.param(T0 + hours(100), T0 + hours(100), id="its-own-beyond-answer"),
    ],
)
def test_a_task_is_due_at_its_own_deadline_or_answer_after_it_was_given(
    own_deadline: datetime | None, deadline: datetime
) -> None:
    """A task's deadline is its own, or the class's ``answer`` after it was given."""
    assert deadline_of(task(D, "ana", deadline=own_deadline), STANDARD) == deadline


@pytest.mark.parametrize(
    ("own_deadline", "after", "expected", "deadline"),
    [
        pytest.param(None, hours(0), None, None, id="just-given"),
        pytest.param(None, hours(24) - timedelta(seconds=1), None, None, id="before-reminder"),
        pytest.param(None, hours(24), Remind, hours(48), id="at-reminder"),
        pytest.param(None, hours(47), Remind, hours(48), id="between"),
        pytest.param(None, hours(48) - timedelta(seconds=1), Remind, hours(48), id="just-before"),
        pytest.param(None, hours(48), Expire, hours(48), id="at-deadline"),
        pytest.param(None, hours(500), Expire, hours(48), id="long-after"),
        pytest.param(hours(30), hours(29), Remind, hours(30), id="own-deadline-reminded"),
        pytest.param(hours(30), hours(30), Expire, hours(30), id="own-deadline-expired"),
        pytest.param(hours(12), hours(11), None, None, id="own-deadline-before-the-reminder"),
        pytest.param(hours(12), hours(12), Expire, hours(12), id="expired-never-reminded"),
        pytest.param(hours(72), hours(60), Remind, hours(72), id="own-deadline-past-answer"),
        pytest.param(hours(72), hours(72), Expire, hours(72), id="own-late-deadline-expired"),
    ],
)
def test_an_open_task_is_reminded_after_reminder_and_expires_at_its_deadline(
    own_deadline: timedelta | None,
    after: timedelta,
    expected: type[Remind] | type[Expire] | None,
    deadline: timedelta | None,
) -> None:
    """Nothing is due before ``reminder`` has passed since the task was given; from then a
    reminder naming the deadline; from the deadline on, expiry (keyed by the task)."""
    given_task = task(D, "ana", 2, deadline=T0 + own_deadline if own_deadline else None)
    action = due(given_task, STANDARD, ROUTED, T0 + after)
    if expected is None:
        assert action is None
        return
    assert deadline is not None
    assert isinstance(action, expected)
    assert (action.task, action.deadline) == (given_task, T0 + deadline)
    suffix = "reminded" if expected is Remind else "expired"
    assert action.key == f"D-2026-0001-discuss-2-ana:{suffix}"


@pytest.mark.parametrize(
    ("kind", "assignee", "round", "routed", "candidates"),
    [
        pytest.param(C, "ana", 1, ROUTED, ("fan", "gu"), id="lead-passes-to-alternates"),
        pytest.param(C, "fan", 1, ROUTED, ("gu",), id="alternate-passes-to-the-next"),
        pytest.param(C, "gu", 1, ROUTED, (), id="last-alternate"),
        pytest.param(C, "bo", 1, ROUTED, (), id="slot-without-alternates"),
        pytest.param(C, "ana", 2, ROUTED, ("fan", "gu"), id="later-round"),
        pytest.param(C, "zed", 1, ROUTED, (), id="not-routed"),
        pytest.param(C, "ana", 1, None, (), id="no-routing"),
        pytest.param(D, "ana", 1, ROUTED, (), id="discussion-task"),
        pytest.param(TaskKind.VOTE, "ana", 1, ROUTED, (), id="vote-task"),
    ],
)
def test_an_expired_consult_task_passes_to_the_alternates_after_the_late_expert(
    kind: TaskKind,
    assignee: str,
    round: int,
    routed: Routing | None,
    candidates: tuple[str, ...],
) -> None:
    """An expired consult task's candidates are the alternates after its expert in their
    slot, each keyed as a consult assignment of the task's round; other tasks have none."""
    late = task(kind, assignee, round)
    expire = due(late, STANDARD, routed, T0 + hours(48))
    assert isinstance(expire, Expire)
    assert expire.candidates == candidates
    assert expire.keys == tuple(f"D-2026-0001:consult:{round}:{c}" for c in candidates)
    assert expire.duration == TWO_DAYS


def test_a_consult_tasks_replacement_is_due_within_the_shorter_of_answer_and_consult() -> None:
    """An alternate replacing a late expert gets a consult task's time: the shorter of
    ``answer`` and ``consult``, as the panel's first assignments do."""
    short_consult = variant(durations={"consult": hours(12)})
    expire = due(task(C, "ana", created_at=T0), short_consult, ROUTED, T0 + hours(48))
    assert isinstance(expire, Expire)
    assert expire.duration == hours(12)


@pytest.mark.parametrize(
    ("replacement", "reason"),
    [
        pytest.param(
            "fan", "No answer by the deadline 2026-03-04 09:00 UTC; passed to fan.", id="passed"
        ),
        pytest.param(None, "No answer by the deadline 2026-03-04 09:00 UTC.", id="cancelled"),
    ],
)
def test_expiry_reason_names_the_deadline_and_any_replacement(
    replacement: str | None, reason: str
) -> None:
    """The sentence on a task closed at its deadline names the deadline and who took it on."""
    assert expiry_reason(T0 + TWO_DAYS, replacement) == reason


KINDS = st.sampled_from(list(TaskKind))
OFFSETS = st.integers(min_value=0, max_value=24 * 30).map(lambda h: timedelta(hours=h))


@given(
    kind=KINDS,
    own=st.none() | OFFSETS.filter(bool),
    times=st.lists(OFFSETS, min_size=2, max_size=6).map(sorted),
)
def test_what_is_due_only_moves_forward_with_time(
    kind: TaskKind, own: timedelta | None, times: list[timedelta]
) -> None:
    """As time passes an open task goes from nothing to a reminder to expiry, never back,
    and it expires exactly from its deadline on."""
    open_task = task(kind, "ana", deadline=T0 + own if own else None)
    rank = {type(None): 0, Remind: 1, Expire: 2}
    seen = [due(open_task, STANDARD, ROUTED, T0 + t) for t in times]
    ranks = [rank[type(s)] for s in seen]
    assert ranks == sorted(ranks)
    deadline = deadline_of(open_task, STANDARD)
    assert [isinstance(s, Expire) for s in seen] == [T0 + t >= deadline for t in times]
