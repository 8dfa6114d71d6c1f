"""``counsel experts match`` says when it found fewer experts than asked, and why."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.experts import app
from experts.io import dump_yaml_text
from experts.model import Affiliation, Expert, ExpertiseData, Organisation, Proficiency, Topic

runner = CliRunner()


def _eight_organisations() -> ExpertiseData:
    topic = Topic(id="street-cleaning", name="道路清扫保洁")
    return ExpertiseData(
        topics=(topic,),
        organisations=tuple(Organisation(id=f"org{i}", name=f"单位{i}") for i in range(8)),
        experts=tuple(
            Expert(
                id=f"E{i}{j}",
                name=f"专家{i}{j}",
                affiliations=(Affiliation(organisation=f"org{i}"),),
                proficiencies=(
                    Proficiency(topic=topic.id, weight=0.9 - 0.1 * j, last_active=2024),
                ),
            )
            for i in range(8)
            for j in range(2)
        ),
    )


@pytest.mark.parametrize(("k", "short"), [(8, False), (9, True)])
def test_match_reports_a_shortfall_by_rule(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, k: int, short: bool
) -> None:
    """Nine asked where one per organisation allows eight prints the shortfall and who."""
    monkeypatch.setenv("COUNSEL_DATABASE_URL", db_url)
    path = tmp_path / "eight.yaml"
    path.write_text(dump_yaml_text(_eight_organisations()), encoding="utf-8")
    assert runner.invoke(app, ["import", str(path)]).exit_code == 0
    result = runner.invoke(
        app,
        [
            "match",
            "--topic",
            "street-cleaning",
            "--k",
            str(k),
            "--alternates",
            "0",
            "--as-of",
            "2025",
        ],
    )
    assert result.exit_code == 0, result.output
    line = (
        "Fewer experts than asked: asked for 9 experts, found 8: organisation diversity "
        "(at most 1 per organisation) kept out 8 experts."
    )
    assert (line in result.output) == short
    assert (
        "Excluded: 专家01 (E01) shares 单位0 with the pick 专家00 (E00); at most 1 pick "
        "per organisation — organisation diversity." in result.output
    ) == short
