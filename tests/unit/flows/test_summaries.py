"""One line per audit event for people: the execution cycles say what the inspectors decided."""

from __future__ import annotations

import json

import pytest

from decisions.audit import AuditEvent
from flows.summaries import summarise_event


def event(action: str, payload: dict[str, object]) -> AuditEvent:
    return AuditEvent(
        seq=1,
        recorded_at="2026-11-30T08:00:00+00:00",
        actor="system",
        action=action,
        decision_id="D-2026-0001",
        idempotency_key=None,
        payload=json.dumps(payload),
        prev_hash="0" * 64,
        hash="1" * 64,
    )


@pytest.mark.parametrize(
    ("action", "payload", "line"),
    [
        (
            "execution.rework",
            {"cycle": 1, "inspected": 3, "accepted": 1, "needed": 2},
            "cycle 1: rework, 1 of 3 inspectors accepted, 2 needed",
        ),
        (
            "execution.cycle_accepted",
            {"cycle": 2, "inspected": 2, "accepted": 2, "needed": 2},
            "cycle 2: accepted, 2 of 2 inspectors accepted, 2 needed",
        ),
        (  # recorded before stores kept how many inspected
            "execution.rework",
            {"cycle": 1, "accepted": 0, "needed": 1},
            "cycle 1: rework, 0 inspectors accepted, 1 needed",
        ),
    ],
)
def test_an_execution_cycle_reads_as_its_outcome(
    action: str, payload: dict[str, object], line: str
) -> None:
    """A cycle's event is summarised as its outcome and the inspectors' count."""
    assert summarise_event(event(action, payload)) == line


@pytest.mark.parametrize(
    ("action", "payload", "line"),
    [
        (
            "notification.sent",
            {
                "recipient": "e031",
                "task_id": "D-2026-0001-C001",
                "kind": "task.assigned",
                "channel": "mailto",
                "attempts": 1,
                "error": None,
            },
            "e031 told of D-2026-0001-C001 by mailto",
        ),
        (
            "notification.failed",
            {
                "recipient": "li-wei",
                "task_id": None,
                "kind": "decision.stalled",
                "channel": "wecombot",
                "attempts": 30,
                "error": "connection refused",
            },
            "li-wei told of decision.stalled by wecombot — failed after 30 attempt(s): "
            "connection refused",
        ),
    ],
)
def test_a_delivery_reads_as_who_was_told_of_what_and_how(
    action: str, payload: dict[str, object], line: str
) -> None:
    assert summarise_event(event(action, payload)) == line
