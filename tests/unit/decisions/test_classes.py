"""Decision classes: the shipped file, district variants, and what a bad file is told."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from decisions.classes import load_classes, parse_duration
from decisions.exceptions import ClassFileError, ConfigurationError

SHIPPED = Path(__file__).resolve().parents[3] / "decisions" / "classes.yaml"


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "classes.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def shipped_data() -> dict:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def test_shipped_file_has_three_classes_with_district_variants() -> None:
    """The package ships major, standard and urgent, with east/middle/west adjustments."""
    book = load_classes()
    assert {"major", "standard", "urgent"} <= set(book.names)
    assert book.get("major").experts == 7
    assert book.get("major", "east").experts == 9
    assert "network_readiness" in book.get("major", "west").criteria
    assert book.get("major", "west").durations.execute == timedelta(days=365)
    assert book.get("major", "middle") == book.get("major")
    assert book.get("urgent").max_rounds == 1


def test_override_file_is_used(tmp_path: Path) -> None:
    """A file given by path replaces the shipped classes."""
    data = shipped_data()
    data["classes"]["major"]["experts"] = 11
    assert load_classes(write(tmp_path, data)).get("major").experts == 11


def test_unknown_class_lists_the_known_ones() -> None:
    """Asking for a class that does not exist names the ones that do."""
    with pytest.raises(ConfigurationError, match="no decision class 'huge'.*major, standard"):
        load_classes().get("huge")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["classes"]["major"].update(quorum=1.5),
            r"classes\.major\.quorum: Input should be less than or equal to 1 \(got 1\.5\)",
        ),
        (
            lambda d: d["classes"]["major"]["durations"].update(answer="3 weeks"),
            r"classes\.major\.durations\.answer: a duration is a positive number with s, m, h or d",
        ),
        (
            lambda d: d["classes"]["major"].update(expertz=3),
            r"classes\.major\.expertz: is not a setting Counsel knows",
        ),
        (
            lambda d: d["classes"]["standard"].pop("criteria"),
            r"classes\.standard\.criteria: Field required",
        ),
        (
            lambda d: d["classes"]["urgent"].update(min_answers=9),
            r"classes\.urgent: min_answers \(9\) cannot exceed experts \(3\)",
        ),
        (
            lambda d: d["classes"]["major"]["district_types"].update(north={"experts": 3}),
            r"classes\.major\.district_types\.north: Input should be 'east', 'middle' or 'west'",
        ),
        (
            lambda d: d["classes"]["major"]["district_types"]["east"].update(experts=0),
            r"classes\.major\.district_types\.east\.experts: "
            r"Input should be greater than or equal to 1",
        ),
        (lambda d: d.update(version=2), r"version: Input should be 1"),
        (
            lambda d: d["classes"]["standard"]["durations"].update(execute="99999999999d"),
            r"classes\.standard\.durations\.execute: the duration '99999999999d' is too long",
        ),
    ],
)
def test_bad_values_are_reported_with_file_and_key_path(
    tmp_path: Path, change: object, expected: str
) -> None:
    """Each mistake names the file, the key path and what is wrong."""
    data = shipped_data()
    change(data)  # type: ignore[operator]
    path = write(tmp_path, data)
    with pytest.raises(ClassFileError, match=expected) as info:
        load_classes(path)
    assert str(path) in str(info.value)
    assert info.value.path == str(path)


def test_variant_does_not_repeat_its_base_class_errors(tmp_path: Path) -> None:
    """A base-class mistake is reported once, not again for every district variant."""
    data = shipped_data()
    data["classes"]["major"]["quorum"] = 2
    with pytest.raises(ClassFileError) as info:
        load_classes(write(tmp_path, data))
    assert str(info.value).count("quorum") == 1


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    """Broken YAML is reported with its line and column."""
    path = write(tmp_path, "version: 1\nclasses:\n  major: [unclosed\n")
    with pytest.raises(ClassFileError, match=r"is not valid YAML at line \d+, column \d+"):
        load_classes(path)


def test_missing_file_is_a_sentence(tmp_path: Path) -> None:
    """A path that does not exist is reported, not a traceback."""
    with pytest.raises(ClassFileError, match="Cannot read the decision-classes file .*missing"):
        load_classes(tmp_path / "missing.yaml")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    """A list at the top is refused with the expected shape."""
    with pytest.raises(ClassFileError, match="must be a mapping with 'version' and 'classes'"):
        load_classes(write(tmp_path, "- major\n"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30m", timedelta(minutes=30)), ("72h", timedelta(hours=72)), (" 14d ", timedelta(days=14))],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    """Durations are minutes, hours or days."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["0d", "5", "5w", "-1h", "2y", 3])
def test_bad_durations_fail(text: object) -> None:
    """Zero, unitless, unknown units and numbers are refused."""
    with pytest.raises(ValueError, match="a duration is a positive number"):
        parse_duration(text)
