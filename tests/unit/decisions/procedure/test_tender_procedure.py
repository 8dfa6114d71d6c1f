"""The tender's rules, without Prefect: what a tender decision does next at each point."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from decisions.classes import load_classes
from decisions.model import (
    Actor,
    BidScores,
    Decision,
    Declination,
    Role,
    State,
    Task,
    TaskKind,
    TaskStatus,
    WitnessEntry,
)
from decisions.procedure import DecisionView, TenderStep, Transition, Wait, next_commands
from decisions.procedure.commands import Assign
from decisions.procedure.tender import NO_SPEC, winners
from decisions.progress import TenderRecord
from decisions.tender import TenderSpec

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "tender-road-cleaning.yaml"
SPEC = TenderSpec.model_validate(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
NOTARY = Actor(
    id="notary-sun", name="Sun", roles={Role.WITNESS}, bodies=("district-notary-office",)
)
POOL = {"members": [{"id": f"e{n:03d}", "organisation": f"org{n}", "score": 1.0} for n in range(9)]}
DRAW = {
    "panel": ["e001", "e002", "e003", "e004", "e005"],
    "alternates": ["e006", "e007", "e008"],
    "lots": {"L1": ["e001", "e002", "e003"], "L2": ["e002", "e004", "e005"], "L3": []},
    "witness": "42",
    "settings": {"criteria": ["technical", "commercial"]},
}


def _decision(state: State = State.CONSULTING) -> Decision:
    decision = Decision.file(
        id="D-2026-0007",
        title="Road cleaning tender",
        description="Three lots.",
        class_name="tender",
        district="east-district",
        planner_id="li-wei",
    )
    decision.state, decision.round = state, 1 if state is not State.SUBMITTED else 0
    return decision


def _view(record: TenderRecord | None, tasks=(), answers=None, refused=frozenset()) -> DecisionView:
    return DecisionView(
        _decision(),
        load_classes().get("tender"),
        tasks=tuple(tasks),
        answers=answers or {},
        actors=(NOTARY,),
        tender=record,
        refused=refused,
    )


def _record(**facts) -> TenderRecord:
    return TenderRecord(spec=SPEC.model_dump(mode="json"), **facts)


def _task(n: int, kind: TaskKind, who: str, status: TaskStatus = TaskStatus.OPEN) -> Task:
    letter = kind.value[0].upper()
    return Task(
        id=f"D-2026-0007-{letter}{n:03d}",
        decision_id="D-2026-0007",
        kind=kind,
        assignee_id=who,
        status=status,
        answer_code_hash="x",
    )


DRAWN = {
    "qualification": {"qualified": ["B01", "B02", "B03", "B07"], "excluded": []},
    "commitment": {"commitment": "c"},
    "pool": POOL,
    "draw": DRAW,
}


def test_a_tender_without_its_lots_and_bids_stalls_with_a_sentence() -> None:
    """A tender filed without a spec cannot be evaluated; the planner reads why."""
    (command,) = next_commands(_view(None))
    assert isinstance(command, Transition) and command.action == "stall"
    assert command.reason == NO_SPEC


@pytest.mark.parametrize(
    ("facts", "step"),
    [
        ({}, "qualify"),
        ({"qualification": DRAWN["qualification"]}, "commit"),
        ({"qualification": DRAWN["qualification"], "commitment": {"commitment": "c"}}, "fix_pool"),
    ],
)
def test_the_seed_is_committed_after_qualification_and_before_the_pool(facts, step) -> None:
    """Qualification, then the commitment, then the pool: the seed exists before the pool."""
    (command,) = next_commands(_view(_record(**facts)))
    assert isinstance(command, TenderStep) and command.step == step


def test_no_qualified_bid_stalls() -> None:
    """With every bidder excluded the tender stalls, pointing at the exclusions."""
    (command,) = next_commands(_view(_record(qualification={"qualified": [], "excluded": []})))
    assert isinstance(command, Transition) and command.action == "stall"
    assert "No bid qualified" in (command.reason or "")


def test_a_pool_smaller_than_panel_and_alternates_stalls() -> None:
    """Five eligible experts cannot fill a panel of five with three alternates."""
    small = {"members": POOL["members"][:5]}
    record = _record(**{**DRAWN, "pool": small, "draw": None})
    (command,) = next_commands(_view(record))
    assert isinstance(command, Transition) and command.action == "stall"
    assert "Only 5 experts are eligible" in (command.reason or "")


def test_the_witness_is_asked_then_the_draw_uses_their_value() -> None:
    """After the pool, a witness of the class's body is asked; their value starts the draw."""
    record = _record(**{**DRAWN, "draw": None})
    (ask,) = next_commands(_view(record))
    assert isinstance(ask, Assign) and ask.kind is TaskKind.WITNESS
    assert ask.candidates == ("notary-sun",)
    task = _task(1, TaskKind.WITNESS, "notary-sun")
    (wait,) = next_commands(_view(record, [task]))
    assert isinstance(wait, Wait)
    done = task.model_copy(update={"status": TaskStatus.ANSWERED})
    (draw,) = next_commands(_view(record, [done], {done.id: WitnessEntry(value=" 04117 ")}))
    assert isinstance(draw, TenderStep) and draw.step == "draw"
    assert draw.params == {"witness": "04117"}


def test_without_a_witness_the_tender_stalls_saying_how_to_register_one() -> None:
    """Nobody may witness: the stall names the body and the command that fixes it."""
    record = _record(**{**DRAWN, "draw": None})
    view = DecisionView(_decision(), load_classes().get("tender"), actors=(), tender=record)
    (command,) = next_commands(view)
    assert isinstance(command, Transition) and command.action == "stall"
    assert "--role witness --body district-notary-office" in (command.reason or "")


def test_each_seat_with_lots_is_asked_to_score_and_a_seat_without_lots_is_not() -> None:
    """The drawn members with lots get scoring tasks; a member given no lot gets none."""
    commands = next_commands(_view(_record(**DRAWN)))
    assert all(isinstance(c, Assign) and c.kind is TaskKind.SCORE for c in commands)
    assert [c.candidates[0] for c in commands] == ["e001", "e002", "e003", "e004", "e005"]
    no_lot = {**DRAW, "lots": {"L1": ["e001", "e002", "e003"], "L2": ["e002", "e003", "e004"]}}
    commands = next_commands(_view(_record(**{**DRAWN, "draw": no_lot})))
    assert [c.candidates[0] for c in commands] == ["e001", "e002", "e003", "e004"]


def _scored(declining: set[str] = frozenset(), refused: frozenset[str] = frozenset()):
    tasks, answers = [], {}
    for n, member in enumerate(DRAW["panel"], start=1):
        if member in refused:
            continue
        task = _task(n, TaskKind.SCORE, member, TaskStatus.ANSWERED)
        tasks.append(task)
        answers[task.id] = (
            Declination(reason="I advised a bidder.")
            if member in declining
            else BidScores(scores={}, rationale="scored")
        )
    return tasks, answers


def test_a_declining_evaluator_is_replaced_and_the_replacement_scores() -> None:
    """A declination asks for the next alternate; once recorded, the replacement is asked."""
    tasks, answers = _scored({"e002"})
    (replace,) = next_commands(_view(_record(**DRAWN), tasks, answers))
    assert isinstance(replace, TenderStep) and replace.step == "replace"
    assert replace.params == {"declined": ["e002"]}
    replaced = {"declined": ["e002"], "replacements": {"e002": "e006"}}
    (ask,) = next_commands(_view(_record(**DRAWN, replacements=replaced), tasks, answers))
    assert isinstance(ask, Assign) and ask.candidates == ("e006",)


def test_an_assignment_the_powers_refuse_counts_as_declined() -> None:
    """A drawn expert the separation of powers refuses is replaced like one who declines."""
    tasks, answers = _scored(refused=frozenset({"e003"}))
    (ask,) = next_commands(_view(_record(**DRAWN), tasks, answers))
    assert isinstance(ask, Assign) and ask.candidates == ("e003",)
    view = _view(_record(**DRAWN), tasks, answers, refused=frozenset(ask.keys))
    (replace,) = next_commands(view)
    assert isinstance(replace, TenderStep) and replace.params == {"declined": ["e003"]}


def test_once_every_seat_has_scored_the_bids_are_ranked_the_seed_revealed_then_discussed() -> None:
    """Rank (with every evaluator's scores), then reveal, then open the discussion."""
    tasks, answers = _scored()
    (rank,) = next_commands(_view(_record(**DRAWN), tasks, answers))
    assert isinstance(rank, TenderStep) and rank.step == "rank"
    assert set(rank.params["scores"]) == set(DRAW["panel"])
    ranked = {"round": 1, "ranking": {"lots": []}}
    (reveal,) = next_commands(_view(_record(**DRAWN, ranking=ranked), tasks, answers))
    assert isinstance(reveal, TenderStep) and reveal.step == "reveal"
    done = _record(**DRAWN, ranking=ranked, revealed={"server_seed": "s"})
    (discuss,) = next_commands(_view(done, tasks, answers))
    assert isinstance(discuss, Transition) and discuss.action == "open_discussion"


def test_winners_execute_the_lots_they_won_named_by_street_office() -> None:
    """The latest ranking's winners, by bidder, with their lots' street offices and names."""
    ranked = {
        "round": 1,
        "ranking": {
            "lots": [
                {"lot": "L1", "winner": "B03"},
                {"lot": "L3", "winner": "B03"},
                {"lot": "L2", "winner": "B02"},
            ]
        },
    }
    won = winners(_view(_record(**DRAWN, ranking=ranked)))
    assert won == {
        "jiejing": ("西城街道 西城老城区街巷",),
        "lvyuan": ("东湖街道 东湖路、湖滨大道及周边支路", "南苑街道 南苑新区道路"),
    }


def test_a_scoring_task_cancelled_at_its_deadline_is_replaced_like_a_declination() -> None:
    """The deadline sweep cancels an unanswered scoring task; its seat goes to an alternate."""
    tasks, answers = _scored()
    late = tasks[1].model_copy(update={"status": TaskStatus.CANCELLED})
    del answers[late.id]
    tasks[1] = late
    (replace,) = next_commands(_view(_record(**DRAWN), tasks, answers))
    assert isinstance(replace, TenderStep) and replace.params == {"declined": ["e002"]}


def test_more_declinations_than_alternates_stall_the_tender() -> None:
    """Three alternates fill three declined seats; a fourth declination stalls, saying why."""
    tasks, answers = _scored({"e001", "e002", "e003", "e004"})
    (command,) = next_commands(_view(_record(**DRAWN), tasks, answers))
    assert isinstance(command, Transition) and command.action == "stall"
    assert "4 drawn evaluators declined" in (command.reason or "")
    assert "3 alternates" in (command.reason or "")
