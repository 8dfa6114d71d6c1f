"""The ``counsel`` command as a user runs it: real processes, real databases."""

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
from tests.integration.decisions.conftest import World, chain_unprotected


def counsel(
    url: str, *args: str, token: str | None = None, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNSEL_")}
    env["COUNSEL_DATABASE_URL"] = url
    env["COLUMNS"] = "200"
    if token:
        env["COUNSEL_TOKEN"] = token
    if home:
        env["COUNSEL_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def assert_refused(result: subprocess.CompletedProcess[str], sentence: str) -> None:
    assert result.returncode == 1, result
    assert sentence in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def url_of(world: World) -> str:
    return world.engine.url.render_as_string(hide_password=False)


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
    result = counsel(f"sqlite:///{tmp_path}/unused.db", "demo", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "The audit chain verified" in result.stdout
    assert "is closed." in result.stdout
    assert "refused" in result.stdout  # the conflicted expert, the wrong code, the expert's vote


def test_planner_and_expert_work_from_the_command_line(world: World, tmp_path: Path) -> None:
    """A planner files a proposal and reads its status; an expert lists their task with its
    code, answers it once, is told a repeat was already recorded, and cannot answer
    someone else's task."""
    url = url_of(world)
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
