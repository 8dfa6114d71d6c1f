"""Labels in the classes file: every criterion, choice, stage and kind of task is named in
Chinese and English, and a missing or unknown one is refused with its key path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from decisions.classes import CHOICES, STAGES, TASKS, load_classes
from decisions.exceptions import ClassFileError
from decisions.procedure import STAGE_NAMES

SHIPPED = Path(__file__).resolve().parents[3] / "decisions" / "classes.yaml"
QUICK = Path(__file__).resolve().parents[3] / "examples" / "classes-quick.yaml"


def shipped() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    return data


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "classes.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_the_shipped_file_labels_everything_in_both_languages() -> None:
    """Every criterion of every class and variant, every choice of the forms, every stage and
    every kind of task has a Chinese and an English label in the shipped file."""
    book = load_classes()
    criteria = {
        c
        for name in book.names
        for district_type in (None, *book.district_types)
        for c in book.get(name, district_type).criteria
    }
    assert criteria <= set(book.labels.criteria)
    for group, values in CHOICES.items():
        assert set(book.labels.choices[group]) == set(values), group
    assert set(book.labels.stages) == set(STAGES) and set(book.labels.tasks) == set(TASKS)
    han = re.compile(r"[\u4e00-\u9fff]")
    for label in [
        *book.labels.criteria.values(),
        *(label for group in book.labels.choices.values() for label in group.values()),
        *book.labels.stages.values(),
        *book.labels.tasks.values(),
    ]:
        assert han.search(label.zh) and not han.search(label.en), label


def test_labels_are_read_in_the_persons_language() -> None:
    """A label comes back in Chinese or English, Chinese being the default."""
    labels = load_classes().labels
    assert labels.criterion("environmental_impact", "zh") == "环境影响"
    assert labels.criterion("environmental_impact", "en") == "Environmental impact"
    assert labels.choice("recommendation", "approve_with_conditions", "zh") == "有条件同意"
    assert labels.choice("vote", "recuse", "zh") == "回避"
    assert labels.stage("decide", "en") == "Vote"
    assert labels.task("inspect", "zh") == "验收"


def test_the_stages_are_the_procedures() -> None:
    """The stages that need labels are the procedure's four."""
    assert set(STAGES) == set(STAGE_NAMES)


def test_a_file_of_ones_own_keeps_the_shipped_labels_it_leaves_out(tmp_path: Path) -> None:
    """A classes file without labels (like examples/classes-quick.yaml) uses the shipped
    ones; an entry it gives replaces the shipped entry."""
    assert load_classes(QUICK).labels.criterion("cost", "zh") == "经济性"
    data = shipped()
    data["labels"] = {"criteria": {"cost": {"zh": "费用", "en": "Expense"}}}
    labels = load_classes(write(tmp_path, data)).labels
    assert labels.criterion("cost", "zh") == "费用"
    assert labels.criterion("feasibility", "en") == "Feasibility"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["labels"]["criteria"]["cost"].pop("zh"),
            r"classes\.yaml: labels\.criteria\.cost\.zh: Field required",
        ),
        (
            lambda d: d["labels"]["choices"]["vote"]["recuse"].update(en="  "),
            r"labels\.choices\.vote\.recuse\.en: a label cannot be blank",
        ),
        (
            lambda d: d["classes"]["urgent"].update(criteria=["feasibility", "noise"]),
            r"labels\.criteria\.noise: missing; classes\.urgent\.criteria rates it, so it needs "
            r"a zh and an en label",
        ),
        (
            lambda d: d["classes"]["major"]["district_types"]["east"].update(
                criteria=["feasibility", "shade"]
            ),
            r"labels\.criteria\.shade: missing; classes\.major\.district_types\.east\.criteria",
        ),
        (
            lambda d: d["labels"]["choices"]["vote"].update(
                abstain={"zh": "弃权", "en": "Abstain"}
            ),
            r"labels\.choices\.vote\.abstain: is not a choice of the vote form; its choices are "
            r"approve, approve_with_amendments, reject, return, recuse",
        ),
        (
            lambda d: d["labels"]["choices"].update(mood={"calm": {"zh": "平静", "en": "Calm"}}),
            r"labels\.choices\.mood: is not a form's choices; Counsel's are recommendation, "
            r"stance, vote, verdict",
        ),
        (
            lambda d: d["labels"]["stages"].update(review={"zh": "复核", "en": "Review"}),
            r"labels\.stages\.review: is not one of Counsel's stages",
        ),
        (
            lambda d: d["labels"]["criteria"]["cost"].update(fr="Coût"),
            r"labels\.criteria\.cost\.fr: is not a setting Counsel knows",
        ),
        (
            lambda d: d["labels"]["tasks"]["vote"].update(zh="表\x00决"),
            r"labels\.tasks\.vote\.zh: contains NUL U\+0000",
        ),
    ],
)
def test_a_bad_label_is_refused_with_its_key_path(
    tmp_path: Path, change: Any, expected: str
) -> None:
    """A label without a language, blank, unknown, or for a criterion nobody labelled is
    a ClassFileError naming the file and the key path."""
    data = shipped()
    change(data)
    path = write(tmp_path, data)
    with pytest.raises(ClassFileError, match=expected) as info:
        load_classes(path)
    assert str(path) in str(info.value)
    assert (info.value.key_path or "").startswith("labels.")


def test_the_shipped_file_itself_must_label_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loaded as the shipped file (nothing to fall back on), a missing label is refused."""
    import decisions.classes as classes_module

    data = shipped()
    del data["labels"]["choices"]["verdict"]
    text = yaml.safe_dump(data, allow_unicode=True)
    monkeypatch.setattr(classes_module, "_shipped_text", lambda: text)
    with pytest.raises(ClassFileError, match=r"labels\.choices\.verdict\.accept: missing"):
        load_classes()
