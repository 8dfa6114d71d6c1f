"""``counsel experts import`` never loses data: bad files, empty files and unsafe replacements
are refused in one sentence with nothing written, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli.experts import app
from decisions import services
from decisions.classes import load_classes
from decisions.expert_actors import actor_ids_for_experts
from decisions.model import TaskKind, utcnow
from experts.io import dump_yaml_text, write_csv_dir
from experts.model import Expert, ExpertiseData
from experts.sample import load_sample
from experts.store import load_expertise, save_expertise

runner = CliRunner()


@pytest.fixture(scope="module")
def sample() -> ExpertiseData:
    """The shipped sample database."""
    return load_sample()


@pytest.fixture
def stored(
    engine: Engine, db_url: str, sample: ExpertiseData, monkeypatch: pytest.MonkeyPatch
) -> ExpertiseData:
    """A store holding the sample, which the CLI (in this process) is pointed at."""
    monkeypatch.setenv("COUNSEL_DATABASE_URL", db_url)
    with engine.begin() as conn:
        save_expertise(conn, sample)
    return sample


def counsel(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``counsel`` as a user does: a new process on the database at ``url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNSEL_")}
    env |= {"COUNSEL_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def held(engine: Engine) -> ExpertiseData:
    with engine.connect() as conn:
        return load_expertise(conn)


GBK_YAML = (
    "format: counsel-expertise/1\ntopics:\n  - {id: t1, name: 道路清扫}\n"
    "experts:\n  - {id: G1, name: 王芳}\n"
)


def _gbk_csv(root: Path) -> Path:
    folder = root / "gbk"
    folder.mkdir()
    (folder / "topics.csv").write_bytes("id,name,parent\nt1,道路清扫,\n".encode("gb18030"))
    (folder / "experts.csv").write_bytes(
        "id,name,title,available,workload_cap,active_assignments\nG1,王芳,教授,,,\n".encode(
            "gb18030"
        )
    )
    return folder


def _write(name: str, content: bytes | None) -> Callable[[Path], Path]:
    def make(root: Path) -> Path:
        path = root / name
        if content is None:
            path.mkdir()
        else:
            path.write_bytes(content)
        return path

    return make


BAD_INPUTS = {
    "empty file": (_write("empty.yaml", b""), "the file is empty"),
    "blank file": (_write("blank.yaml", b"\n  \n"), "the file is empty"),
    "only comments": (_write("comments.yaml", b"# nothing yet\n"), "the document is empty"),
    "empty sections": (_write("none.yaml", b"experts: []\ntopics: []\n"), "holds no topics"),
    "empty folder": (_write("folder", None), "the folder is empty"),
    "folder named .yaml": (_write("dir.yaml", None), "this is a folder"),
    "missing file": (lambda root: root / "missing.yaml", "this file does not exist"),
    "missing path": (lambda root: root / "nowhere", "there is no file or folder here"),
    "binary junk": (_write("junk.yaml", bytes(range(256)) * 4), "binary file"),
    "invalid YAML": (_write("bad.yaml", b"experts: [\n  - {id: E1\n"), "not valid YAML"),
    "GBK YAML": (_write("gbk.yaml", GBK_YAML.encode("gb18030")), "iconv -f GB18030 -t UTF-8"),
    "GBK CSV": (_gbk_csv, "--encoding gb18030"),
}


@pytest.mark.parametrize(
    "mode", [[], ["--merge"], ["--replace"]], ids=["default", "merge", "replace"]
)
@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_unreadable_or_empty_input_is_refused_and_writes_nothing(
    engine: Engine, stored: ExpertiseData, tmp_path: Path, case: str, mode: list[str]
) -> None:
    """Each bad input is one sentence naming the file, exit 1, and the database is unchanged."""
    make, sentence = BAD_INPUTS[case]
    path = make(tmp_path)
    result = runner.invoke(app, ["import", *mode, str(path)])
    assert result.exit_code == 1, result.output
    assert sentence in result.output and str(path.name) in result.output
    assert "Traceback" not in result.output and result.exception is not None
    assert held(engine) == stored


def test_a_gbk_file_names_the_first_bad_line_and_byte(
    stored: ExpertiseData, db_url: str, tmp_path: Path
) -> None:
    """A GBK YAML file is refused with its name, line and byte, and the iconv command."""
    path = tmp_path / "专家库.yaml"
    path.write_bytes(GBK_YAML.encode("gb18030"))
    result = counsel(db_url, "experts", "import", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"Nothing was imported from {path}: line 3, byte 56 of the file (0xB5" in result.stderr
    assert "It looks like GB18030" in result.stderr
    assert "--encoding gb18030" in result.stderr


@pytest.mark.parametrize(
    "make",
    [lambda root: _write("gbk.yaml", GBK_YAML.encode("gb18030"))(root), _gbk_csv],
    ids=["yaml", "csv"],
)
def test_encoding_option_reads_a_gbk_file(
    engine: Engine, stored: ExpertiseData, tmp_path: Path, make: Callable[[Path], Path]
) -> None:
    """``--encoding gb18030`` imports the same GBK file, names intact."""
    result = runner.invoke(app, ["import", "--encoding", "gb18030", str(make(tmp_path))])
    assert result.exit_code == 0, result.output
    assert held(engine).experts[-1].name == "王芳"


@pytest.mark.parametrize("encoding", ["klingon", "rot13", "base64"])
def test_an_unknown_encoding_is_refused(
    stored: ExpertiseData, tmp_path: Path, encoding: str
) -> None:
    """An encoding Python does not know, or a codec that is not a text encoding, is one
    sentence, not a LookupError."""
    path = _write("a.yaml", GBK_YAML.encode())(tmp_path)
    result = runner.invoke(app, ["import", "--encoding", encoding, str(path)])
    assert result.exit_code == 1 and f"{encoding!r} is not a text encoding" in result.output


def test_importing_an_empty_file_keeps_the_database_in_a_real_process(
    engine: Engine, stored: ExpertiseData, db_url: str, tmp_path: Path
) -> None:
    """The reported bug: `counsel experts import empty.yaml` no longer empties the database."""
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    result = counsel(db_url, "experts", "import", str(tmp_path / "empty.yaml"))
    assert result.returncode == 1, result.stdout
    assert "the file is empty" in result.stderr and "Traceback" not in result.stderr
    assert len(held(engine).experts) == len(stored.experts)


def _subset(sample: ExpertiseData, keep: Callable[[Expert], bool]) -> str:
    return dump_yaml_text(
        sample.model_copy(update={"experts": tuple(e for e in sample.experts if keep(e))})
    )


def test_default_import_merges_and_keeps_what_the_file_lacks(
    engine: Engine, stored: ExpertiseData, tmp_path: Path
) -> None:
    """Without --replace, experts the file lacks stay; the file's are added or updated."""
    path = tmp_path / "one.yaml"
    path.write_text(
        "experts:\n  - {id: E001, name: 改名专家}\n  - {id: N1, name: 新专家}\n", encoding="utf-8"
    )
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "Added 1 expert: 新专家 (N1)." in result.output
    assert "Removed 0 experts." in result.output
    after = held(engine)
    assert len(after.experts) == len(stored.experts) + 1
    assert after.experts[0].name == "改名专家"


@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_dry_run_prints_the_changes_and_writes_nothing(
    engine: Engine, stored: ExpertiseData, tmp_path: Path, mode: str
) -> None:
    """--dry-run names what would be added, changed and removed, and leaves the data as is."""
    data = stored.model_copy(
        update={
            "experts": (
                stored.experts[0].model_copy(update={"title": "研究员"}),
                *stored.experts[1:-3],
                Expert(id="N1", name="新专家"),
            )
        }
    )
    path = tmp_path / "next.yaml"
    path.write_text(dump_yaml_text(data), encoding="utf-8")
    result = runner.invoke(app, ["import", f"--{mode}", "--dry-run", str(path)])
    assert result.exit_code == 0, result.output
    assert "Dry run, nothing was written" in result.output
    assert "Would add 1 expert: 新专家 (N1)." in result.output
    assert f"Would change 1 expert: {stored.experts[0].name} (E001)." in result.output
    removed = "Would remove 3 experts: " if mode == "replace" else "Would remove 0 experts."
    assert removed in result.output
    assert held(engine) == stored


def test_replace_with_no_experts_is_refused(
    engine: Engine, stored: ExpertiseData, tmp_path: Path
) -> None:
    """--replace with a file of topics only would empty the database: refused, nothing written."""
    path = tmp_path / "topics.yaml"
    path.write_text("topics:\n  - {id: t1, name: 道路清扫}\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "--replace", str(path)])
    assert result.exit_code == 1
    assert "would be left without experts" in result.output
    assert held(engine) == stored


def test_replace_removes_experts_not_in_use(
    engine: Engine, stored: ExpertiseData, tmp_path: Path
) -> None:
    """--replace removes the experts the file lacks when no decision needs them."""
    path = tmp_path / "fewer.yaml"
    path.write_text(_subset(stored, lambda e: e.id != "E050"), encoding="utf-8")
    result = runner.invoke(app, ["import", "--replace", str(path)])
    assert result.exit_code == 0, result.output
    assert "Removed 1 expert: " in result.output
    assert "E050" not in {e.id for e in held(engine).experts}


def _decision(engine: Engine) -> str:
    planner, _ = services.add_actor(engine, actor_id="li-wei", name="李伟", roles=["planner"])
    decision = services.submit_proposal(
        engine,
        services.Proposal.model_validate(
            {
                "title": "道路保洁市场化",
                "description": "Contract out road cleaning.",
                "class": "major",
                "district": "east-district",
                "district_type": "east",
                "topics": ["street-cleaning"],
            }
        ),
        planner=planner,
        classes=load_classes(),
        idempotency_key="submit-1",
    )
    services.apply_transition(engine, decision.id, "start_consultation", idempotency_key="c-1")
    return decision.id


def _expert_actor(engine: Engine, expert_id: str) -> str:
    actor_id = actor_ids_for_experts(engine, [expert_id])[expert_id]
    services.ensure_actor(
        engine, actor_id=actor_id, name=expert_id, roles=["expert"], affiliations=[]
    )
    return actor_id


def _open_task(engine: Engine, decision_id: str, expert_id: str) -> None:
    services.assign_task(
        engine,
        decision_id,
        TaskKind.CONSULT,
        _expert_actor(engine, expert_id),
        round=1,
        deadline=utcnow() + timedelta(days=2),
        idempotency_key=f"t-{expert_id}",
    )


def _routed(engine: Engine, decision_id: str, expert_id: str) -> None:
    lead = _expert_actor(engine, "E010")
    services.append_event(
        engine,
        actor="system",
        action="consultation.routed",
        decision_id=decision_id,
        payload={
            "round": 1,
            "experts": [lead],
            "alternates": {lead: [_expert_actor(engine, expert_id)]},
        },
    )


def _routed_before_the_mapping(engine: Engine, decision_id: str, expert_id: str) -> None:
    actor = expert_id.lower()  # as routing named actors before revision 0004
    services.ensure_actor(engine, actor_id=actor, name=expert_id, roles=["expert"], affiliations=[])
    services.append_event(
        engine,
        actor="system",
        action="consultation.routed",
        decision_id=decision_id,
        payload={"round": 1, "experts": [actor], "alternates": {actor: []}},
    )


@pytest.mark.parametrize(
    ("expert_id", "use", "why"),
    [
        ("E020", _open_task, "holds open task"),
        ("王芳", _open_task, "holds open task"),
        ("E021", _routed, "is an alternate in D-"),
        ("E022", _routed_before_the_mapping, "was routed to D-"),
    ],
    ids=["open-task", "open-task-non-ascii-id", "routed-alternate", "routed-before-0004"],
)
def test_replace_refuses_to_remove_experts_in_use(
    engine: Engine,
    stored: ExpertiseData,
    tmp_path: Path,
    expert_id: str,
    use: Callable[[Engine, str, str], None],
    why: str,
) -> None:
    """--replace that drops an expert holding a task or routed to a decision is refused, named."""
    data = stored.model_copy(update={"experts": (*stored.experts, Expert(id="王芳", name="王芳"))})
    with engine.begin() as conn:
        save_expertise(conn, data)
    use(engine, _decision(engine), expert_id)
    path = tmp_path / "without.yaml"
    path.write_text(_subset(data, lambda e: e.id not in {expert_id, "E030"}), encoding="utf-8")
    result = runner.invoke(app, ["import", "--replace", str(path)])
    assert result.exit_code == 1, result.output
    assert "--replace would remove 1 expert who is in use" in result.output
    assert f"({expert_id}, {why}" in result.output and "E030" not in result.output
    assert held(engine) == data


def test_a_refusal_names_a_handful_then_counts(
    engine: Engine, stored: ExpertiseData, tmp_path: Path
) -> None:
    """Eight experts in use are named five at a time, then "and 3 more"."""
    decision_id = _decision(engine)
    ids = [f"E0{n}" for n in range(11, 19)]
    for expert_id in ids:
        _open_task(engine, decision_id, expert_id)
    path = tmp_path / "without.yaml"
    path.write_text(_subset(stored, lambda e: e.id not in ids), encoding="utf-8")
    result = runner.invoke(app, ["import", "--replace", str(path)])
    assert result.exit_code == 1
    assert "remove 8 experts who are in use" in result.output and "and 3 more." in result.output


def test_merge_and_replace_together_are_refused(stored: ExpertiseData, tmp_path: Path) -> None:
    """--merge with --replace is a contradiction, refused before anything is read."""
    result = runner.invoke(app, ["import", "--merge", "--replace", str(tmp_path / "x.yaml")])
    assert result.exit_code == 1 and "not both" in result.output


def test_show_asks_which_of_two_experts_of_the_same_name(
    engine: Engine, stored: ExpertiseData
) -> None:
    """Two experts called 王建国 are listed with ids and organisations; an id shows one."""
    twins = tuple(e.model_copy(update={"name": "王建国"}) for e in stored.experts[:2])
    data = stored.model_copy(update={"experts": (*twins, *stored.experts[2:])})
    with engine.begin() as conn:
        save_expertise(conn, data)
    orgs = {o.id: o.name for o in stored.organisations}
    result = runner.invoke(app, ["show", "王建国"])
    assert result.exit_code == 1
    assert "2 experts are called '王建国'" in result.output
    for twin in twins:
        current = [orgs[a.organisation] for a in twin.affiliations if a.current]
        assert f"{twin.id} ({', '.join(current)})" in result.output
    assert "Give the id" in result.output
    by_id = runner.invoke(app, ["show", twins[1].id])
    assert by_id.exit_code == 0 and twins[1].id in by_id.output


def test_csv_folder_with_a_folder_for_a_file_is_refused(
    engine: Engine, stored: ExpertiseData, tmp_path: Path
) -> None:
    """A folder where experts.csv should be is named as such, and nothing is written."""
    write_csv_dir(stored, tmp_path / "csv")
    (tmp_path / "csv" / "experts.csv").unlink()
    (tmp_path / "csv" / "experts.csv").mkdir()
    result = runner.invoke(app, ["import", "--replace", str(tmp_path / "csv")])
    assert result.exit_code == 1 and "experts.csv: this is a folder" in result.output
    assert held(engine) == stored


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("王芳\u202e", "The name of expert 'G1' contains the bidirectional control U+202E"),
        ("Wang\x00Fang", "The name of expert 'G1' contains NUL U+0000"),
        ("王" * 201, "The name of expert 'G1' is 201 characters long; at most 200 are kept"),
    ],
    ids=["bidi-override", "nul", "too-long"],
)
def test_names_breaking_the_text_policy_are_refused_and_nothing_is_written(
    engine: Engine, stored: ExpertiseData, tmp_path: Path, name: str, sentence: str
) -> None:
    """An expert's name with a control or bidi character, or longer than a name may be, is
    refused in one sentence with the file named, and the database is unchanged."""
    path = tmp_path / "names.yaml"
    path.write_text(
        dump_yaml_text(ExpertiseData(experts=(Expert(id="G1", name=name),))), encoding="utf-8"
    )
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 1
    assert f"{path}: {sentence}" in result.output
    assert held(engine) == stored
