"""Import and export: lossless round trips, any script, bad rows refused with file and line."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experts.exceptions import ExpertiseImportError
from experts.io import (
    dump_yaml_text,
    parse_yaml_text,
    read_csv_dir,
    read_expertise,
    write_csv_dir,
    write_expertise,
)
from experts.model import (
    Affiliation,
    District,
    Expert,
    ExpertiseData,
    LocalKnowledge,
    Organisation,
    Proficiency,
    Topic,
)

# Names: any printable text in any script, not blank, no surrounding blanks.
names = (
    st.text(
        alphabet=st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Zs"]),
        min_size=1,
        max_size=20,
    )
    .map(str.strip)
    .filter(bool)
)
weights = st.floats(min_value=0.001, max_value=1.0, allow_nan=False)


@st.composite
def expertise(draw: st.DrawFn) -> ExpertiseData:
    """Small random expertise data with references that resolve."""
    topic_ids = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    topics = tuple(
        Topic(
            id=t,
            name=draw(names),
            parent=topic_ids[0] if i else None,
            aliases=tuple(draw(st.lists(names, max_size=2, unique=True))),
        )
        for i, t in enumerate(topic_ids)
    )
    districts = (
        District(id="d", name=draw(names), profile=draw(st.none() | names)),
        District(id="d-1", name=draw(names), kind="street_office", parent="d"),
    )
    orgs = (
        Organisation(
            id="o", name=draw(names), kind="contractor", district="d", interests=(topic_ids[-1],)
        ),
    )
    experts = tuple(
        Expert(
            id=f"e{i}",
            name=draw(names),
            title=draw(st.just("") | names),
            available=draw(st.booleans()),
            workload_cap=draw(st.integers(0, 5)),
            active_assignments=draw(st.integers(0, 5)),
            affiliations=(
                Affiliation(organisation="o", role=draw(names), current=draw(st.booleans())),
            ),
            proficiencies=tuple(
                Proficiency(
                    topic=t, weight=draw(weights), last_active=draw(st.integers(1990, 2030))
                )
                for t in draw(st.lists(st.sampled_from(topic_ids), unique=True, max_size=3))
            ),
            districts=(LocalKnowledge(district="d-1", weight=draw(weights)),),
        )
        for i in range(draw(st.integers(0, 3)))
    )
    return ExpertiseData(topics=topics, districts=districts, organisations=orgs, experts=experts)


def test_sample_round_trips_through_yaml(sample: ExpertiseData) -> None:
    """The sample database written as YAML reads back equal."""
    assert parse_yaml_text(dump_yaml_text(sample)) == sample


def test_sample_round_trips_through_csv(sample: ExpertiseData, tmp_path: Path) -> None:
    """The sample database written as a CSV directory reads back equal."""
    write_csv_dir(sample, tmp_path / "csv")
    assert read_csv_dir(tmp_path / "csv") == sample


def test_sample_is_realistic(sample: ExpertiseData) -> None:
    """The sample has 80+ experts in eight fields, three districts and conflicted contractors."""
    assert len(sample.experts) >= 80
    roots = {t.id for t in sample.topics if t.parent is None}
    assert {
        "urban-planning",
        "construction-management",
        "city-sanitation",
        "transport",
        "environment",
        "law",
        "finance",
        "community-governance",
    } <= roots
    assert {d.id for d in sample.districts if d.kind == "district"} == {
        "east-district",
        "middle-district",
        "west-district",
    }
    contractors = {
        o.id
        for o in sample.organisations
        if o.kind == "contractor" and "street-cleaning" in o.interests
    }
    staff = [
        e
        for e in sample.experts
        if any(a.organisation in contractors and a.current for a in e.affiliations)
    ]
    assert len(staff) >= 3


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=expertise())
def test_any_script_round_trips_through_both_formats(data: ExpertiseData, tmp_path: Path) -> None:
    """Random names in any script survive YAML and CSV export and import unchanged."""
    assert parse_yaml_text(dump_yaml_text(data)) == data
    target = tmp_path / "rt"
    write_csv_dir(data, target)
    assert read_csv_dir(target) == data


@pytest.mark.parametrize("suffix", ["x.yaml", "dir"])
def test_read_and_write_pick_the_format_by_path(
    sample: ExpertiseData, tmp_path: Path, suffix: str
) -> None:
    """``write_expertise``/``read_expertise`` use YAML for .yaml and CSV for a directory."""
    write_expertise(sample, tmp_path / suffix)
    assert read_expertise(tmp_path / suffix) == sample


GOOD = """\
format: counsel-expertise/1
topics:
  - {id: sanitation, name: 市容环卫}
  - {id: street-cleaning, name: 道路清扫保洁, parent: sanitation}
districts:
  - {id: east, name: 东区}
experts:
  - id: E1
    name: 张伟
    proficiencies:
      - {topic: street-cleaning, weight: 0.9, last_active: 2024}
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "reason"),
    [
        ("weight: 0.9", "weight: 1.5", 11, "weight: input should be less than or equal to 1"),
        (
            "topic: street-cleaning,",
            "topic: street-sweeping,",
            11,
            "topic 'street-sweeping' is not defined",
        ),
        ("parent: sanitation}", "parent: sanitaton}", 4, "parent topic 'sanitaton' is not defined"),
        (
            "{id: east, name: 东区}",
            "{id: east, name: 东区, colour: red}",
            6,
            "unknown field 'colour'",
        ),
        ("id: E1\n", "id: E1\n    age: 5\n", 8, "unknown field 'age'"),
        ("{id: street-cleaning,", "{id: sanitation,", 4, "topic id 'sanitation' is already used"),
        ("name: 张伟", "name: '  '", 8, "name: must not be empty"),
    ],
)
def test_bad_yaml_row_is_reported_with_file_line_and_reason(
    tmp_path: Path, old: str, new: str, line: int, reason: str
) -> None:
    """A bad YAML row raises with its file, line and reason, and nothing is returned."""
    path = tmp_path / "experts.yaml"
    assert old in GOOD
    path.write_text(GOOD.replace(old, new), encoding="utf-8")
    with pytest.raises(ExpertiseImportError) as info:
        read_expertise(path)
    problem = info.value.problems[0]
    assert (problem.file, problem.line) == (str(path), line)
    assert reason in problem.reason
    assert f"Nothing was imported from {path}" in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "what"),
    [
        ("topics:", "format: " + "x" * 20_000 + "\ntopics:", "unknown format 'xxxx"),
        # keys of over 1,024 characters need YAML's explicit "? key" form
        ("topics:", "? " + "k" * 20_000 + "\n: 1\ntopics:", "unknown section 'kkkk"),
        ("id: E1\n", "id: E1\n    ? " + "c" * 20_000 + "\n    : 1\n", "unknown field 'cccc"),
    ],
)
def test_a_refusal_quotes_a_huge_value_cut_short(
    tmp_path: Path, old: str, new: str, what: str
) -> None:
    """A refusal names a value from the file (found by the fuzz suite: an unknown format
    of 20,000 characters came back whole) in at most 80 characters."""
    path = tmp_path / "experts.yaml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ExpertiseImportError) as info:
        read_expertise(path)
    reason = info.value.problems[0].reason
    assert what in reason and "…" in reason
    assert len(str(info.value)) < len(str(path)) + 200, str(info.value)[:300]


def test_invalid_yaml_syntax_is_reported_with_its_line(tmp_path: Path) -> None:
    """Broken YAML syntax is reported with the line the parser stopped at."""
    path = tmp_path / "broken.yaml"
    path.write_text(GOOD.replace("name: 张伟", "name: [张伟"), encoding="utf-8")
    with pytest.raises(ExpertiseImportError, match="not valid YAML") as info:
        read_expertise(path)
    assert info.value.problems[0].line >= 8


def test_every_bad_row_is_listed(tmp_path: Path) -> None:
    """All bad rows of a file are reported, in line order."""
    path = tmp_path / "x.yaml"
    path.write_text(
        GOOD.replace("weight: 0.9", "weight: -1").replace(
            "parent: sanitation}", "parent: nowhere}"
        ),
        encoding="utf-8",
    )
    with pytest.raises(ExpertiseImportError) as info:
        read_expertise(path)
    assert [p.line for p in info.value.problems] == [4, 11]


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def _write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)


def test_bad_csv_row_is_reported_with_its_file_and_line(
    sample: ExpertiseData, tmp_path: Path
) -> None:
    """A bad CSV row names its file and line, counting the header as line 1."""
    write_csv_dir(sample, tmp_path)
    path = tmp_path / "proficiencies.csv"
    rows = _read(path)
    rows[5][2] = "very good"
    _write(path, rows)
    with pytest.raises(ExpertiseImportError) as info:
        read_csv_dir(tmp_path)
    (problem,) = info.value.problems
    assert (problem.file, problem.line) == (str(path), 6)
    assert "weight" in problem.reason and "very good" in problem.reason


def test_csv_edge_row_for_unknown_expert_is_refused(sample: ExpertiseData, tmp_path: Path) -> None:
    """A proficiency row naming an expert not in experts.csv is refused."""
    write_csv_dir(sample, tmp_path)
    path = tmp_path / "local_knowledge.csv"
    rows = _read(path)
    rows.append(["E999", "east-district", "0.5"])
    _write(path, rows)
    with pytest.raises(ExpertiseImportError, match="expert 'E999' is not defined") as info:
        read_csv_dir(tmp_path)
    assert info.value.problems[0].line == len(rows)


def test_missing_required_csv_file_is_reported(tmp_path: Path) -> None:
    """A directory without experts.csv is refused, naming the file."""
    _write(tmp_path / "topics.csv", [["id", "name", "parent"], ["t", "T", ""]])
    with pytest.raises(ExpertiseImportError, match="experts.csv"):
        read_csv_dir(tmp_path)


def test_unknown_csv_column_is_refused(tmp_path: Path) -> None:
    """A CSV header with a column the format does not know is refused on line 1."""
    _write(tmp_path / "topics.csv", [["id", "name", "colour"], ["t", "T", "red"]])
    _write(tmp_path / "experts.csv", [["id", "name"]])
    with pytest.raises(ExpertiseImportError, match="unknown column 'colour'") as info:
        read_csv_dir(tmp_path)
    assert info.value.problems[0].line == 1


def test_a_huge_unknown_csv_column_is_quoted_cut_short(tmp_path: Path) -> None:
    """The refusal quotes a 20,000-character column name in at most 80 characters."""
    _write(tmp_path / "topics.csv", [["id", "name", "c" * 20_000], ["t", "T", "red"]])
    _write(tmp_path / "experts.csv", [["id", "name"]])
    with pytest.raises(ExpertiseImportError, match="unknown column 'cccc[^;]*…;") as info:
        read_csv_dir(tmp_path)
    assert len(info.value.problems[0].reason) < 200


def test_topic_cycle_is_refused() -> None:
    """Topics that are their own ancestors are refused."""
    text = "topics:\n  - {id: a, name: A, parent: b}\n  - {id: b, name: B, parent: a}\n"
    with pytest.raises(ExpertiseImportError, match="its own ancestor"):
        parse_yaml_text(text)


def test_street_office_needs_a_district_parent() -> None:
    """A street office without a parent district is refused."""
    text = "topics: []\ndistricts:\n  - {id: s, name: S, kind: street_office}\n"
    with pytest.raises(ExpertiseImportError, match="needs a parent district"):
        parse_yaml_text(text)


def test_rows_may_refer_to_known_records_when_merging(sample: ExpertiseData) -> None:
    """With ``known``, rows may refer to records already in the database."""
    text = (
        "experts:\n  - id: N1\n    name: 新专家\n    proficiencies:\n"
        "      - {topic: street-cleaning, weight: 0.7, last_active: 2025}\n"
    )
    with pytest.raises(ExpertiseImportError):
        parse_yaml_text(text)
    extra = parse_yaml_text(text, known=sample)
    merged = sample.merged_with(extra)
    assert merged.experts[-1].id == "N1"
    assert len(merged.experts) == len(sample.experts) + 1


def _with_contacts(sample: ExpertiseData) -> ExpertiseData:
    first, second, *rest = sample.experts
    return sample.model_copy(
        update={
            "experts": (
                first.model_copy(
                    update={"notify": ("mailto://a@example.cn", "wecombot://KEY1"), "lang": "en"}
                ),
                second.model_copy(update={"notify": ("dingtalk://TOKEN",)}),
                *rest,
            )
        }
    )


def test_experts_contacts_round_trip_through_both_formats(
    sample: ExpertiseData, tmp_path: Path
) -> None:
    """An expert's addresses (one space-separated CSV cell) and language survive export."""
    data = _with_contacts(sample)
    assert parse_yaml_text(dump_yaml_text(data)) == data
    write_csv_dir(data, tmp_path / "csv")
    assert read_csv_dir(tmp_path / "csv") == data
    header, row, *_ = _read(tmp_path / "csv" / "experts.csv")
    assert row[header.index("notify")] == "mailto://a@example.cn wecombot://KEY1"


def test_a_bad_address_is_reported_with_its_line(sample: ExpertiseData, tmp_path: Path) -> None:
    write_csv_dir(_with_contacts(sample), tmp_path)
    path = tmp_path / "experts.csv"
    rows = _read(path)
    rows[2][rows[0].index("notify")] = "wang at example dot cn"
    _write(path, rows)
    with pytest.raises(ExpertiseImportError) as info:
        read_csv_dir(tmp_path)
    (problem,) = [p for p in info.value.problems if p.file == str(path)]
    assert problem.line == 3 and "Apprise URL" in problem.reason
