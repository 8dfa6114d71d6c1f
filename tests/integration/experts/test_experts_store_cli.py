"""The expertise tables on SQLite and PostgreSQL, and the ``counsel experts`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from cli.experts import app
from experts.io import parse_yaml_text, read_expertise, write_csv_dir
from experts.model import ExpertiseData
from experts.sample import load_sample
from experts.store import count_experts, load_expertise, save_expertise

runner = CliRunner()


@pytest.fixture(scope="module")
def sample() -> ExpertiseData:
    """The shipped sample database."""
    return load_sample()


def test_sample_round_trips_through_the_database(engine: Engine, sample: ExpertiseData) -> None:
    """Saving the sample and loading it back gives the same data, order and floats included."""
    with engine.begin() as conn:
        save_expertise(conn, sample)
    with engine.connect() as conn:
        assert load_expertise(conn) == sample
        assert count_experts(conn) == len(sample.experts)


def test_import_twice_replaces_rather_than_duplicates(
    engine: Engine, sample: ExpertiseData
) -> None:
    """Importing the same data again leaves exactly one copy."""
    for _ in range(2):
        with engine.begin() as conn:
            save_expertise(conn, sample)
    with engine.connect() as conn:
        assert load_expertise(conn) == sample


def test_merge_keeps_stored_records(engine: Engine, sample: ExpertiseData) -> None:
    """A merge replaces records with the same id and keeps the others."""
    with engine.begin() as conn:
        save_expertise(conn, sample)
    extra = parse_yaml_text(
        "experts:\n  - id: E001\n    name: 改名专家\n  - id: N1\n    name: Новый эксперт\n",
        known=sample,
    )
    with engine.begin() as conn:
        save_expertise(conn, extra, replace=False)
    with engine.connect() as conn:
        stored = load_expertise(conn)
    assert stored.experts[0].name == "改名专家" and stored.experts[-1].name == "Новый эксперт"
    assert len(stored.experts) == len(sample.experts) + 1


def test_failed_import_leaves_the_database_unchanged(
    engine: Engine,
    sample: ExpertiseData,
    tmp_path: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A CSV directory with one bad row is refused whole and nothing is written."""
    monkeypatch.setenv("COUNSEL_DATABASE_URL", db_url)
    write_csv_dir(sample, tmp_path / "csv")
    path = tmp_path / "csv" / "experts.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[40] = (
        lines[40]
        .replace(",3,", ",many,", 1)
        .replace(",2,", ",many,", 1)
        .replace(",4,", ",many,", 1)
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["import", str(tmp_path / "csv")])
    assert result.exit_code == 1
    assert f"{path}, line 41" in result.output or "line 41" in result.output
    with engine.connect() as conn:
        assert count_experts(conn) == 0


def test_cli_import_export_list_show(
    db_url: str, tmp_path: Path, sample: ExpertiseData, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI imports the sample, exports it losslessly, lists and shows experts."""
    monkeypatch.setenv("COUNSEL_DATABASE_URL", db_url)
    result = runner.invoke(app, ["import", "--sample"])
    assert result.exit_code == 0, result.output
    assert f"Imported {len(sample.experts)} experts" in result.output
    assert runner.invoke(app, ["export", str(tmp_path / "out.yaml")]).exit_code == 0
    assert read_expertise(tmp_path / "out.yaml") == sample
    assert runner.invoke(app, ["export", str(tmp_path / "csv")]).exit_code == 0
    assert read_expertise(tmp_path / "csv") == sample
    listed = runner.invoke(app, ["list", "--topic", "道路清扫保洁"])
    assert listed.exit_code == 0 and "experts." in listed.output
    shown = runner.invoke(app, ["show", "María González"])
    assert shown.exit_code == 0 and "E097" in shown.output


def test_cli_match_prints_picks_and_exclusions(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``match`` routes from the database and names excluded contractor staff."""
    monkeypatch.setenv("COUNSEL_DATABASE_URL", db_url)
    empty = runner.invoke(app, ["match", "--topic", "street-cleaning"])
    assert empty.exit_code == 1 and "The expertise database is empty" in empty.output
    assert runner.invoke(app, ["import", "--sample"]).exit_code == 0
    result = runner.invoke(
        app,
        [
            "match",
            "--topic",
            "street cleaning",
            "--topic",
            "market-based-contracting",
            "--district",
            "东区",
            "--k",
            "3",
            "--explain",
            "--as-of",
            "2025",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Excluded:" in result.output and "commercial interest" in result.output
    unknown = runner.invoke(app, ["match", "--topic", "drones"])
    assert unknown.exit_code == 1 and "There is no topic called 'drones'" in unknown.output


def test_cli_refuses_an_uninitialised_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a database that was never migrated the CLI says to run counsel init."""
    monkeypatch.setenv("COUNSEL_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 1 and "counsel init" in result.output


def test_cli_assign_writes_json(tmp_path: Path) -> None:
    """``assign`` reads matcher CSVs and writes {item: [{expert, score}]} JSON."""
    scores = tmp_path / "s.csv"
    scores.write_text(
        "".join(f"bid-{i},E{e},{(i * 7 + e * 3) % 10 / 10}\n" for i in range(6) for e in range(5)),
        encoding="utf-8",
    )
    conflicts = tmp_path / "c.csv"
    conflicts.write_text("bid-0,E0,-1\nbid-1,E1,-1\n", encoding="utf-8")
    out = tmp_path / "a.json"
    result = runner.invoke(
        app,
        [
            "assign",
            "--scores",
            str(scores),
            "--conflicts",
            str(conflicts),
            "--per-item",
            "2",
            "--max-load",
            "3",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assignment = json.loads(out.read_text(encoding="utf-8"))
    assert set(assignment) == {f"bid-{i}" for i in range(6)}
    assert all(len(v) == 2 for v in assignment.values())
    assert "E0" not in {a["expert"] for a in assignment["bid-0"]}
    infeasible = runner.invoke(
        app,
        [
            "assign",
            "--scores",
            str(scores),
            "--per-item",
            "5",
            "--max-load",
            "1",
            "--out",
            str(out),
        ],
    )
    assert infeasible.exit_code == 1
    assert "Traceback" not in infeasible.output and "max load" in infeasible.output


def test_expertise_tables_are_created_by_the_migration(engine: Engine) -> None:
    """Revision 0002_expertise creates the expertise tables in the store's history."""
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM expertise_experts")).scalar_one() == 0
