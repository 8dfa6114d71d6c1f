"""The ``counsel`` command as a user runs it, on real databases.

The demos run as processes of their own, as `make demo` runs them (they start Prefect); the
other commands run in-process through the console script's ``cli.app.main``
(:mod:`tests.inprocess`), which reads the same environment and exits with the same status,
at a few milliseconds a command instead of most of a second. That the everyday commands
start as processes without loading Prefect is ``test_cli_start.py``'s to check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from decisions import services
from decisions.classes import load_classes
from decisions.db import make_engine
from decisions.uow import UnitOfWork
from experts.sample import load_sample
from experts.store import save_expertise
from tests.inprocess import invoke
from tests.integration.decisions.conftest import World, chain_unprotected

#: A guard against a hung command, not a target: a command's speed is bench/'s to measure.
HANG_S = 120


def counsel(
    url: str,
    *args: str,
    token: str | None = None,
    home: Path | None = None,
    hang_s: float = HANG_S,
) -> subprocess.CompletedProcess[str]:
    """``counsel *args`` with the store at ``url`` and no other ``COUNSEL_*`` setting; a
    demo in a process of its own, anything else in-process. A traceback escaping the
    command is its stderr, as it would be a process's."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("COUNSEL_")}
    env.update(COUNSEL_DATABASE_URL=url, COLUMNS="200")
    if token:
        env["COUNSEL_TOKEN"] = token
    if home:
        env["COUNSEL_HOME"] = str(home)
    if args[:1] == ("demo",):
        kept = {k: v for k, v in os.environ.items() if not k.startswith("COUNSEL_")}
        return subprocess.run(
            [sys.executable, "-m", "cli", *args],
            capture_output=True,
            text=True,
            env={**kept, **{k: v for k, v in env.items() if v is not None}},
            timeout=hang_s,
            check=False,
        )
    done = invoke(*args, env=env)
    # as a process ends: an escaped exception or `sys.exit("text")` is 1, `sys.exit()` is 0
    if done.raised is not None:
        code = 1
    else:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return subprocess.CompletedProcess(
        ["counsel", *args], code, done.out, done.err + (done.raised or "")
    )


def assert_refused(result: subprocess.CompletedProcess[str], sentence: str) -> None:
    assert result.returncode == 1, result
    assert sentence in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def url_of(world: World) -> str:
    return world.engine.url.render_as_string(hide_password=False)


def with_sample_expertise(world: World) -> None:
    """Put the sample expertise database in the world's store, as `experts import` would."""
    with UnitOfWork(world.engine) as uow:
        save_expertise(uow.session, load_sample())


def test_init_creates_then_reports_up_to_date(tmp_path: Path) -> None:
    """`counsel init` creates the schema once and afterwards says it is up to date."""
    url = f"sqlite:///{tmp_path}/new.db"
    assert_refused(counsel(url, "actors", "list"), "run `counsel init` first")
    first = counsel(url, "init")
    assert first.returncode == 0 and "Created the Counsel database" in first.stdout
    second = counsel(url, "init")
    assert second.returncode == 0 and "is up to date" in second.stdout


def test_actor_token_is_shown_once_and_works(world: World) -> None:
    """The printed token authenticates its actor; a duplicate id is refused in one sentence."""
    url = url_of(world)
    added = counsel(
        url,
        "actors",
        "add",
        "sun-li",
        "--name",
        "孙丽",
        "--role",
        "expert",
        "--org",
        "east-law-firm",
    )
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("cns_")
    assert services.authenticate(world.engine, token).name == "孙丽"
    listing = counsel(url, "actors", "list", "--role", "expert")
    assert "sun-li" in listing.stdout and "li-wei" not in listing.stdout
    assert_refused(
        counsel(url, "actors", "add", "sun-li", "--name", "x", "--role", "expert"),
        "An actor with id 'sun-li' already exists.",
    )
    with world.engine.connect() as conn:
        by = conn.execute(
            text("SELECT actor FROM audit_events WHERE action = 'actor.added' ORDER BY seq DESC")
        ).first()
    assert by is not None and str(by[0]).startswith("local-admin:")


def test_history_json_lists_the_decisions_events(world: World) -> None:
    """`counsel history D --json` prints one JSON object per event with its payload."""
    result = counsel(url_of(world), "history", world.decision.id, "--json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["action"] for e in events] == ["decision.submitted", "decision.consultation_started"]
    assert events[0]["payload"]["title"] == "道路保洁市场化：建设路与人民街"
    table = counsel(url_of(world), "history", world.decision.id)
    assert "decision.consultation_started" in table.stdout
    assert_refused(
        counsel(url_of(world), "history", "D-2026-9999"), "There is no decision 'D-2026-9999'."
    )


def test_export_anchor_then_verify_and_detect_truncation(world: World, tmp_path: Path) -> None:
    """An export ends with the head anchor; verify passes against it until the tail is cut."""
    url = url_of(world)
    export = tmp_path / "audit.jsonl"
    done = counsel(url, "audit", "export", str(export))
    assert done.returncode == 0, done.stderr
    lines = export.read_text(encoding="utf-8").splitlines()
    anchor = json.loads(lines[-1])["anchor"]
    assert anchor["count"] == len(lines) - 1
    assert anchor["head_hash"] == json.loads(lines[-2])["hash"]
    assert_refused(counsel(url, "audit", "export", str(export)), "already exists")
    ok = counsel(url, "audit", "verify", "--anchor", str(export), "--decision", world.decision.id)
    assert ok.returncode == 0 and "The audit chain verified" in ok.stdout
    assert f"Decision {world.decision.id}: 2 events, all intact." in ok.stdout
    with chain_unprotected(world.engine) as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = :n"), {"n": anchor["count"]})
    assert counsel(url, "audit", "verify").returncode == 0
    assert_refused(
        counsel(url, "audit", "verify", "--anchor", str(export)),
        f"anchored at {anchor['count']} events: 1 event(s) are missing",
    )


def test_verify_names_a_tampered_event(world: World) -> None:
    """A changed actor makes `counsel audit verify` fail and name the event."""
    with chain_unprotected(world.engine) as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
    result = counsel(url_of(world), "audit", "verify")
    assert_refused(result, "The audit chain is broken at event 2")
    assert "event 2 was altered" in result.stderr


def test_bad_anchor_file_is_a_sentence(world: World, tmp_path: Path) -> None:
    """A file that is not an export is refused without a traceback."""
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello\n", encoding="utf-8")
    assert_refused(
        counsel(url_of(world), "audit", "verify", "--anchor", str(bogus)),
        "does not end with a head anchor line",
    )


@pytest.mark.slow
def test_demo_runs_and_verifies(tmp_path: Path) -> None:
    """`counsel demo` carries one decision through all four stages and verifies the chain."""
    # a generous hang guard: how long it takes is README's figure, not this test's
    result = counsel(f"sqlite:///{tmp_path}/unused.db", "demo", home=tmp_path, hang_s=900)
    assert result.returncode == 0, result.stderr
    assert "The audit chain verified" in result.stdout
    assert "is closed." in result.stdout
    assert "refused" in result.stdout  # the conflicted expert, the bad rating, the expert's vote
    # people are told, and answer on the answer page from the links in their messages
    assert "✉ li-wei" in result.stdout and "/t/" in result.stdout
    assert "refused on the answer page" in result.stdout
    assert "task.answered.vote" in result.stdout


@pytest.mark.slow
def test_tender_demo_runs_and_its_draw_checks_out(tmp_path: Path) -> None:
    """`counsel demo --tender` qualifies the bidders (two excluded, each with its rule),
    draws the panel with the notary's value, replaces the evaluator who declines, ranks
    the bids, awards them and closes; `counsel audit check-draw` then agrees, and says in a
    sentence that a decision without a tender has no draw."""
    result = counsel(
        f"sqlite:///{tmp_path}/unused.db", "demo", "--tender", home=tmp_path, hang_s=900
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "excluded huanyu (min-sweepers); xinda (not-blacklisted)" in out
    assert "tender.panel_drawn" in out and "witness (2026)沪东证字第 04117 号" in out
    assert "task.answered.declination" in out and "tender.replaced" in out
    assert "tender.ranked" in out and "tender.seed_revealed" in out
    assert "is closed." in out and "The audit chain verified" in out
    store = next((tmp_path / "demo").glob("*/counsel.db"))
    checked = counsel(f"sqlite:///{store}", "audit", "check-draw", "D-2026-0001")
    assert checked.returncode == 0, checked.stderr
    assert "The draw of D-2026-0001 matches" in checked.stdout
    engine = make_engine(f"sqlite:///{store}")
    try:
        services.add_actor(engine, actor_id="li-two", name="Li", roles=["planner"], by="test")
        other = services.submit_proposal(
            engine,
            services.Proposal.model_validate(
                {
                    "title": "Not a tender",
                    "description": "Adjust a schedule.",
                    "class": "standard",
                    "district": "east-district",
                    "topics": ["street-cleaning"],
                }
            ),
            planner=services.get_actor(engine, "li-two"),
            classes=load_classes(),
        )
    finally:
        engine.dispose()
    assert_refused(
        counsel(f"sqlite:///{store}", "audit", "check-draw", other.id),
        f"Decision {other.id} has no tender",
    )
    # whoever rewrites the recorded panel in the database is caught twice over
    engine = make_engine(f"sqlite:///{store}")
    try:
        with chain_unprotected(engine) as conn:
            seq, payload = conn.execute(
                text("SELECT seq, payload FROM audit_events WHERE action = 'tender.panel_drawn'")
            ).one()
            drawn = json.loads(payload)
            drawn["panel"] = [drawn["alternates"][0], *drawn["panel"][1:]]
            conn.execute(
                text("UPDATE audit_events SET payload = :p WHERE seq = :n"),
                {"p": json.dumps(drawn, ensure_ascii=False), "n": seq},
            )
    finally:
        engine.dispose()
    tampered = counsel(f"sqlite:///{store}", "audit", "check-draw", "D-2026-0001")
    assert tampered.returncode == 1
    assert f"The audit chain is broken at event {seq}" in tampered.stderr
    assert "panel" in tampered.stderr.split("broken", 1)[1]


def test_a_task_worker_without_a_prefect_server_says_where_to_find_one(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)  # the child inherits the environment
    assert_refused(counsel(url_of(world), "task-worker"), "PREFECT_API_URL is not set")


def test_planner_and_expert_work_from_the_command_line(world: World, tmp_path: Path) -> None:
    """A planner files a proposal and reads its status; an expert lists their task with its
    code, answers it once, is told a repeat was already recorded, and cannot answer
    someone else's task."""
    url = url_of(world)
    with_sample_expertise(world)
    proposal = tmp_path / "proposal.yaml"
    proposal.write_text(
        "title: Redraw cleaning zones 3 and 4\ndescription: Merge two zones.\nclass: standard\n"
        "district: middle-district\ntopics: [cleaning-zones]\n",
        encoding="utf-8",
    )
    filed = counsel(url, "submit", str(proposal), "--no-run", token=world.planner_token)
    assert filed.returncode == 0, filed.stderr
    decision_id = filed.stdout.split()[1].rstrip(":")
    again = counsel(url, "submit", str(proposal), "--no-run", token=world.planner_token)
    # the same file filed twice is one decision
    assert again.stdout.split()[1].rstrip(":") == decision_id
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: x\nclass: standard\n", encoding="utf-8")
    assert_refused(
        counsel(url, "submit", str(bad), token=world.planner_token), "description: Field required"
    )

    services.apply_transition(world.engine, decision_id, "start_consultation")
    task = services.assign_task(world.engine, decision_id, "consult", "expert-1").task
    token = services.issue_token(world.engine, "expert-1")
    status = counsel(url, "status", decision_id)
    assert "State: consulting, consultation round 1" in status.stdout
    assert task.id in status.stdout and "open" in status.stdout
    listing = counsel(url, "tasks", token=token)
    assert task.id in listing.stdout
    criteria = load_classes().get("standard").criteria
    assert "criteria to rate 1-9: " + ", ".join(f"rating_{c}" for c in criteria) in listing.stdout
    assert services.answer_code_for(world.engine, task.id) in listing.stdout

    answer = tmp_path / "answer.yaml"
    ratings = "".join(f"rating_{c}: 6\n" for c in load_classes().get("standard").criteria)
    answer.write_text(
        f"recommendation: approve\nrationale: Zones 3 and 4 share a depot.\n{ratings}",
        encoding="utf-8",
    )
    first = counsel(url, "answer", task.id, "--file", str(answer), token=token)
    assert first.returncode == 0 and "Recorded: your answer" in first.stdout, first.stderr
    repeat = counsel(url, "answer", task.id, "--file", str(answer), token=token)
    assert "Already recorded" in repeat.stdout
    other = services.issue_token(world.engine, "expert-2")
    assert_refused(
        counsel(url, "answer", task.id, "--file", str(answer), token=other),
        f"Task {task.id} is assigned to expert-1, not to expert-2.",
    )
    assert_refused(
        counsel(
            url, "answer", task.id, "--set", "rating_cost=12", "--file", str(answer), token=token
        ),
        "rating_cost: Input should be less than or equal to 9",
    )
    assert_refused(counsel(url, "tasks"), "No token given: set COUNSEL_TOKEN")

    report = services.assign_task(
        world.engine, decision_id, "execute", "street-office", measures=("Night shift",)
    ).task
    office = counsel(url, "tasks", token=services.issue_token(world.engine, "street-office"))
    assert report.id in office.stdout
    assert "measures_done (one text: the measures completed, one per line)" in office.stdout
    assert "measure: Night shift" in office.stdout


def _store_size(world: World) -> tuple[int, int]:
    return len(services.list_decisions(world.engine)), services.verify(world.engine).count


def test_submit_checks_every_reference_and_writes_nothing_on_a_mistake(
    world: World, tmp_path: Path
) -> None:
    """An unknown class, district and topic and a misspelt organisation are all named with
    suggestions in one refusal, and nothing is filed; a district's name is taken for its id."""
    url = url_of(world)
    with_sample_expertise(world)
    before = _store_size(world)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "title: Pilot\ndescription: Two roads.\nclass: majr\ndistrict: east-distrct\n"
        "topics: [street-cleanin]\nstakeholders: [city-urban-managment-bureau]\n",
        encoding="utf-8",
    )
    result = counsel(url, "submit", str(bad), "--no-run", token=world.planner_token)
    assert_refused(result, "cannot be filed: There is no decision class 'majr'; did you mean")
    for sentence in (
        "The district 'east-distrct' is not in the expertise database; did you mean "
        "'east-district'",
        "The topic 'street-cleanin' is not in the expertise database; did you mean "
        "'street-cleaning'",
        "looks like 'city-urban-management-bureau'",
    ):
        assert sentence in result.stderr
    assert _store_size(world) == before
    named = tmp_path / "named.yaml"
    named.write_text(
        "title: Pilot\ndescription: Two roads.\nclass: standard\ndistrict: 东区\n"
        "topics: [street-cleaning]\nbidders: [a-company-new-to-the-database]\n",
        encoding="utf-8",
    )
    filed = counsel(url, "submit", str(named), "--no-run", token=world.planner_token)
    assert filed.returncode == 0, filed.stderr
    decision_id = filed.stdout.split()[1].rstrip(":")
    assert services.get_decision(world.engine, decision_id).district == "east-district"


@pytest.mark.parametrize(
    ("rationale", "sentence"),
    [
        ("ok\x00", "contains NUL U+0000 at character 3"),
        ("exe.\u202etxt", "contains the bidirectional control U+202E at character 5"),
        ("x" * 1_000_000, "rationale: String should have at most 20000 characters"),
    ],
    ids=["nul", "bidi-override", "one-megabyte"],
)
def test_answers_breaking_the_text_policy_are_refused_and_not_recorded(
    world: World, tmp_path: Path, rationale: str, sentence: str
) -> None:
    """A rationale with a NUL, a bidi override or a megabyte of text is refused with a
    sentence, and the store records nothing."""
    url = url_of(world)
    task = services.assign_task(world.engine, world.decision.id, "consult", "expert-1").task
    token = services.issue_token(world.engine, "expert-1")
    before = services.verify(world.engine).count
    answer = tmp_path / "answer.yaml"
    ratings = {f"rating_{c}": 5 for c in load_classes().get("major", "east").criteria}
    answer.write_text(
        json.dumps({"recommendation": "approve", "rationale": rationale, **ratings}),
        encoding="utf-8",
    )
    assert_refused(counsel(url, "answer", task.id, "--file", str(answer), token=token), sentence)
    assert services.verify(world.engine).count == before
    assert services.answer_for(world.engine, task.id) is None


def test_a_wrong_code_for_an_answered_task_says_it_is_answered(world: World) -> None:
    """Once a task is answered, a wrong answer code is told the task takes no more answers,
    not that it is still open."""
    from decisions.exceptions import TaskError
    from decisions.model import Opinion

    task = services.assign_task(world.engine, world.decision.id, "consult", "expert-2").task
    criteria = load_classes().get("major", "east").criteria
    opinion = Opinion(
        recommendation="approve", ratings={c: 6 for c in criteria}, rationale="Sound."
    )
    services.record_answer(
        world.engine,
        task.id,
        opinion,
        actor=world.experts[2],
        answer_code=services.answer_code_for(world.engine, task.id),
        criteria=criteria,
        idempotency_key="answer-once",
    )
    with pytest.raises(TaskError, match="is answered and takes no more answers"):
        services.record_answer(
            world.engine,
            task.id,
            opinion,
            actor=world.experts[2],
            answer_code="XXXXX-XXXXX",
            criteria=criteria,
            idempotency_key="answer-twice",
        )


def test_a_stalled_decision_shows_its_cause_and_its_planner_resumes_it(world: World) -> None:
    """`counsel status` names why a decision stalled and what to do; another planner may not
    resume it, its own planner may, and it is back in the stage it stalled in."""
    url = url_of(world)
    reason = "The consultation stage failed: disk full. Once the cause is fixed, resume."
    services.apply_transition(world.engine, world.decision.id, "stall", reason=reason)
    status = counsel(url, "status", world.decision.id)
    assert f"State: stalled in consulting, consultation round 1 — {reason}" in status.stdout
    assert f"`counsel resume {world.decision.id}`" in status.stdout
    _, other = services.add_actor(world.engine, actor_id="zhou-min", name="周敏", roles=["planner"])
    assert_refused(
        counsel(url, "resume", world.decision.id, token=other),
        f"Only the planner who filed decision {world.decision.id} or a manager may resume it",
    )
    resumed = counsel(url, "resume", world.decision.id, token=world.planner_token)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{world.decision.id} is consulting again (it stalled: {reason})" in resumed.stdout
    assert services.get_decision(world.engine, world.decision.id).state.value == "consulting"


def test_status_shows_markup_typed_into_a_title_as_text(world: World, tmp_path: Path) -> None:
    """Rich markup typed into a proposal is printed as typed, not interpreted."""
    url = url_of(world)
    with_sample_expertise(world)
    proposal = tmp_path / "markup.yaml"
    proposal.write_text(
        "title: '[link=http://evil]Click[/link] [red]urgent[/red]'\ndescription: x\n"
        "class: standard\ndistrict: east-district\ntopics: [street-cleaning]\n",
        encoding="utf-8",
    )
    filed = counsel(url, "submit", str(proposal), "--no-run", token=world.planner_token)
    assert "[link=http://evil]Click[/link] [red]urgent[/red]" in filed.stdout, filed.stderr
    decision_id = filed.stdout.split()[1].rstrip(":")
    status = counsel(url, "status", decision_id)
    assert "[link=http://evil]Click[/link] [red]urgent[/red]" in status.stdout
    assert "How it got here" in status.stdout and "submitted" in status.stdout


def test_status_says_why_a_round_followed_another_and_how_a_decision_ended(
    world: World,
) -> None:
    """The status of a decision lists its steps: the aggregate without consensus before the
    next round, the tally, and the final state."""
    url = url_of(world)
    engine, decision_id = world.engine, world.decision.id
    services.append_event(
        engine,
        actor=services.SYSTEM,
        action="consultation.round_aggregated",
        decision_id=decision_id,
        payload={"round": 1, "consensus": False, "iqr": {"cost": 2.0, "feasibility": 1.0}},
        idempotency_key="aggregate-1",
    )
    services.apply_transition(engine, decision_id, "next_round")
    for move in ("open_discussion", "open_vote"):
        services.apply_transition(engine, decision_id, move)
    services.append_event(
        engine,
        actor=services.SYSTEM,
        action="vote.tallied",
        decision_id=decision_id,
        payload={"outcome": "reject", "in_favour": 1, "cast": 5},
        idempotency_key="tally-1",
    )
    services.apply_transition(engine, decision_id, "reject")
    status = counsel(url, "status", decision_id).stdout
    order = [
        "round 1: no consensus (IQR cost 2, feasibility 1)",
        "round_started",
        "round 2",
        "reject: 1 of 5 in favour",
        "deciding to rejected",
    ]
    story = status[status.index("How it got here") :]
    at = 0
    for step in order:
        at = story.find(step, at)
        assert at >= 0, (step, status)


def test_contacts_are_set_and_listed_but_never_written_into_the_chain(world: World) -> None:
    """An actor's Apprise addresses and language are kept; the audit chain names only the
    kinds of address (a bot key is a secret); a bad address changes nothing."""
    url = url_of(world)
    key = "wecombot://0123456789abcdef"
    added = counsel(
        url,
        *("actors", "add", "zhao-min", "--name", "赵敏", "--role", "expert"),
        *("--notify", "mailto://zhao@example.cn", "--notify", key, "--lang", "en"),
    )
    assert added.returncode == 0, added.stderr
    actor = services.get_actor(world.engine, "zhao-min")
    assert actor.notify == ("mailto://zhao@example.cn", key) and actor.lang == "en"
    listing = counsel(url, "actors", "list", "--role", "expert")
    assert "mailto, wecombot" in listing.stdout
    assert_refused(
        counsel(url, "actors", "contacts", "zhao-min", "--notify", "not an address"),
        "a notification address is an Apprise URL",
    )
    assert_refused(
        counsel(url, "actors", "contacts", "zhao-min", "--lang", "fr"),
        "zh",
    )
    assert services.get_actor(world.engine, "zhao-min").notify == actor.notify
    changed = counsel(url, "actors", "contacts", "zhao-min", "--notify", "json://127.0.0.1:9/h")
    assert changed.returncode == 0, changed.stderr
    assert "told of their tasks by json, in zh" in changed.stdout
    with world.engine.connect() as conn:
        payloads = conn.execute(
            text("SELECT payload FROM audit_events WHERE payload LIKE '%zhao-min%'")
        ).scalars()
        chain = " ".join(payloads)
    assert "wecombot" in chain and key not in chain and "zhao@example.cn" not in chain
