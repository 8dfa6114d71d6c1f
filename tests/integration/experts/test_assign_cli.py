"""``counsel experts assign``: the three modes end to end, and refusals that write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.experts import app

runner = CliRunner()


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A scores file (8 bids x 6 experts, one unscored pair) and a conflicts file."""
    scores = tmp_path / "s.csv"
    scores.write_text(
        "item,expert,score\n"
        + "".join(
            f"bid-{i},E{e},{(i * 7 + e * 3) % 10 / 10}\n"
            for i in range(8)
            for e in range(6)
            if (i, e) != (3, 3)
        ),
        encoding="utf-8",
    )
    conflicts = tmp_path / "c.csv"
    conflicts.write_text("bid-0,E0,-1\nbid-1,E1,-1\n", encoding="utf-8")
    return scores, conflicts


def assign(files: tuple[Path, Path], out: Path, *options: str) -> tuple[int, str]:
    """Run ``assign`` with 2 experts per item and a max load of 3; exit code and output."""
    scores, conflicts = files
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
            *options,
        ],
    )
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ((), "Assigned 16 pairs to 8 items (total score"),
        (("--mode", "optimal"), "Assigned 16 pairs to 8 items (total score"),
        (("--mode", "fair"), "(worst-served item"),
        (("--mode", "random", "--seed", "notary-7391"), "with seed 'notary-7391'"),
        (("--mode", "random", "--seed", "5", "--max-probability", "0.7"), "probability 0.7"),
    ],
)
def test_each_mode_writes_an_assignment(
    files: tuple[Path, Path], tmp_path: Path, options: tuple[str, ...], says: str
) -> None:
    """Every mode writes {item: [{expert, score}]} with 2 experts per item and no conflict."""
    out = tmp_path / "a.json"
    code, output = assign(files, out, *options)
    assert code == 0, output
    assert says in output
    assignment = json.loads(out.read_text(encoding="utf-8"))
    assert set(assignment) == {f"bid-{i}" for i in range(8)}
    assert all(len({a["expert"] for a in v}) == 2 for v in assignment.values())
    assert "E0" not in {a["expert"] for a in assignment["bid-0"]}
    assert "E1" not in {a["expert"] for a in assignment["bid-1"]}
    loads: dict[str, int] = {}
    for chosen in assignment.values():
        for a in chosen:
            loads[a["expert"]] = loads.get(a["expert"], 0) + 1
    assert max(loads.values()) <= 3


def test_fair_mode_serves_the_worst_item_at_least_as_well(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    """The fair mode's worst-served item is no worse than the optimal mode's."""

    def worst(path: Path) -> float:
        data = json.loads(path.read_text(encoding="utf-8"))
        return min(sum(a["score"] for a in v) for v in data.values())

    assign(files, tmp_path / "o.json")
    code, output = assign(files, tmp_path / "f.json", "--mode", "fair")
    assert code == 0, output
    assert "the best possible" in output
    assert worst(tmp_path / "f.json") >= worst(tmp_path / "o.json")


def test_random_mode_same_seed_same_file(files: tuple[Path, Path], tmp_path: Path) -> None:
    """The same seed writes the same assignment, byte for byte."""
    for name in ("a.json", "b.json"):
        code, output = assign(files, tmp_path / name, "--mode", "random", "--seed", "42")
        assert code == 0, output
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_previous_solver_gives_the_same_assignment(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    """The hidden --solver lp (the engine before OR-Tools) writes the same file here."""
    assign(files, tmp_path / "flow.json")
    code, output = assign(files, tmp_path / "lp.json", "--solver", "lp")
    assert code == 0, output
    flow = json.loads((tmp_path / "flow.json").read_text(encoding="utf-8"))
    lp = json.loads((tmp_path / "lp.json").read_text(encoding="utf-8"))
    total = [sum(a["score"] for v in x.values() for a in v) for x in (flow, lp)]
    assert total[0] == pytest.approx(total[1], rel=1e-9)


@pytest.mark.parametrize(
    ("options", "sentence"),
    [
        (("--mode", "best"), "Unknown mode 'best'; give --mode optimal, fair or random."),
        (("--mode", "random"), "Give --seed with --mode random, so that the draw can be replayed."),
        (
            ("--mode", "random", "--seed", "1", "--max-probability", "0"),
            "--max-probability must be above 0 and at most 1, not 0.",
        ),
        (
            ("--mode", "random", "--seed", "1", "--max-probability", "1.5"),
            "--max-probability must be above 0 and at most 1, not 1.5.",
        ),
        (
            ("--mode", "random", "--seed", "1", "--max-probability", "-0.2"),
            "--max-probability must be above 0 and at most 1, not -0.2.",
        ),
        (
            ("--mode", "random", "--seed", "1", "--max-probability", "0.0004"),
            "The max probability must be at least 1/1,000, not 0.0004.",
        ),
        (
            ("--seed", "1"),
            "--seed and --max-probability belong to --mode random; leave them out.",
        ),
        (
            ("--mode", "fair", "--max-probability", "0.5"),
            "--seed and --max-probability belong to --mode random; leave them out.",
        ),
        (
            ("--mode", "random", "--seed", "1", "--max-probability", "0.2"),
            "Item 'bid-0' needs 2 experts, but with a max probability of 0.2 its 5 candidates "
            "give it at most 1 (7 other items too); raise --max-probability or add candidates.",
        ),
    ],
)
def test_bad_options_are_one_sentence_and_write_nothing(
    files: tuple[Path, Path], tmp_path: Path, options: tuple[str, ...], sentence: str
) -> None:
    """A bad mode, seed or probability is one sentence, exit status 1, and no output file."""
    out = tmp_path / "a.json"
    code, output = assign(files, out, *options)
    assert code == 1
    assert output.strip() == sentence
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("bid-1,E1,0.5\nbid-2,E1,high\n", "s.csv, line 2: the score 'high' is not a number."),
        ("bid-1,E1\n", "s.csv, line 1: expected item,expert,score (3 cells), found 2 cells."),
        ("bid-1,E1,0.5\nbid-1,E1,0.7\n", "line 2: the pair bid-1,E1 was already scored on line 1"),
        ("bid-1,张伟,0.5\n".encode("gb18030"), "line 1: byte 0xD5 is not UTF-8"),
    ],
)
def test_bad_scores_file_is_one_sentence_and_writes_nothing(
    tmp_path: Path, content: str | bytes, says: str
) -> None:
    """A bad scores file is refused with its line, exit status 1, and no output file."""
    scores = tmp_path / "s.csv"
    scores.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    out = tmp_path / "a.json"
    result = runner.invoke(
        app, ["assign", "--scores", str(scores), "--per-item", "1", "--out", str(out)]
    )
    assert result.exit_code == 1
    assert says in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_scores_file_is_one_sentence(tmp_path: Path) -> None:
    """A scores file that does not exist is named in one sentence, exit status 1."""
    out = tmp_path / "a.json"
    result = runner.invoke(
        app, ["assign", "--scores", str(tmp_path / "none.csv"), "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "none.csv" in result.output and "Traceback" not in result.output
    assert not out.exists()
