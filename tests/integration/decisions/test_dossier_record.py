"""The dossier's read of a decision: everything it shows in one unit of work, and the
decision's own events checked against the chain with ``counsel audit verify``'s sentences."""

from __future__ import annotations

import json

import pytest

from decisions import services
from decisions.model import TaskKind
from tests.integration.decisions.conftest import World, chain_unprotected


def test_the_record_holds_the_decision_its_tasks_names_history_and_the_chain_head(
    world: World,
) -> None:
    """The record has the decision, its tasks, the names of the people in them, its own
    history, that history checked, and the chain's head."""
    engine, did = world.engine, world.decision.id
    services.assign_task(engine, did, TaskKind.CONSULT, world.experts[0].id)
    record = services.decision_record(engine, did)
    assert record.decision.state.value == "consulting"
    assert [t.assignee_id for t in record.tasks] == [world.experts[0].id]
    assert record.name("li-wei") == "李伟" and record.name("nobody") == "nobody"
    assert [e.seq for e in record.events] == [e.seq for e in services.history(engine, did)]
    assert record.check.ok and record.check.events == len(record.events)
    assert record.head == services.chain_head(engine)


@pytest.mark.parametrize(
    ("damage", "sentence"),
    [
        ("payload", "was altered: its content no longer matches its hash"),
        ("link", "does not follow event"),
        ("delete-before", "is missing: the chain jumps from event"),
    ],
)
def test_a_damaged_event_of_the_decision_is_named_with_the_audits_sentence(
    world: World, damage: str, sentence: str
) -> None:
    """A changed payload, a broken link to the event before, or a removed event just
    before one of the decision's is found by the decision's own check, without walking
    the chain, and named as ``counsel audit verify`` names it."""
    engine, did = world.engine, world.decision.id
    services.append_event(engine, actor="system", action="note", payload={"other": True})
    services.assign_task(engine, did, TaskKind.CONSULT, world.experts[0].id)
    target = services.history(engine, did)[-1]
    with chain_unprotected(engine) as conn:
        if damage == "payload":
            altered = json.dumps({**target.data, "assignee": "someone-else"})
            conn.exec_driver_sql(
                "UPDATE audit_events SET payload = %s WHERE seq = %s"
                if conn.dialect.name != "sqlite"
                else "UPDATE audit_events SET payload = ? WHERE seq = ?",
                (altered, target.seq),
            )
        elif damage == "link":
            conn.exec_driver_sql(
                "UPDATE audit_events SET prev_hash = %s WHERE seq = %s"
                if conn.dialect.name != "sqlite"
                else "UPDATE audit_events SET prev_hash = ? WHERE seq = ?",
                ("f" * 64, target.seq),
            )
        else:
            conn.exec_driver_sql(
                "DELETE FROM audit_events WHERE seq = %s"
                if conn.dialect.name != "sqlite"
                else "DELETE FROM audit_events WHERE seq = ?",
                (target.seq - 1,),
            )
    check = services.check_decision_events(engine, did)
    assert not check.ok and check.first_bad_seq in {target.seq, target.seq - 1}
    assert sentence in check.reason
    assert services.decision_record(engine, did).check == check
