"""Execution's rules: executors' tasks, escalation, inspectors, acceptance and rework cycles."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import pytest

from decisions.classes import DecisionClass
from decisions.model import Actor, Answer, Decision, Role, State, Task, TaskKind, TaskStatus
from decisions.procedure import (
    Assign,
    Command,
    DecisionView,
    Escalate,
    RecordCycle,
    Transition,
    Wait,
    next_commands,
)
from decisions.procedure.execute import NO_REPORT, execution, needed_to_accept
from decisions.progress import ExecutionCycle, RoundRecord
from tests.unit.decisions.procedure.conftest import (
    STANDARD,
    TWO_DAYS,
    cycle,
    make_decision,
    make_view,
    person,
    report,
    round_record,
    stall_key,
    task,
    variant,
    verdict,
)

EXE, INS = TaskKind.EXECUTE, TaskKind.INSPECT
CANCELLED = TaskStatus.CANCELLED
NINETY_DAYS = timedelta(days=90)  # the standard class's ``execute``

XIA = person("xia", Role.EXECUTOR, affiliations=["east-cleaning"])
YAN = person("yan", Role.EXECUTOR, affiliations=["night-crew", "east-cleaning"])
ZHOU = person("zhou", Role.EXECUTOR, affiliations=["west-cleaning"])
LONE = person("lone-sweeper", Role.EXECUTOR)
#: Inspectors, listed out of id order.
INSPECTORS = tuple(person(f"ins-{c}", Role.INSPECTOR) for c in "cadb")
ACTORS = (YAN, ZHOU, XIA, *INSPECTORS)
#: Two consultations: the conditions of the later one's concluding round are the measures.
CONSULTED = (
    round_record(1, consensus=False, conditions=["Draft condition"]),
    round_record(2, concluded=True, conditions=["Old condition"]),
    round_record(3, first_round=3, consensus=False, conditions=["Another draft"]),
    round_record(4, first_round=3, concluded=True, conditions=["Notify residents", "Sweep at 5"]),
)
MEASURES = ("Notify residents", "Sweep at 5")
REPORTED = ((task(EXE, "xia"), report()), (task(EXE, "yan"), report()))


def executing(
    *tasks: Task | tuple[Task, Answer],
    decision: Decision | None = None,
    decision_class: DecisionClass = STANDARD,
    actors: Iterable[Actor] = ACTORS,
    rounds: Iterable[RoundRecord] = CONSULTED,
    cycles: Iterable[ExecutionCycle] = (),
    refused: Iterable[str] = (),
) -> DecisionView:
    """A standard decision being executed by the east-cleaning organisation."""
    return make_view(
        decision or make_decision(State.EXECUTING, 4),
        decision_class=decision_class,
        tasks=tasks,
        actors=actors,
        rounds=rounds,
        cycles=cycles,
        refused=refused,
    )


def work(
    executor: Actor, zone: str, cycle: int = 1, measures: tuple[str, ...] = MEASURES
) -> Assign:
    return Assign(
        EXE,
        (executor.id,),
        (f"D-2026-0001:execute:{cycle}:{executor.id}",),
        cycle,
        NINETY_DAYS,
        zone=zone,
        measures=measures,
    )


def inspection(*candidates: str, cycle: int = 1) -> Assign:
    return Assign(
        INS,
        candidates,
        tuple(f"D-2026-0001:inspect:{cycle}:{c}" for c in candidates),
        cycle,
        TWO_DAYS,
    )


# -- the stage's ends ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        pytest.param(
            State.APPROVED,
            [Transition("start_execution", "D-2026-0001:start-execution")],
            id="approved",
        ),
        pytest.param(State.ACCEPTED, [Transition("close", "D-2026-0001:close")], id="accepted"),
        *(
            pytest.param(s, [], id=s.value)
            for s in State
            if s not in {State.APPROVED, State.EXECUTING, State.ACCEPTED}
        ),
    ],
)
def test_an_approved_decision_starts_execution_and_an_accepted_one_closes(
    state: State, expected: list[Command]
) -> None:
    """Approval starts execution, accepted work closes the decision, and execution's rules
    give nothing to a decision in a state they do not work on."""
    assert execution(executing(decision=make_decision(state, 4))) == expected


@pytest.mark.parametrize(
    ("executor_orgs", "actors"),
    [
        pytest.param(["east-cleaning"], (ZHOU, *INSPECTORS), id="none-of-the-named-org"),
        pytest.param([], INSPECTORS, id="no-executor-at-all"),
    ],
)
def test_no_executor_stalls(executor_orgs: list[str], actors: tuple[Actor, ...]) -> None:
    """Execution without an executor of the decision's organisations stalls with the reason."""
    decision = make_decision(State.EXECUTING, 4, executor_orgs=executor_orgs)
    assert next_commands(executing(decision=decision, actors=actors)) == [
        Transition(
            "stall",
            stall_key("no-executor"),
            {"reason": "No executor is registered for the decision's executor organisations."},
        )
    ]


# -- executors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("executor_orgs", "actors", "tasks", "refused", "expected"),
    [
        pytest.param(
            ["east-cleaning"],
            ACTORS,
            (),
            (),
            [
                work(XIA, "east (east-cleaning)"),
                work(YAN, "east (night-crew, east-cleaning)"),
            ],
            id="the-named-orgs-executors-in-id-order",
        ),
        pytest.param(
            ["east-cleaning"],
            ACTORS,
            (task(EXE, "xia"),),
            (),
            [work(YAN, "east (night-crew, east-cleaning)")],
            id="assigned-skipped",
        ),
        pytest.param(
            ["east-cleaning"],
            ACTORS,
            (),
            ("D-2026-0001:execute:1:yan",),
            [work(XIA, "east (east-cleaning)")],
            id="refused-skipped",
        ),
        pytest.param(
            [],
            (ZHOU, LONE),
            (),
            (),
            [work(LONE, "east (Lone Sweeper)"), work(ZHOU, "east (west-cleaning)")],
            id="any-executor-when-no-org-is-named",
        ),
    ],
)
def test_each_executor_gets_a_task_in_their_zone_with_the_conditions_as_measures(
    executor_orgs: list[str],
    actors: tuple[Actor, ...],
    tasks: tuple[Task, ...],
    refused: tuple[str, ...],
    expected: list[Command],
) -> None:
    """Each executor of the decision's organisations without a task of the cycle gets one
    in their zone (the district and their organisations), with the experts' conditions."""
    decision = make_decision(State.EXECUTING, 4, executor_orgs=executor_orgs)
    view = executing(*tasks, decision=decision, actors=actors, refused=refused)
    assert next_commands(view) == expected


@pytest.mark.parametrize(
    ("rounds", "measures"),
    [
        pytest.param(CONSULTED, MEASURES, id="latest-concluded-round"),
        pytest.param(CONSULTED[:2], ("Old condition",), id="one-consultation"),
        pytest.param(CONSULTED[:1], (), id="none-concluded"),
        pytest.param((), (), id="no-rounds"),
    ],
)
def test_measures_are_the_conditions_of_the_latest_concluded_round(
    rounds: tuple[RoundRecord, ...], measures: tuple[str, ...]
) -> None:
    """An executor's measures are the conditions of the latest round that concluded a
    consultation, never those of an unconcluded round."""
    commands = next_commands(executing(rounds=rounds))
    assert {c.measures for c in commands if isinstance(c, Assign)} == {measures}


def test_open_reports_are_waited_for() -> None:
    """With every executor assigned, execution waits for the open reports."""
    view = executing(task(EXE, "xia"), (task(EXE, "yan"), report(40)))
    assert next_commands(view) == [Wait("execute", (task(EXE, "xia"),))]


@pytest.mark.parametrize(
    ("tasks", "escalated"),
    [
        pytest.param(REPORTED, (), id="all-reported"),
        pytest.param(
            ((task(EXE, "xia"), report()), task(EXE, "yan", 1, CANCELLED)),
            ("yan",),
            id="one-silent",
        ),
        pytest.param(
            (task(EXE, "xia", 1, CANCELLED), task(EXE, "yan", 1, CANCELLED)),
            ("xia", "yan"),
            id="both-silent",
        ),
    ],
)
def test_an_executor_without_a_report_is_escalated_before_inspection(
    tasks: tuple[Task, ...], escalated: tuple[str, ...]
) -> None:
    """Once the reports are closed, each task closed without a report is escalated (keyed by
    the task) and the inspection begins all the same."""
    commands = next_commands(executing(*tasks))
    escalations = [c for c in commands if isinstance(c, Escalate)]
    assert escalations == [
        Escalate(task(EXE, e, 1, CANCELLED), NO_REPORT, f"D-2026-0001-execute-1-{e}:escalated")
        for e in escalated
    ]
    assert NO_REPORT == "no progress report by the deadline"
    assert commands[len(escalations) :] == [inspection("ins-a", "ins-b", "ins-c", "ins-d")]


# -- inspectors -------------------------------------------------------------------------------

TWO_INSPECTORS = variant(acceptance={"inspectors": 2})


@pytest.mark.parametrize(
    ("tasks", "refused", "expected"),
    [
        pytest.param((), (), inspection("ins-a", "ins-b", "ins-c", "ins-d"), id="all-in-id-order"),
        pytest.param(
            (task(INS, "ins-a"),), (), inspection("ins-b", "ins-c", "ins-d"), id="one-assigned"
        ),
        pytest.param(
            (task(INS, "ins-b", 1, CANCELLED),),
            ("D-2026-0001:inspect:1:ins-a",),
            inspection("ins-c", "ins-d"),
            id="cancelled-counts-refused-dropped",
        ),
    ],
)
def test_inspectors_are_assigned_one_at_a_time_from_the_remaining_candidates(
    tasks: tuple[Task, ...], refused: tuple[str, ...], expected: Assign
) -> None:
    """While the cycle has fewer inspection tasks than the class wants, one more is assigned
    to the first of the remaining inspectors (id order) the powers allow."""
    view = executing(*REPORTED, *tasks, decision_class=TWO_INSPECTORS, refused=refused)
    assert next_commands(view) == [expected]


@pytest.mark.parametrize(
    ("actors", "tasks", "refused", "cycles", "reason"),
    [
        pytest.param(
            (XIA, YAN),
            (),
            (),
            (),
            "Only 0 independent inspectors are available; the class needs 2.",
            id="none",
        ),
        pytest.param(
            (XIA, YAN, INSPECTORS[1]),
            (task(INS, "ins-a"),),
            (),
            (),
            "Only 1 independent inspectors are available; the class needs 2.",
            id="one-assigned-none-left",
        ),
        pytest.param(
            ACTORS,
            (task(INS, "ins-a"),),
            (
                "D-2026-0001:inspect:1:ins-b",
                "D-2026-0001:inspect:1:ins-c",
                "D-2026-0001:inspect:1:ins-d",
            ),
            (),
            "Only 1 independent inspectors are available; the class needs 2.",
            id="the-rest-refused",
        ),
    ],
)
def test_too_few_inspectors_stalls(
    actors: tuple[Actor, ...],
    tasks: tuple[Task, ...],
    refused: tuple[str, ...],
    cycles: tuple[ExecutionCycle, ...],
    reason: str,
) -> None:
    """With no inspector left to ask and fewer inspections than the class wants, execution
    stalls with the count in the sentence, keyed by the cycle."""
    view = executing(
        *REPORTED,
        *tasks,
        decision_class=TWO_INSPECTORS,
        actors=actors,
        refused=refused,
        cycles=cycles,
    )
    assert next_commands(view) == [
        Transition("stall", stall_key("inspectors:1"), {"reason": reason})
    ]


def test_the_inspectors_stall_is_keyed_by_the_cycle() -> None:
    """Too few inspectors in the second cycle stalls under that cycle's key."""
    view = executing(
        (task(EXE, "xia", 2), report()),
        (task(EXE, "yan", 2), report()),
        decision_class=TWO_INSPECTORS,
        actors=(XIA, YAN),
        cycles=(cycle(1),),
    )
    [stall] = next_commands(view)
    assert isinstance(stall, Transition) and stall.key == stall_key("inspectors:2")


def test_open_inspections_are_waited_for() -> None:
    """With enough inspectors assigned, execution waits for the open verdicts."""
    view = executing(
        *REPORTED,
        task(INS, "ins-a"),
        (task(INS, "ins-b"), verdict()),
        decision_class=TWO_INSPECTORS,
    )
    assert next_commands(view) == [Wait("inspect", (task(INS, "ins-a"),))]


# -- acceptance -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inspected", "rule", "needed"),
    [
        (1, "all", 1),
        (2, "all", 2),
        (3, "all", 3),
        (4, "all", 4),
        (1, "majority", 1),
        (2, "majority", 2),
        (3, "majority", 2),
        (4, "majority", 3),
        (5, "majority", 3),
    ],
)
def test_needed_to_accept(inspected: int, rule: str, needed: int) -> None:
    """Rule ``all`` needs every inspector; ``majority`` needs more than half of them."""
    assert needed_to_accept(inspected, rule) == needed


def _inspected(rule: str, verdicts: list[str | None]) -> DecisionView:
    """Cycle 1 reported and inspected by as many inspectors as ``verdicts`` (None: the
    inspection was cancelled at its deadline)."""
    dclass = variant(acceptance={"inspectors": len(verdicts), "rule": rule})
    names = ("ins-a", "ins-b", "ins-c", "ins-d")
    inspections = [
        task(INS, n, 1, CANCELLED) if v is None else (task(INS, n), verdict(v))
        for n, v in zip(names, verdicts, strict=False)
    ]
    return executing(*REPORTED, *inspections, decision_class=dclass)


@pytest.mark.parametrize(
    ("rule", "verdicts", "outcome", "accepted", "needed"),
    [
        pytest.param("all", ["accept"], "accepted", 1, 1, id="all-1-of-1"),
        pytest.param("all", ["accept", "reject"], "rework", 1, 2, id="all-1-of-2"),
        pytest.param("all", ["accept", None], "rework", 1, 2, id="all-cancelled-counts"),
        pytest.param("all", ["reject"], "rework", 0, 1, id="all-0-of-1"),
        pytest.param("majority", ["accept"], "accepted", 1, 1, id="majority-1-of-1"),
        pytest.param("majority", ["accept", "reject"], "rework", 1, 2, id="majority-1-of-2"),
        pytest.param(
            "majority", ["accept", "reject", "accept"], "accepted", 2, 2, id="majority-2-of-3"
        ),
        pytest.param(
            "majority", ["reject", "accept", "reject"], "rework", 1, 2, id="majority-1-of-3"
        ),
        pytest.param(
            "majority", ["accept", None, "accept"], "accepted", 2, 2, id="majority-cancelled"
        ),
        pytest.param(
            "majority",
            ["accept", "accept", "reject", "reject"],
            "rework",
            2,
            3,
            id="majority-2-of-4",
        ),
        pytest.param(
            "majority",
            ["accept", "reject", "accept", "accept"],
            "accepted",
            3,
            3,
            id="majority-3-of-4",
        ),
    ],
)
def test_the_inspectors_verdicts_accept_the_cycle_or_send_it_back(
    rule: str, verdicts: list[str | None], outcome: str, accepted: int, needed: int
) -> None:
    """A cycle whose verdicts are in is recorded; accepted under the class's rule it is
    accepted and the decision closed, otherwise it is recorded for rework."""
    record = ExecutionCycle(
        cycle=1, inspected=len(verdicts), accepted=accepted, needed=needed, outcome=outcome
    )
    expected: list[Command] = [RecordCycle(record, f"D-2026-0001:{outcome}:1")]
    if outcome == "accepted":
        expected += [
            Transition("accept_execution", "D-2026-0001:accept:1"),
            Transition("close", "D-2026-0001:close"),
        ]
    assert next_commands(_inspected(rule, verdicts)) == expected


# -- rework cycles ----------------------------------------------------------------------------


def test_rework_starts_the_next_cycle() -> None:
    """After a cycle recorded for rework, the executors get the next cycle's tasks; the
    first cycle's reports and verdicts no longer count."""
    view = executing(
        *REPORTED,
        (task(INS, "ins-a"), verdict("reject")),
        cycles=(cycle(1, "rework", accepted=0, needed=1),),
    )
    assert next_commands(view) == [
        work(XIA, "east (east-cleaning)", cycle=2),
        work(YAN, "east (night-crew, east-cleaning)", cycle=2),
    ]


def test_the_next_cycles_inspection_asks_again() -> None:
    """In the second cycle the inspectors are asked afresh under the second cycle's keys."""
    view = executing(
        *REPORTED,
        (task(INS, "ins-a"), verdict("reject")),
        (task(EXE, "xia", 2), report()),
        (task(EXE, "yan", 2), report()),
        cycles=(cycle(1),),
    )
    assert next_commands(view) == [inspection("ins-a", "ins-b", "ins-c", "ins-d", cycle=2)]


@pytest.mark.parametrize(
    ("dclass", "reworks", "stalls"),
    [
        pytest.param(STANDARD, 2, None, id="shipped-third-cycle-runs"),
        pytest.param(STANDARD, 3, 3, id="shipped-after-3"),
        pytest.param(variant(acceptance={"max_cycles": 1}), 1, 1, id="after-1"),
        pytest.param(variant(acceptance={"max_cycles": 2}), 1, None, id="second-of-2-runs"),
        pytest.param(variant(acceptance={"max_cycles": 2}), 2, 2, id="after-2"),
        pytest.param(variant(acceptance={"max_cycles": 5}), 3, None, id="fourth-of-5-runs"),
    ],
)
def test_after_max_cycles_of_rework_the_decision_stalls(
    dclass: DecisionClass, reworks: int, stalls: int | None
) -> None:
    """Execution stalls once ``acceptance.max_cycles`` cycles were sent back (three unless the
    class says otherwise); before that the next cycle is assigned."""
    view = executing(decision_class=dclass, cycles=tuple(cycle(n) for n in range(1, reworks + 1)))
    commands = next_commands(view)
    if stalls is None:
        assert [c.round for c in commands if isinstance(c, Assign)] == [reworks + 1] * 2
    else:
        assert commands == [
            Transition(
                "stall",
                stall_key("execution"),
                {"reason": f"The work was not accepted after {stalls} cycles."},
            )
        ]


def test_an_accepted_cycle_recorded_while_executing_accepts_the_execution() -> None:
    """A run that recorded an accepted cycle but did not move the decision accepts it under
    that cycle's key, whatever else the view holds."""
    view = executing(
        task(EXE, "xia", 2),
        cycles=(cycle(1), cycle(2, "accepted", accepted=1, needed=1)),
    )
    assert next_commands(view) == [Transition("accept_execution", "D-2026-0001:accept:2")]
