"""The decision store on real SQLite and PostgreSQL: round trips, idempotency, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from decisions import services
from decisions.classes import load_classes
from decisions.db import make_engine
from decisions.exceptions import (
    ActorError,
    AuthenticationError,
    DecisionNotFound,
    InvalidTransition,
    PermissionDenied,
    StoreNotReady,
    TaskError,
)
from decisions.model import Comment, Opinion, State, TaskStatus, Vote
from decisions.tables import AnswerRow, AuditEventRow, DecisionRow, TaskRow
from tests.integration.decisions.conftest import PROPOSAL, World

CRITERIA = load_classes().get("major", "east").criteria


def opinion(score: int = 7) -> Opinion:
    return Opinion(
        recommendation="approve_with_conditions",
        ratings={c: score for c in CRITERIA},
        conditions=("Keep the night shift",),
        rationale="成本可控，需保留夜班。",
    )


def count(engine: Engine, table: type) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_decision_round_trips_with_versions(world: World) -> None:
    """A decision comes back from the store exactly as the domain left it."""
    engine = world.engine
    services.apply_transition(engine, world.decision.id, "open_discussion")
    services.amend_proposal(
        engine,
        world.decision.id,
        actor=world.planner,
        title="Amended: 建设路",
        text="Three-year contract with a night shift.",
        note="night shift added",
    )
    stored = services.get_decision(engine, world.decision.id)
    assert stored.id == f"D-{datetime.now(UTC).year}-0001"
    assert stored.title == "Amended: 建设路"
    assert stored.state is State.DISCUSSING
    assert stored.topics == PROPOSAL["topics"]
    assert stored.bidder_orgs == ["cleanco", "greenway-sanitation"]
    assert [(v.number, v.note) for v in stored.versions] == [(1, ""), (2, "night shift added")]
    assert stored.versions[0].title == PROPOSAL["title"]
    assert stored.created_at.tzinfo is not None


def test_actor_round_trips_and_token_is_stored_only_as_hash(world: World) -> None:
    """Actors come back with roles and organisations; the token authenticates but is not stored."""
    assert services.authenticate(world.engine, world.planner_token) == world.planner
    with world.engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM actors WHERE id = 'li-wei'")).scalar()
    assert stored != world.planner_token and len(stored) == 64
    with pytest.raises(AuthenticationError, match="does not belong to any actor"):
        services.authenticate(world.engine, world.planner_token + "x")
    with pytest.raises(AuthenticationError, match="set COUNSEL_TOKEN"):
        services.authenticate(world.engine, None)


def test_duplicate_actor_is_refused_and_nothing_written(world: World) -> None:
    """Adding an existing id is a clear refusal with no new audit event."""
    before = count(world.engine, AuditEventRow)
    with pytest.raises(ActorError, match="'li-wei' already exists"):
        services.add_actor(world.engine, actor_id="li-wei", name="Other", roles=["planner"])
    assert count(world.engine, AuditEventRow) == before


def test_task_and_answer_round_trip(world: World) -> None:
    """A task keeps its deadline, zone and measures; its answer is stored with its event."""
    deadline = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assigned = services.assign_task(
        world.engine, world.decision.id, "consult", "expert-0", deadline=deadline
    )
    task = services.tasks_of(world.engine, world.decision.id)[0]
    assert task == assigned.task
    assert task.deadline == deadline
    recorded = services.record_answer(
        world.engine,
        task.id,
        opinion(),
        actor=world.experts[0],
        answer_code=assigned.answer_code,
        criteria=CRITERIA,
    )
    assert recorded.created and recorded.task.status is TaskStatus.ANSWERED
    assert services.answers_of(world.engine, world.decision.id) == {task.id: opinion()}
    assert recorded.answer == opinion()
    assert recorded.event.action == "task.answered.opinion"
    assert recorded.event.data["answer"]["rationale"] == "成本可控，需保留夜班。"


def test_same_idempotency_key_twice_writes_once(world: World) -> None:
    """Retrying any write with its key returns the first result and writes nothing more."""
    engine = world.engine
    again = services.submit_proposal(
        engine,
        services.Proposal.model_validate(PROPOSAL),
        planner=world.planner,
        classes=load_classes(),
        idempotency_key="submit-1",
    )
    assert again.id == world.decision.id and count(engine, DecisionRow) == 1
    first = services.assign_task(engine, again.id, "consult", "expert-1", idempotency_key="a-1")
    second = services.assign_task(engine, again.id, "consult", "expert-1", idempotency_key="a-1")
    assert (first.task.id, first.answer_code) == (second.task.id, second.answer_code)
    assert not second.created and count(engine, TaskRow) == 1
    events = count(engine, AuditEventRow)
    for _ in range(2):
        services.record_answer(
            engine,
            first.task.id,
            opinion(),
            actor=world.experts[1],
            answer_code=first.answer_code,
            idempotency_key="answer-1",
        )
        services.apply_transition(engine, again.id, "open_discussion", idempotency_key="t-1")
    assert count(engine, AnswerRow) == 1
    assert count(engine, AuditEventRow) == events + 2


def test_same_answer_by_another_channel_is_recorded_once(world: World) -> None:
    """The same answer sent again under a different key is recognised, not recorded twice."""
    assigned = services.assign_task(world.engine, world.decision.id, "consult", "expert-0")
    args = dict(actor=world.experts[0], answer_code=assigned.answer_code)
    first = services.record_answer(world.engine, assigned.task.id, opinion(), **args)
    again = services.record_answer(world.engine, assigned.task.id, opinion(), **args)
    assert first.created and not again.created and again.event == first.event
    with pytest.raises(TaskError, match="is answered and takes no more answers"):
        services.record_answer(world.engine, assigned.task.id, opinion(3), **args)
    assert count(world.engine, AnswerRow) == 1


def test_wrong_code_or_wrong_actor_is_refused_audited_and_task_stays_open(world: World) -> None:
    """A wrong answer code or another person's answer records nothing but a refusal."""
    assigned = services.assign_task(world.engine, world.decision.id, "consult", "expert-0")
    with pytest.raises(TaskError, match="answer code .* is not right; the task is still open"):
        services.record_answer(
            world.engine, assigned.task.id, opinion(), actor=world.experts[0], answer_code="NOPE"
        )
    with pytest.raises(TaskError, match="is assigned to expert-0, not to expert-1"):
        services.record_answer(
            world.engine,
            assigned.task.id,
            opinion(),
            actor=world.experts[1],
            answer_code=assigned.answer_code,
        )
    assert services.open_tasks_for(world.engine, "expert-0") == [assigned.task]
    assert count(world.engine, AnswerRow) == 0
    actions = [e.action for e in services.history(world.engine, world.decision.id)]
    assert actions.count("task.answer_refused") == 2


def test_incomplete_ratings_are_refused(world: World) -> None:
    """An opinion that skips one of the class's criteria is refused with the missing name."""
    assigned = services.assign_task(world.engine, world.decision.id, "consult", "expert-0")
    partial = Opinion(recommendation="approve", ratings={"cost": 5}, rationale="fine")
    with pytest.raises(TaskError, match="missing feasibility"):
        services.record_answer(
            world.engine,
            assigned.task.id,
            partial,
            actor=world.experts[0],
            answer_code=assigned.answer_code,
            criteria=CRITERIA,
        )


def test_wrong_answer_kind_is_refused(world: World) -> None:
    """A comment cannot answer a consultation task."""
    assigned = services.assign_task(world.engine, world.decision.id, "consult", "expert-0")
    with pytest.raises(TaskError, match="takes a Opinion, not a Comment"):
        services.record_answer(
            world.engine,
            assigned.task.id,
            Comment(stance="support", text="ok"),
            actor=world.experts[0],
            answer_code=assigned.answer_code,
        )


def test_consulted_expert_cannot_be_given_a_vote_and_the_refusal_is_audited(world: World) -> None:
    """Assigning a vote to a consulted expert is refused and leaves an audit event."""
    services.add_actor(world.engine, actor_id="dual", name="Dual Role", roles=["expert", "member"])
    services.assign_task(world.engine, world.decision.id, "consult", "dual")
    with pytest.raises(PermissionDenied, match="advised on decision .* may not also vote"):
        services.assign_task(world.engine, world.decision.id, "vote", "dual")
    last = services.history(world.engine, world.decision.id)[-1]
    assert (last.action, last.actor, last.data["attempted"]) == ("powers.refused", "dual", "vote")
    assert len(services.tasks_of(world.engine, world.decision.id)) == 1


def test_conflicted_expert_cannot_be_consulted(world: World) -> None:
    """An expert employed by a bidder is refused as a consultant for that decision."""
    services.add_actor(
        world.engine,
        actor_id="bidder-expert",
        name="Chen Gang",
        roles=["expert"],
        affiliations=["cleanco"],
    )
    with pytest.raises(PermissionDenied, match="affiliated with cleanco, a bidder"):
        services.assign_task(world.engine, world.decision.id, "consult", "bidder-expert")


def test_planner_cannot_vote_and_executor_cannot_inspect(world: World) -> None:
    """The planner's own vote and an executor's inspection are both refused."""
    services.add_actor(
        world.engine, actor_id="exec-insp", name="Both Hats", roles=["executor", "inspector"]
    )
    with pytest.raises(PermissionDenied, match="李伟 filed decision .*, so they may not vote"):
        services.assign_task(world.engine, world.decision.id, "vote", "li-wei")
    services.assign_task(world.engine, world.decision.id, "execute", "exec-insp", zone="Zone 3")
    with pytest.raises(PermissionDenied, match="executes decision .* may not also inspect"):
        services.assign_task(world.engine, world.decision.id, "inspect", "exec-insp")


def test_vote_answer_is_checked_again_when_it_arrives(world: World) -> None:
    """A member who became an executor after getting a vote task cannot cast that vote."""
    services.add_actor(
        world.engine, actor_id="m-e", name="Member Exec", roles=["member", "executor"]
    )
    vote = services.assign_task(world.engine, world.decision.id, "vote", "m-e")
    member = services.list_actors(world.engine)
    actor = next(a for a in member if a.id == "m-e")
    with world.engine.begin() as conn:  # a second task made behind the policy's back
        conn.execute(
            TaskRow.__table__.insert().values(
                id="X-1",
                decision_id=world.decision.id,
                kind="execute",
                assignee_id="m-e",
                round=1,
                status="open",
                answer_code_hash="x",
                measures=[],
                created_at=datetime.now(UTC),
            )
        )
    with pytest.raises(PermissionDenied, match="may not also vote"):
        services.record_answer(
            world.engine,
            vote.task.id,
            Vote(choice="approve", rationale="good"),
            actor=actor,
            answer_code=vote.answer_code,
        )
    assert services.open_tasks_for(world.engine, "m-e")[0].id == vote.task.id


def test_planner_withdraws_but_another_planner_cannot(world: World) -> None:
    """Withdrawal is the filing planner's power and is refused to anyone else."""
    services.add_actor(world.engine, actor_id="other-planner", name="Other", roles=["planner"])
    with pytest.raises(PermissionDenied, match="Only the planner who filed"):
        services.apply_transition(
            world.engine, world.decision.id, "withdraw", actor_id="other-planner", reason="no"
        )
    decision = services.apply_transition(
        world.engine, world.decision.id, "withdraw", actor_id="li-wei", reason="Budget cut."
    )
    assert decision.state is State.WITHDRAWN
    assert services.get_decision(world.engine, decision.id).state_reason == "Budget cut."


def test_illegal_transition_writes_nothing(world: World) -> None:
    """A refused lifecycle step leaves the decision and the chain as they were."""
    before = count(world.engine, AuditEventRow)
    with pytest.raises(InvalidTransition, match="is 'consulting', so it cannot approve"):
        services.apply_transition(world.engine, world.decision.id, "approve")
    assert count(world.engine, AuditEventRow) == before
    assert services.get_decision(world.engine, world.decision.id).state is State.CONSULTING


def test_reassignment_closes_the_task(world: World) -> None:
    """A task handed to an alternate is closed as reassigned and takes no answer."""
    assigned = services.assign_task(
        world.engine,
        world.decision.id,
        "consult",
        "expert-0",
        deadline=datetime.now(UTC) - timedelta(hours=1),
    )
    services.set_task_status(
        world.engine, assigned.task.id, TaskStatus.REASSIGNED, reason="No answer by the deadline."
    )
    with pytest.raises(TaskError, match="is reassigned and takes no more answers"):
        services.record_answer(
            world.engine,
            assigned.task.id,
            opinion(),
            actor=world.experts[0],
            answer_code=assigned.answer_code,
        )


def test_unknown_decision_is_a_sentence(world: World) -> None:
    """Asking for a decision that does not exist names it."""
    with pytest.raises(DecisionNotFound, match="There is no decision 'D-2026-9999'"):
        services.history(world.engine, "D-2026-9999")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = 1",
        "DELETE FROM audit_events WHERE seq = 1",
    ],
)
def test_triggers_refuse_update_and_delete(world: World, statement: str) -> None:
    """The database itself refuses to change or remove an audit event."""
    with pytest.raises(DBAPIError, match="append-only"), world.engine.begin() as conn:
        conn.exec_driver_sql(statement)
    assert services.verify(world.engine).ok


def test_truncate_is_refused_on_postgres(world: World) -> None:
    """On PostgreSQL even TRUNCATE of the audit table is refused."""
    if world.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE statement")
    with pytest.raises(DBAPIError, match="append-only"), world.engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE audit_events")


def test_blank_database_says_run_init(tmp_path: object) -> None:
    """Using a database that was never initialised tells the user to run counsel init."""
    engine = make_engine(f"sqlite:///{tmp_path}/blank.db")
    with pytest.raises(StoreNotReady, match="run `counsel init` first"):
        services.check_ready(engine)
    with pytest.raises(StoreNotReady, match="run `counsel init` first"):
        services.list_actors(engine)


def test_repeated_refusals_are_audited_once_per_attempt(world: World) -> None:
    """The same refused call retried is audited once; a different wrong code is audited
    again; nothing fails on the repeat."""
    assigned = services.assign_task(world.engine, world.decision.id, "consult", "expert-0")
    for code in ("WRONG-CODE2", "WRONG-CODE2", "WRONG-CODE3"):
        with pytest.raises(TaskError, match="not right"):
            services.record_answer(
                world.engine,
                assigned.task.id,
                opinion(),
                actor=world.experts[0],
                answer_code=code,
                idempotency_key="same-call",
            )
    services.add_actor(world.engine, actor_id="dual2", name="Dual", roles=["expert", "member"])
    services.assign_task(world.engine, world.decision.id, "consult", "dual2")
    for _ in range(2):
        with pytest.raises(PermissionDenied):
            services.assign_task(
                world.engine, world.decision.id, "vote", "dual2", idempotency_key="v"
            )
    actions = [e.action for e in services.history(world.engine, world.decision.id)]
    assert actions.count("task.answer_refused") == 2
    assert actions.count("powers.refused") == 1


def test_last_activity_is_each_decisions_newest_event(world: World) -> None:
    """The deadline sweep's quiet test: one query gives every decision's newest event time,
    and a decision's later event moves only its own."""
    other = services.submit_proposal(
        world.engine,
        services.Proposal.model_validate({**PROPOSAL, "title": "Another"}),
        planner=world.planner,
        classes=load_classes(),
    )
    before = services.last_activity(world.engine)
    newest = {d: services.history(world.engine, d)[-1].recorded_at for d in before}
    assert set(before) == {world.decision.id, other.id}
    assert all(before[d] == datetime.fromisoformat(newest[d]) for d in before)
    assert all(moment.tzinfo is not None for moment in before.values())
    services.apply_transition(world.engine, other.id, "start_consultation")
    after = services.last_activity(world.engine)
    assert after[world.decision.id] == before[world.decision.id]
    assert after[other.id] > before[other.id]
