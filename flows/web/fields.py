"""Each task's HTML form on the answer page: its fields, reading what was sent, and saying
what is wrong with it in the person's language.

The fields are those of the task's form (:func:`flows.forms.form_for`), read from its JSON
Schema, so the page asks for exactly what the answer path takes: a 1–9 rating per criterion
becomes nine large buttons, a choice becomes one button per value with the class's label,
a number stays a number, and text is a text area with the form's length limit. An executor's
measures done are ticked from the task's own list when it has one. Nobody types an answer
code (the page adds the one the store derives) or their id (the link says who they are).

:func:`read_answer` turns the ``application/x-www-form-urlencoded`` body into the answer's
data and into what to show again if it is refused; :func:`problems` checks it the way the
answer path will, to say in Chinese or English what to fix (the store still judges it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from decisions.classes import CHOICES, Labels
from decisions.model import TaskKind, Vote
from decisions.tally import vote_problem
from decisions.text import LINE_MAX, clean_text
from flows.forms import FIELD_TEXTS, LIST_FIELDS, form_for, split_lines
from flows.web.catalogue import text

__all__ = ["Option", "HtmlField", "form_fields", "read_answer", "problems", "MEASURES"]

#: The field whose values are ticked from a task's measures (their positions are sent).
MEASURES = "measures_done"
#: The items a list field (conditions, measures done) holds at most, as the answers do.
MAX_ITEMS = 100
_CODE_FOR_CHECKING = "AAAAA-22222"  # the real code is added by the page when it submits


@dataclass(frozen=True)
class Option:
    """One button of a rating or a choice, or one tick of a list."""

    value: str
    label: str
    checked: bool = False


@dataclass(frozen=True)
class HtmlField:
    """One field of the page's form, ready for the template.

    ``widget`` is ``rating`` (1–9), ``choice`` (one of ``options``), ``number``, ``text``
    (a text area) or ``ticks`` (any of ``options``).
    """

    name: str
    widget: str
    label: str
    hint: str | None
    required: bool
    value: str = ""
    options: tuple[Option, ...] = ()
    limit: int | None = None
    low: int | None = None
    high: int | None = None
    wrong: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def _schema(kind: TaskKind, criteria: Sequence[str]) -> dict[str, Any]:
    return _schema_of(kind, tuple(criteria))


@lru_cache(maxsize=64)
def _schema_of(kind: TaskKind, criteria: tuple[str, ...]) -> dict[str, Any]:
    """The JSON Schema of a task's form (read, never changed: made once per form)."""
    schema: dict[str, Any] = form_for(kind, criteria).model_json_schema()
    return schema


def _cell(criteria: Sequence[str], name: str) -> tuple[str, str]:
    """The bid and criterion of a scoring field ``points_<n>`` (from the form's cells)."""
    bid, _, criterion = criteria[int(name.removeprefix("points_"))].partition("|")
    return bid, criterion


def field_label(
    kind: TaskKind, name: str, labels: Labels, lang: str, criteria: Sequence[str] = ()
) -> str:
    """What a field is called on the page."""
    if name.startswith("rating_"):
        return labels.criterion(name.removeprefix("rating_"), lang)
    if name.startswith("points_"):
        bid, criterion = _cell(criteria, name)
        return f"{bid} · {labels.criterion(criterion, lang)}"
    return text(FIELD_TEXTS[kind][name].title, lang)


def form_fields(
    kind: TaskKind,
    criteria: Sequence[str],
    labels: Labels,
    lang: str,
    *,
    measures: Sequence[str] = (),
    typed: Mapping[str, Sequence[str]] | None = None,
    wrong: Sequence[str] = (),
) -> list[HtmlField]:
    """The fields of a task's form in ``lang``, filled with what was ``typed`` (the values
    sent, by field name), the ``wrong`` ones marked."""
    typed = typed or {}
    schema = _schema(kind, criteria)
    required = set(schema.get("required", ()))
    fields = []
    order = [f"rating_{c}" for c in criteria] if kind is TaskKind.CONSULT else []
    order += [n for n in schema["properties"] if n.startswith("points_")]
    order += list(FIELD_TEXTS[kind])
    for name in order:
        prop = schema["properties"][name]
        sent = list(typed.get(name, ()))
        value = sent[-1] if sent else ""
        scored = name.startswith("points_")
        spec = None if name.startswith("rating_") or scored else FIELD_TEXTS[kind][name]
        label = field_label(kind, name, labels, lang, criteria)
        hint = text(spec.hint, lang) if spec and spec.hint else None
        common: dict[str, Any] = {
            "name": name,
            "label": label,
            "required": name in required,
            "wrong": name in wrong,
        }
        if prop.get("type") == "boolean":  # one tick: declining a tender's seat
            tick: tuple[Option, ...] = (Option("true", label, "true" in sent),)
            fields.append(HtmlField(widget="ticks", hint=hint, options=tick, **common))
        elif scored:  # required unless declining, which the form cannot say: the page checks
            common["required"] = False
            hint = text("hint_points", lang)
            fields.append(
                HtmlField(widget="number", hint=hint, value=value, low=0, high=100, **common)
            )
        elif name.startswith("rating_"):
            options = tuple(Option(str(n), str(n), value == str(n)) for n in range(1, 10))
            fields.append(HtmlField(widget="rating", hint=None, options=options, **common))
        elif spec and spec.choices:
            options = tuple(
                Option(v, labels.choice(spec.choices, v, lang), value == v)
                for v in CHOICES[spec.choices]
                if v in prop.get("enum", ())
            )
            fields.append(HtmlField(widget="choice", hint=hint, options=options, **common))
        elif prop.get("type") == "integer":
            fields.append(
                HtmlField(
                    widget="number",
                    hint=hint,
                    value=value,
                    low=prop.get("minimum"),
                    high=prop.get("maximum"),
                    **common,
                )
            )
        elif name == MEASURES and measures:
            ticked = set(sent)
            options = tuple(Option(str(i), m, str(i) in ticked) for i, m in enumerate(measures))
            fields.append(HtmlField(widget="ticks", hint=None, options=options, **common))
        else:
            fields.append(
                HtmlField(
                    widget="text",
                    hint=hint,
                    value=value,
                    limit=prop.get("maxLength"),
                    **{**common, "required": name in required and prop.get("minLength", 0) > 0},
                )
            )
    return fields


def read_answer(
    kind: TaskKind,
    criteria: Sequence[str],
    sent: Mapping[str, Sequence[str]],
    *,
    measures: Sequence[str] = (),
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The answer's data from a parsed form body (``urllib.parse.parse_qs``), and what was
    typed, to show again if the answer is refused. Fields the form does not have are left
    out; a field sent twice counts once (the last), except the ticks of measures."""
    schema = _schema(kind, criteria)
    data: dict[str, Any] = {}
    typed: dict[str, list[str]] = {}
    for name, prop in schema["properties"].items():
        values = [v for v in sent.get(name, ()) if isinstance(v, str)]
        if name == "answer_code" or not values:
            continue
        typed[name] = values
        if name == MEASURES and measures:
            picked = sorted({int(v) for v in values if v.isdigit() and int(v) < len(measures)})
            data[name] = "\n".join(measures[i] for i in picked)
            continue
        value = values[-1]
        if prop.get("type") == "boolean":
            data[name] = "true" in values
        elif prop.get("type") == "integer" or name.startswith("points_"):
            stripped = value.strip()
            data[name] = int(stripped) if stripped.isdigit() and len(stripped) < 6 else value
        elif "enum" in prop and value == "":
            continue  # nothing chosen
        else:
            data[name] = value
    return data, typed


def problems(
    kind: TaskKind,
    criteria: Sequence[str],
    data: Mapping[str, Any],
    labels: Labels,
    lang: str,
    *,
    recommendations: Mapping[str, int] | None = None,
) -> list[tuple[str, str]]:
    """What is wrong with an answer, as ``(field, sentence in lang)``, in the form's order;
    empty when the answer path would take it (as far as the form and the experts' consensus
    can tell: the store still checks the task and the separation of powers)."""
    schema = _schema(kind, criteria)
    required = set(schema.get("required", ()))
    found: dict[str, str] = {}

    def say(name: str, key: str, **values: object) -> None:
        found.setdefault(
            name,
            text(key, lang, field=field_label(kind, name, labels, lang, criteria), **values),
        )

    declining = data.get("decline") is True
    for name, prop in schema["properties"].items():
        if name == "answer_code":
            continue
        value = data.get(name)
        if name.startswith("points_"):
            if declining:
                continue
            if value is None:
                say(name, "missing_text")
            elif not isinstance(value, int) or not 0 <= value <= 100:
                say(name, "bad_points")
        elif name.startswith("rating_"):
            if value is None:
                say(name, "missing_rating")
            elif not isinstance(value, int) or not 1 <= value <= 9:
                say(name, "bad_rating")
        elif "enum" in prop:
            if value is None and name in required:
                say(name, "missing_choice")
            elif value is not None and value not in prop["enum"]:
                say(name, "missing_choice")
        elif prop.get("type") == "integer":
            if value is None:
                say(name, "missing_text")
            elif not isinstance(value, int) or not prop["minimum"] <= value <= prop["maximum"]:
                say(name, "bad_percent")
        elif isinstance(value, str) or value is None:
            typed = value or ""
            if not typed.strip():
                if prop.get("minLength", 0) > 0:
                    say(name, "missing_text")
                continue
            try:
                clean_text(typed)
            except ValueError:
                say(name, "bad_characters")
                continue
            if len(typed) > prop["maxLength"]:
                say(name, "too_long", length=f"{len(typed):,}", limit=f"{prop['maxLength']:,}")
            elif name in LIST_FIELDS:
                items = split_lines(typed)
                if len(items) > MAX_ITEMS:
                    say(name, "too_many_lines", limit=MAX_ITEMS)
                elif any(len(item) > LINE_MAX for item in items):
                    say(name, "line_too_long", limit=f"{LINE_MAX:,}")
    if not found:
        _check_answer(kind, criteria, data, say)
    if not found and kind is TaskKind.VOTE and recommendations is not None:
        answer = _answer(kind, criteria, data)
        if isinstance(answer, Vote) and vote_problem(answer, dict(recommendations)):
            found["justification"] = text("needs_justification", lang)
    order = [*(f"rating_{c}" for c in criteria), *FIELD_TEXTS[kind]]
    return sorted(found.items(), key=lambda item: order.index(item[0]) if item[0] in order else 0)


def _answer(kind: TaskKind, criteria: Sequence[str], data: Mapping[str, Any]) -> Any:
    form = form_for(kind, tuple(criteria)).model_validate(
        {**data, "answer_code": _CODE_FOR_CHECKING}
    )
    return form.to_answer()


def _check_answer(
    kind: TaskKind, criteria: Sequence[str], data: Mapping[str, Any], say: Any
) -> None:
    """What only the answer itself can tell: a list field's lines, one by one."""
    try:
        _answer(kind, criteria, data)
    except ValidationError as err:
        _say_invalid(kind, err, say)


def _say_invalid(kind: TaskKind, err: ValidationError, say: Any) -> None:
    """The form's own refusals, field by field."""
    for error in err.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        if name not in FIELD_TEXTS[kind]:
            continue
        if error["type"] == "too_long":
            say(name, "too_many_lines", limit=error.get("ctx", {}).get("max_length", 100))
        elif len(error["loc"]) > 1:
            say(name, "line_too_long", limit=f"{LINE_MAX:,}")
        else:
            say(name, "bad_field", reason=error["msg"])
