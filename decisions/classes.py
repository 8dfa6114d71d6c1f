"""Decision classes as data: a YAML policy file, shipped with the package, validated here.

A class says how many experts to consult, on which criteria, when consensus is reached,
how long each step may take, which body decides with which quorum and majority, and how
execution is accepted. ``district_types`` adjusts a class for the developed east, the middle
and the new-town west. A mistake in the file is reported with the file, the key path and
what is wrong, e.g. ``classes.yaml: classes.major.quorum: must be at most 1 (got 1.5)``.

Quorum is the share of eligible (not recused) members who must vote, as ``0.5`` or ``2/3``.
Majority is ``simple`` (more than half of the votes cast in favour), ``two_thirds`` (at least
two thirds) or ``unanimous``.

**Labels.** People read criteria, choices and stages by name, in Chinese or English, never
as ``social_impact`` or ``approve_with_conditions``: the file's ``labels`` give every
criterion a class rates, every choice of the answer forms (:data:`CHOICES`), every stage
(:data:`STAGES`) and every kind of task (:data:`TASKS`) a ``zh`` and an ``en`` label. A file
that overrides the shipped one may leave ``labels`` out, or give only some: an entry it gives
replaces the shipped entry (and must have both languages), an entry it leaves out is the
shipped one. Whatever is still missing afterwards is refused with its key path, e.g.
``classes.yaml: labels.criteria.noise: missing; classes.quiet.criteria rates it, so it needs
a zh and an en label``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from decisions.exceptions import ClassFileError, ConfigurationError
from decisions.model import Acceptance, Comment, Opinion, TaskKind, Vote
from decisions.tender.config import TenderRules
from decisions.text import Name, decode_utf8, shown
from decisions.yamlfile import safe_load as safe_yaml

__all__ = [
    "DistrictType",
    "ConsensusRule",
    "Durations",
    "AcceptanceRule",
    "DecisionClass",
    "Label",
    "Labels",
    "ClassBook",
    "CHOICES",
    "STAGES",
    "TASKS",
    "load_classes",
    "parse_duration",
]

DistrictType = Literal["east", "middle", "west"]
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(value: Any) -> timedelta:
    """Read ``30m``, ``72h`` or ``14d`` (or a timedelta) as a timedelta; ``s`` for seconds
    exists for drills and tests."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match and int(match.group(1)) > 0:
            try:
                return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
            except OverflowError:
                raise ValueError(f"the duration {shown(value)} is too long") from None
    raise ValueError(
        f"a duration is a positive number with s, m, h or d, like 72h, not {shown(value)}"
    )


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def parse_share(value: Any) -> Any:
    """Read ``2/3`` as a fraction; numbers pass through to the range check."""
    if isinstance(value, str) and "/" in value:
        top, _, bottom = value.partition("/")
        try:
            return float(Fraction(int(top), int(bottom)))
        except (ValueError, ZeroDivisionError) as err:
            raise ValueError(
                f"a share is a number like 0.5 or a fraction like 2/3, not {shown(value)}"
            ) from err
    return value


Share = Annotated[float, BeforeValidator(parse_share)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConsensusRule(_Strict):
    """Consensus holds when every criterion's IQR is at most ``max_iqr`` and, where
    alternatives are ranked, Kendall's W is at least ``min_kendall_w``."""

    max_iqr: float = Field(ge=0, le=8)
    min_kendall_w: float | None = Field(default=None, ge=0, le=1)


class Durations(_Strict):
    """How long each step may take. A person's task is due within ``answer`` or its stage's
    own duration (``consult``, ``discuss``, ``vote``), whichever is shorter; an executor's
    within ``execute``; the reminder goes out ``reminder`` after the task was given."""

    answer: Duration
    reminder: Duration
    consult: Duration
    discuss: Duration
    vote: Duration
    execute: Duration


class AcceptanceRule(_Strict):
    """How executed work is accepted: by how many inspectors, under which rule, and how
    many execution cycles (the first and its rework) there may be before the decision stalls."""

    inspectors: int = Field(ge=1, le=10)
    rule: Literal["all", "majority"] = "all"
    max_cycles: int = Field(default=3, ge=1, le=10)


class DecisionClass(_Strict):
    """Everything the flows need to know about one class of decision."""

    name: str
    district_type: DistrictType | None = None
    description: str = Field(min_length=1)
    experts: int = Field(ge=1, le=50)
    alternates: int = Field(ge=0, le=50)
    min_answers: int = Field(ge=1, le=50)
    criteria: tuple[str, ...] = Field(min_length=1)
    consensus: ConsensusRule
    max_rounds: int = Field(ge=1, le=10)
    durations: Durations
    decision_body: str = Field(min_length=1)
    quorum: Share = Field(gt=0, le=1, description="share of eligible members who must vote")
    majority: Literal["simple", "two_thirds", "unanimous"]
    acceptance: AcceptanceRule
    #: a tender's rules: qualification, the draw of evaluators, scoring (tender classes only)
    tender: TenderRules | None = None

    @model_validator(mode="after")
    def _check_consistency(self) -> DecisionClass:
        if self.min_answers > self.experts:
            raise ValueError(
                f"min_answers ({self.min_answers}) cannot exceed experts ({self.experts})"
            )
        if len(set(self.criteria)) != len(self.criteria):
            raise ValueError("criteria must not repeat")
        if self.durations.reminder >= self.durations.answer:
            raise ValueError("the reminder must come before the answer deadline")
        return self


class _ClassOverride(_Strict):
    description: str | None = None
    experts: int | None = None
    alternates: int | None = None
    min_answers: int | None = None
    criteria: tuple[str, ...] | None = None
    consensus: dict[str, Any] | None = None
    max_rounds: int | None = None
    durations: dict[str, Any] | None = None
    decision_body: str | None = None
    quorum: Any = None
    majority: str | None = None
    acceptance: dict[str, Any] | None = None
    tender: dict[str, Any] | None = None


class _ClassEntry(_ClassOverride):
    district_types: dict[DistrictType, _ClassOverride] = Field(default_factory=dict)


def _literal(model: type[BaseModel], field: str) -> tuple[str, ...]:
    return tuple(get_args(model.model_fields[field].annotation))


#: The choices of the answer forms, by group, each shown with its label: an expert's
#: recommendation, a position in discussion, a member's vote (or recusal), an inspector's
#: verdict.
CHOICES: dict[str, tuple[str, ...]] = {
    "recommendation": _literal(Opinion, "recommendation"),
    "stance": _literal(Comment, "stance"),
    "vote": (*_literal(Vote, "choice"), "recuse"),
    "verdict": _literal(Acceptance, "verdict"),
}
#: The four stages of a decision (:data:`decisions.procedure.STAGES` names the same).
STAGES: tuple[str, ...] = ("consult", "discuss", "decide", "execute")
#: The kinds of task a person is given.
TASKS: tuple[str, ...] = tuple(kind.value for kind in TaskKind)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("a label cannot be blank")
    return value


LabelText = Annotated[Name, AfterValidator(_not_blank)]


class Label(_Strict):
    """A name shown to people: in Chinese (``zh``) and in English (``en``)."""

    zh: LabelText
    en: LabelText

    def __call__(self, lang: str) -> str:
        """The label in ``lang`` (``zh`` or ``en``; Chinese for anything else)."""
        return self.en if lang == "en" else self.zh


class _LabelFile(_Strict):
    criteria: dict[str, Label] = Field(default_factory=dict)
    choices: dict[str, dict[str, Label]] = Field(default_factory=dict)
    stages: dict[str, Label] = Field(default_factory=dict)
    tasks: dict[str, Label] = Field(default_factory=dict)


@dataclass(frozen=True)
class Labels:
    """What people read for a criterion, a choice, a stage or a kind of task.

    >>> labels = load_classes().labels
    >>> labels.criterion("social_impact", "zh"), labels.choice("vote", "recuse", "en")
    ('社会影响', 'Recuse')
    """

    criteria: Mapping[str, Label]
    choices: Mapping[str, Mapping[str, Label]]
    stages: Mapping[str, Label]
    tasks: Mapping[str, Label]

    def criterion(self, name: str, lang: str) -> str:
        """A criterion's label (its name, spelt out, if the file has none)."""
        label = self.criteria.get(name)
        return label(lang) if label else name.replace("_", " ")

    def choice(self, group: str, value: str, lang: str) -> str:
        """The label of one choice of a group of :data:`CHOICES`."""
        label = self.choices.get(group, {}).get(value)
        return label(lang) if label else value.replace("_", " ")

    def stage(self, stage: str, lang: str) -> str:
        """The label of one of the :data:`STAGES`."""
        label = self.stages.get(stage)
        return label(lang) if label else stage

    def task(self, kind: str, lang: str) -> str:
        """The label of a kind of task (:data:`TASKS`)."""
        label = self.tasks.get(kind)
        return label(lang) if label else kind


class _ClassFile(_Strict):
    version: Literal[1]
    classes: dict[str, _ClassEntry] = Field(min_length=1)
    labels: _LabelFile | None = None


class ClassBook:
    """The validated classes of one file; ``get`` answers for a class and district type,
    ``labels`` says what people read for criteria, choices and stages."""

    def __init__(
        self,
        classes: dict[tuple[str, str | None], DecisionClass],
        source: str,
        labels: Labels | None = None,
    ) -> None:
        self._classes = classes
        self.source = source
        self.labels = labels or Labels({}, {}, {}, {})

    @property
    def names(self) -> list[str]:
        return sorted({name for name, _ in self._classes})

    @property
    def district_types(self) -> tuple[str, ...]:
        """The district types a class may be adjusted for (``east``, ``middle``, ``west``)."""
        return get_args(DistrictType)

    def get(self, name: str, district_type: str | None = None) -> DecisionClass:
        """The class ``name``, adjusted for ``district_type`` if the file says how."""
        if (name, None) not in self._classes:
            raise ConfigurationError(
                f"There is no decision class {name!r} in {self.source}; "
                f"known classes: {', '.join(self.names)}."
            )
        return self._classes.get((name, district_type)) or self._classes[(name, None)]


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _describe(error: Any, prefix: tuple[Any, ...] = ()) -> tuple[str, str]:
    parts = [str(part) for part in (*prefix, *error["loc"]) if part != "[key]"]
    loc = ".".join(parts)
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if error["type"] not in {"missing", "extra_forbidden", "value_error"} and "input" in error:
        message = f"{message} (got {shown(error['input'])})"
    if error["type"] == "extra_forbidden":
        message = "is not a setting Counsel knows (check the spelling)"
    return loc, message


def _fail(source: str, errors: list[tuple[str, str]]) -> ClassFileError:
    first_key = errors[0][0] or None
    lines = [f"{source}: {key}: {msg}" if key else f"{source}: {msg}" for key, msg in errors]
    return ClassFileError(
        "The decision-classes file is not valid:\n  " + "\n  ".join(lines),
        path=source,
        key_path=first_key,
    )


def _shipped_text() -> str:
    return resources.files("decisions").joinpath("classes.yaml").read_text(encoding="utf-8")


@cache
def _shipped_labels() -> _LabelFile:
    """The labels of the shipped file, which a file of one's own adds to or replaces."""
    raw = safe_yaml(_shipped_text())
    return _LabelFile.model_validate(raw.get("labels") or {})


def _with_labels(
    given: _LabelFile | None, base: _LabelFile | None, classes: dict[str, _ClassEntry]
) -> tuple[Labels, list[tuple[str, str]]]:
    """The file's labels over ``base``'s, and what is still missing or unknown."""
    given = given or _LabelFile()
    base = base or _LabelFile()
    groups = set(base.choices) | set(given.choices)
    labels = Labels(
        criteria={**base.criteria, **given.criteria},
        choices={g: {**base.choices.get(g, {}), **given.choices.get(g, {})} for g in groups},
        stages={**base.stages, **given.stages},
        tasks={**base.tasks, **given.tasks},
    )
    errors: list[tuple[str, str]] = []
    rated: dict[str, str] = {}
    for name, entry in classes.items():
        if entry.criteria:
            rated.update((c, f"classes.{name}.criteria") for c in entry.criteria if c not in rated)
        for variant, override in entry.district_types.items():
            where = f"classes.{name}.district_types.{variant}.criteria"
            rated.update((c, where) for c in override.criteria or () if c not in rated)
    errors += [
        (f"labels.criteria.{c}", f"missing; {where} rates it, so it needs a zh and an en label")
        for c, where in rated.items()
        if c not in labels.criteria
    ]
    for group in sorted(groups - set(CHOICES)):
        errors.append(
            (f"labels.choices.{group}", f"is not a form's choices; Counsel's are {_list(CHOICES)}")
        )
    for group, values in CHOICES.items():
        known = labels.choices.get(group, {})
        errors += [
            (
                f"labels.choices.{group}.{v}",
                "missing; every choice of a form needs a zh and an en label",
            )
            for v in values
            if v not in known
        ]
        errors += [
            (
                f"labels.choices.{group}.{v}",
                f"is not a choice of the {group} form; its choices are {_list(values)}",
            )
            for v in known
            if v not in values
        ]
    for kind, names, mapping in (("stages", STAGES, labels.stages), ("tasks", TASKS, labels.tasks)):
        errors += [
            (f"labels.{kind}.{n}", "missing; it needs a zh and an en label")
            for n in names
            if n not in mapping
        ]
        errors += [
            (f"labels.{kind}.{n}", f"is not one of Counsel's {kind}: {_list(names)}")
            for n in mapping
            if n not in names
        ]
    return labels, errors


def _list(names: Mapping[str, Any] | tuple[str, ...]) -> str:
    return ", ".join(names)


def load_classes(path: str | Path | None = None) -> ClassBook:
    """Read and validate a classes file (the one shipped with Counsel by default).

    Raises
    ------
    ClassFileError
        If the file is missing, is not YAML, or breaks a rule; the message names the file,
        the key path (``classes.major.quorum``, ``labels.criteria.cost.zh``) and what is
        wrong.
    """
    if path is None:
        source = "classes.yaml (shipped with Counsel)"
        text = _shipped_text()
    else:
        source = str(path)
        try:
            text = decode_utf8(Path(path).read_bytes(), source=source)
        except OSError as err:
            raise ClassFileError(
                f"Cannot read the decision-classes file {source}: {err.strerror}.", path=source
            ) from err
        except ValueError as err:
            raise ClassFileError(str(err), path=source) from err
    try:
        raw = safe_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ClassFileError(f"{source} is not valid YAML{where}: {problem}.", path=source) from err
    if not isinstance(raw, dict):
        raise ClassFileError(
            f"{source} must be a mapping with 'version' and 'classes' at the top.", path=source
        )
    try:
        parsed = _ClassFile.model_validate(raw)
    except ValidationError as err:
        raise _fail(source, [_describe(e) for e in err.errors()]) from err

    classes: dict[tuple[str, str | None], DecisionClass] = {}
    errors: list[tuple[str, str]] = []
    for name, entry in parsed.classes.items():
        base = entry.model_dump(exclude_none=True, exclude={"district_types"})
        variants: list[tuple[str | None, dict[str, Any], tuple[Any, ...], set[str] | None]] = [
            (None, base, ("classes", name), None)
        ]
        for variant, override in entry.district_types.items():
            changes = override.model_dump(exclude_none=True)
            merged = _merge(base, changes)
            prefix = ("classes", name, "district_types", variant)
            variants.append((variant, merged, prefix, set(changes)))
        for district_type, data, key_prefix, changed in variants:
            try:
                classes[(name, district_type)] = DecisionClass.model_validate(
                    {**data, "name": name, "district_type": district_type}
                )
            except ValidationError as err:
                # A variant repeats its base's mistakes; report only what it changed itself.
                errors.extend(
                    _describe(e, key_prefix)
                    for e in err.errors()
                    if changed is None or not e["loc"] or e["loc"][0] in changed
                )
    labels, label_errors = _with_labels(
        parsed.labels, None if path is None else _shipped_labels(), parsed.classes
    )
    errors += label_errors
    if errors:
        raise _fail(source, errors)
    return ClassBook(classes, source, labels)
