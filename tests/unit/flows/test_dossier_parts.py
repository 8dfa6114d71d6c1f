"""The dossier's parts, from records built in memory: where a decision stands and the name
its step run ends with, the waiting list, the stage links, who was kept out, the votes and
recusals, the chain's line, escaping, the UI's addresses and the events' names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from markdown_it import MarkdownIt

from decisions.audit import AuditEvent, canonical_json
from decisions.model import (
    EVENT_NAMES,
    Decision,
    Opinion,
    Recusal,
    State,
    Task,
    TaskKind,
    TaskStatus,
    Vote,
    utcnow,
)
from decisions.progress import RoundRecord, Routing, Slot
from decisions.services import DecisionRecord, EventsCheck
from flows.dossier import dossier_markdown, local_time, standing, step_state
from flows.publishing import (
    artifact_key,
    emit_transition,
    md_inline,
    transition_action,
    ui_url,
)

ZONE = ZoneInfo("Asia/Shanghai")
DID = "D-2026-0007"
NOW = utcnow()
DUE = NOW + timedelta(days=2)
UI = "http://prefect.example:4200"
RENDER = MarkdownIt("commonmark").enable("table")
#: Markup a person might type into any field the dossier shows.
ATTACK = "![x](http://evil.example/i.png) [click](http://evil.example) <script>x</script> | # h"
NAMES = {
    "li-wei": "李伟",
    "e031": "孟艳",
    "e027": "罗建国",
    "e026": "魏敏",
    "e067": "熊娟",
    "e070": "石磊",
    "lin-tao": "林涛",
    "wu-gang": "吴刚",
    "feng-yan": "冯燕",
    "gao-yu": "高宇",
}
LETTER = {TaskKind.CONSULT: "C", TaskKind.VOTE: "V", TaskKind.DISCUSS: "D"}


@pytest.fixture(autouse=True)
def prefect_ui() -> Iterator[None]:
    from prefect.settings import PREFECT_UI_URL, temporary_settings

    with temporary_settings({PREFECT_UI_URL: UI}):
        yield


def decision(state: State = State.CONSULTING, **changes: Any) -> Decision:
    filed = Decision.file(
        id=DID,
        title="Two streets",
        description="Clean them.",
        class_name="standard",
        district="east-district",
        planner_id="li-wei",
    )
    return filed.model_copy(update={"state": state, "round": 2, **changes})


def task(
    number: int,
    kind: TaskKind,
    who: str,
    status: TaskStatus = TaskStatus.OPEN,
    *,
    round: int = 2,
    deadline: Any = DUE,
    closed_at: Any = None,
) -> Task:
    return Task(
        id=f"{DID}-{LETTER[kind]}{number:03}",
        decision_id=DID,
        kind=kind,
        assignee_id=who,
        round=round,
        deadline=deadline,
        status=status,
        answer_code_hash="x",
        closed_at=closed_at,
    )


def event(seq: int, action: str, actor: str = "system", **data: Any) -> AuditEvent:
    return AuditEvent(
        seq,
        "2026-11-30T01:00:00.000000Z",
        actor,
        action,
        DID,
        None,
        canonical_json(data),
        "0" * 64,
        f"{seq:064x}",
    )


def record(the: Decision, **parts: Any) -> DecisionRecord:
    events = tuple(parts.pop("events", ()))
    given: dict[str, Any] = {
        "tasks": (),
        "answers": {},
        "names": NAMES,
        "routings": (),
        "rounds": (),
        "cycles": (),
        "events": events,
        "check": EventsCheck(len(events), True),
        "head": (120, "ab" * 32),
    }
    given.update(parts)
    return DecisionRecord(decision=the, **given)


def opinion() -> Opinion:
    return Opinion(recommendation="approve", ratings={"cost": 7}, rationale="fine")


def round_two() -> DecisionRecord:
    """Consultation round 2: two answered, one open, one overdue, one passed to an
    alternate whose replacement is open — three of five answers still to come."""
    tasks = (
        task(6, TaskKind.CONSULT, "e031", TaskStatus.ANSWERED, closed_at=NOW),
        task(7, TaskKind.CONSULT, "e027", TaskStatus.ANSWERED, closed_at=NOW),
        task(8, TaskKind.CONSULT, "e026"),
        task(9, TaskKind.CONSULT, "e067", deadline=NOW - timedelta(hours=1)),
        task(10, TaskKind.CONSULT, "e012", TaskStatus.REASSIGNED),
        task(11, TaskKind.CONSULT, "e070"),
        task(1, TaskKind.CONSULT, "e031", TaskStatus.ANSWERED, round=1, closed_at=NOW),
    )
    answers = {t.id: opinion() for t in tasks if t.status is TaskStatus.ANSWERED}
    return record(decision(), tasks=tasks, answers=answers)


# -- where it stands, and the step's state --------------------------------------------------


def test_a_waiting_step_is_named_for_the_answers_it_still_waits_for() -> None:
    """Three of five answers open (a task passed on counts as its replacement): the step is
    "Waiting for 3 of 5 answers", its message names them and the first deadline, locally."""
    where = standing(round_two(), ZONE)
    assert where.name == "Waiting for 3 of 5 answers"
    assert "魏敏 (e026), 熊娟 (e067), 石磊 (e070)" in where.message
    first_due = local_time(NOW - timedelta(hours=1), ZONE)
    assert f"the first due by {first_due} (Asia/Shanghai)" in where.message
    assert where.headline.startswith("Consulting, round 2: waiting for 3 of 5 answers")


@pytest.mark.parametrize(
    ("state", "changes", "name", "why"),
    [
        (State.CLOSED, {}, "Closed: approved", "The work was executed and accepted."),
        (State.REJECTED, {}, "Closed: rejected", "The vote rejected it."),
        (State.WITHDRAWN, {"state_reason": "No budget."}, "Closed: withdrawn", "No budget."),
        (State.STALLED, {"state_reason": "Quorum missed."}, "Stalled", "Quorum missed."),
    ],
)
def test_a_decision_at_rest_names_its_step_for_what_became_of_it(
    state: State, changes: dict[str, Any], name: str, why: str
) -> None:
    """A closed, rejected, withdrawn or stalled decision's last step is named for it, the
    message saying why."""
    where = standing(record(decision(state, **changes)), ZONE)
    assert where.name == name and where.waiting == ()
    assert where.message == f"{DID}: {name}. {why}"


def test_a_decision_approved_with_amendments_closes_so_named_and_a_rejection_gives_its_tally() -> (
    None
):
    """The approval's amendments and the vote's tally come from the history."""
    amended = record(
        decision(State.CLOSED), events=[event(9, "decision.approved", with_amendments=True)]
    )
    assert standing(amended, ZONE).name == "Closed: approved with amendments"
    tally = {
        "outcome": "reject",
        "body_size": 4,
        "recused": 0,
        "eligible": 4,
        "cast": 4,
        "needed_for_quorum": 3,
        "counts": {"reject": 3, "approve": 1},
        "in_favour": 1,
        "passed": False,
    }
    rejected = record(decision(State.REJECTED), events=[event(9, "vote.tallied", **tally)])
    assert standing(rejected, ZONE).message.endswith("1 in favour, so the motion failed: reject.")


def test_the_step_state_is_completed_named_and_keeps_the_result_the_callers_read() -> None:
    """The step ends Completed with the standing's name and message, and its data is still
    ``waiting`` (what the flow's caller receives)."""
    state = step_state(round_two(), ZONE, "waiting")
    assert state.is_completed()
    assert state.name == "Waiting for 3 of 5 answers"
    assert state.message and "e026" in state.message
    assert state.data == "waiting"


# -- the dossier ---------------------------------------------------------------------------


def test_the_waiting_list_says_who_has_answered_who_not_and_by_when() -> None:
    """Each task of the open round is a row: answered (when), not yet, overdue, or passed
    to an alternate, with its deadline in the city's time zone; done rounds are not."""
    text = dossier_markdown(round_two(), ZONE)
    rows = {
        m.group(1): line
        for line in text.splitlines()
        if (m := re.search(r"\| (D\\-2026\\-0007\\-C\d+) \|", line))
    }
    c = md_inline(f"{DID}-C")
    assert set(rows) == {f"{c}{n:03}" for n in (6, 7, 8, 9, 10, 11)}
    assert f"yes, {local_time(NOW, ZONE)}" in rows[f"{c}006"]
    assert "**孟艳** (e031)" in rows[f"{c}006"]
    assert "| **not yet** |" in rows[f"{c}008"] and local_time(DUE, ZONE) in rows[f"{c}008"]
    assert "**not yet, overdue**" in rows[f"{c}009"]
    assert "passed to an alternate" in rows[f"{c}010"]
    assert "### Consultation round 2: 3 of 5 still to answer" in text
    assert "due by (Asia/Shanghai)" in text


def test_each_stage_with_a_report_links_to_it_in_the_new_ui() -> None:
    """Stages that have recorded their result link to their report artifact under the UI's
    ``/v2``; the stage under way says so; the history is always linked."""
    rounds = (RoundRecord(round=1, first_round=1, answers=5, consensus=True, concluded=True),)
    events = [
        event(10, "discussion.minuted", positions=6, final_version=1),
        event(11, "decision.vote_opened"),
    ]
    text = dossier_markdown(record(decision(State.DECIDING), rounds=rounds, events=events), ZONE)
    for stage in ("consult", "discuss", "history"):
        key = artifact_key(DID, stage)
        assert f"[{key}]({UI}/v2/artifacts/key/{key})" in text
    assert "| vote | **now, deciding**: under way | none yet |" in text
    assert "| execution | not reached | none yet |" in text
    assert f"[runs]({UI}/v2/runs?tags=decision%3A{DID}&hide-subflows=true)" in text


def test_experts_kept_out_are_named_with_their_rule_and_reason() -> None:
    """The routing's kept-out experts: name, id, the rule as a manager reads it, the
    reason; those beyond the record are counted; a shortfall is said; an older routing's
    conflicts are listed by their reasons."""
    notes = {
        "kept_out": [
            {"expert": "E019", "name": "付平", "rule": "conflict", "reason": "works for a bidder"},
            {"expert": "E033", "name": "高春燕", "rule": "workload", "reason": "3 of 3"},
        ],
        "kept_out_count": 5,
        "shortfall": {"reason": "only 4 of 5 found"},
    }
    routing = Routing(
        first_round=1,
        slots=(
            Slot(number=0, expert="e031", alternates=("e070",), reason="孟艳: covers cleaning"),
        ),
        notes=notes,
    )
    older = Routing(first_round=3, slots=(), notes={"conflicts": ["E044 works for cleanco"]})
    text = dossier_markdown(record(decision(), routings=(routing, older)), ZONE)
    assert "| 付平 (E019) | conflict of interest | works for a bidder |" in text
    assert "| 高春燕 (E033) | at their workload cap | 3 of 3 |" in text
    assert "and 3 more" in text
    assert "**Fewer experts than asked:** only 4 of 5 found" in text
    assert "- **孟艳** (e031): covers cleaning; alternates e070" in text
    # a routing recorded before the kept-out list keeps its conflicts' reasons
    assert "### Experts kept out of the consultation from round 3" in text
    assert "- E044 works for cleanco" in text


def test_every_vote_has_its_rationale_and_every_recusal_its_reason() -> None:
    """Each member's choice and rationale (and justification), a member who recused and
    why, one still to vote with the deadline, and a member the separation of powers
    refused, under the sitting in which it happened; other refusals are listed apart."""
    tasks = (
        task(1, TaskKind.VOTE, "lin-tao", TaskStatus.ANSWERED),
        task(2, TaskKind.VOTE, "wu-gang", TaskStatus.ANSWERED),
        task(3, TaskKind.VOTE, "feng-yan", TaskStatus.ANSWERED),
        task(4, TaskKind.VOTE, "gao-yu"),
    )
    answers = {
        tasks[0].id: Vote(choice="approve", rationale="Consistent with the experts."),
        tasks[1].id: Vote(choice="reject", rationale="Too costly.", justification="Budget cut."),
        tasks[2].id: Recusal(reason="My brother bids."),
    }
    events = [
        event(20, "decision.vote_opened"),
        event(21, "powers.refused", "e031", attempted="vote", reason="She advised on it."),
        event(22, "powers.refused", "e070", attempted="inspect", reason="He executes it."),
    ]
    text = dossier_markdown(
        record(decision(State.DECIDING), tasks=tasks, answers=answers, events=events), ZONE
    )
    assert "### Vote 1 (after consultation round 2)" in text
    assert "- **林涛** (lin\\-tao): approve — Consistent with the experts\\." in text
    assert "- **吴刚** (wu\\-gang): reject — Too costly\\. Justification: Budget cut\\." in text
    assert f"- **高宇** (gao\\-yu): no vote yet (due by {local_time(DUE, ZONE)})" in text
    recusals = text.split("Recusals:")[1].split("##")[0]
    assert "- **冯燕** (feng\\-yan) recused: My brother bids\\." in recusals
    assert "- **孟艳** (e031) may not vote (separation of powers): She advised on it\\." in recusals
    refused = text.split("### Refused by the separation of powers")[1].split("##")[0]
    assert "- **石磊** (e070) may not inspect: He executes it\\." in refused
    assert "e031" not in refused


def test_the_chain_line_gives_this_decisions_events_and_the_chains_head() -> None:
    """Verified: how many of this decision's events, and the head (count, full hash);
    broken: the first bad event's sentence in bold and what to do."""
    good = dossier_markdown(record(decision(), events=[event(5, "decision.submitted")]), ZONE)
    assert "This decision's 1 audit events verify" in good
    assert f"120 events, hash `{'ab' * 32}`" in good
    broken = record(
        decision(),
        check=EventsCheck(3, False, 42, "event 42 was altered: its content no longer matches"),
    )
    text = dossier_markdown(broken, ZONE)
    assert "**This decision's events do not verify: event 42 was altered" in text
    assert "`counsel audit verify`" in text


def test_what_people_typed_cannot_add_markup_to_the_dossier() -> None:
    """Titles, names, rationales, reasons and the expertise database's text render as their
    own text: no image, no foreign link, no HTML, no heading, no extra table cell."""
    names = {**NAMES, "lin-tao": ATTACK, "li-wei": ATTACK}
    tasks = (
        task(1, TaskKind.VOTE, "lin-tao", TaskStatus.ANSWERED),
        task(2, TaskKind.VOTE, "feng-yan", TaskStatus.ANSWERED),
        task(3, TaskKind.VOTE, "gao-yu"),
    )
    answers = {
        tasks[0].id: Vote(choice="approve", rationale=ATTACK, justification=ATTACK),
        tasks[1].id: Recusal(reason=ATTACK + "\n# second line"),
    }
    routing = Routing(
        first_round=1,
        slots=(Slot(number=0, expert="e031", reason=ATTACK),),
        notes={"kept_out": [{"expert": ATTACK, "name": ATTACK, "rule": ATTACK, "reason": ATTACK}]},
    )
    events = [event(30, "powers.refused", "e031", attempted=ATTACK, reason=ATTACK)]
    the = decision(State.DECIDING, title=ATTACK, district=ATTACK)
    the.versions[-1] = the.versions[-1].model_copy(update={"title": ATTACK})
    text = dossier_markdown(
        record(the, tasks=tasks, answers=answers, names=names, routings=(routing,), events=events),
        ZONE,
    )
    rendered = RENDER.render(text)
    assert "<img" not in rendered and "<script>" not in rendered
    hrefs = re.findall(r'href="([^"]*)"', rendered)
    assert hrefs and all(h.startswith(f"{UI}/v2/") for h in hrefs), hrefs
    headings = re.findall(r"<h(\d)>(.*?)</h\1>", rendered)
    assert all("evil" not in h or h.startswith(DID) for _, h in headings), headings
    for table in re.findall(r"<table>.*?</table>", rendered, re.S):
        columns = {
            len(re.findall(r"<t[dh]", row)) for row in re.findall(r"<tr>.*?</tr>", table, re.S)
        }
        assert len(columns) == 1, table


def test_ui_links_open_the_new_ui_of_prefect_3_9() -> None:
    """Links go under ``/v2`` of ``PREFECT_UI_URL`` (once), not under Prefect Cloud's UI,
    and stay relative without a configured UI."""
    from prefect.settings import PREFECT_UI_URL, temporary_settings

    assert ui_url("/runs/flow-run/1") == f"{UI}/v2/runs/flow-run/1"
    with temporary_settings({PREFECT_UI_URL: f"{UI}/v2/"}):
        assert ui_url("/runs/flow-run/1") == f"{UI}/v2/runs/flow-run/1"
    cloud = "https://app.prefect.cloud/account/a/workspace/w"
    with temporary_settings({PREFECT_UI_URL: cloud}):
        assert ui_url("/runs/flow-run/1") == f"{cloud}/runs/flow-run/1"


# -- events --------------------------------------------------------------------------------


@pytest.mark.parametrize("transition", ["start_consultation", "open_discussion", "open_vote"])
def test_a_transitions_event_is_named_as_its_audit_event(transition: str) -> None:
    """The event of a transition is ``counsel.`` and the audit action the lifecycle records
    for it."""
    the = decision(State.SUBMITTED, round=0)
    for step in ("start_consultation", "open_discussion", "open_vote"):
        getattr(the, step)()
        if step == transition:
            break
    assert the.events[-1].name == transition_action(transition)
    assert set(EVENT_NAMES) >= {transition}


def test_a_transitions_event_carries_the_actor_and_the_decision_as_related_resources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``counsel.decision.vote_opened`` relates ``counsel.actor.<id>`` (role actor) and the
    decision (role decision, named by its title); the flow tests watch it reach Prefect."""
    from prefect.events.schemas.events import Event

    import flows.publishing

    sent: list[Event] = []
    monkeypatch.setattr(flows.publishing, "emit_event", lambda **event: sent.append(Event(**event)))
    emit_transition(decision(State.DECIDING), "open_vote", actor="system", round=2)
    (event,) = sent
    assert event.event == "counsel.decision.vote_opened"
    assert event.resource.id == f"counsel.decision.{DID}"
    related = {(r.id, r.role, r.name) for r in event.related}
    assert ("counsel.actor.system", "actor", None) in related
    assert (f"counsel.decision.{DID}", "decision", "Two streets") in related
    assert event.payload["actor"] == "system" and event.payload["state"] == "deciding"
