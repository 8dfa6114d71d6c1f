"""Fuzzing the three ways an answer arrives: ``counsel answer --file``, ``counsel answer
--set``, and the Resume form of the person's suspended run in the Prefect UI.

An answer is either recorded exactly once (one ``answers`` row, one ``task.answered.*``
audit event, the task answered, and sending it again changes nothing), or refused in one
sentence with the task still open and nothing written but, at most, the one
``task.answer_refused`` event that audits the refusal.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st
from prefect._internal.pydantic.v2_schema import create_v2_schema
from prefect.utilities.schema_tools import validate as validate_schema
from pydantic import ValidationError
from sqlalchemy import Engine

from decisions import services
from decisions.model import TaskStatus
from flows.forms import personal_form
from flows.people import _record
from tests.fuzz.conftest import Template
from tests.fuzz.harness import (
    FUZZ,
    LARGE_REPORTS_WANTED,
    OUTCOMES,
    Outcome,
    Snapshot,
    Stores,
    assert_clean_text,
    assert_refused,
    changed_tables,
    invoke,
    snapshot,
)
from tests.fuzz.hostile import (
    ENCODINGS,
    argv_text,
    encode_document,
    file_bytes,
    hostile_text,
    mostly,
    mutate_mapping,
    yaml_values,
)

pytestmark = LARGE_REPORTS_WANTED

CRITERIA = ("feasibility", "cost", "social_impact", "environmental_impact")
RECOMMENDATIONS = ["approve", "approve_with_conditions", "reject"]
CODES = ["ABCDE-23456", "abcde-23456", "XXXXX-XXXXX", "", "ABCDE23456", "\u202eABCDE-23456"]

ratings = mostly(
    st.integers(min_value=1, max_value=9),
    st.integers(min_value=-3, max_value=12)
    | st.sampled_from([0, 10, 10**20, 4.5, 9.0, "7", "seven", None, True]),
)


@st.composite
def opinions(draw: st.DrawFn) -> dict[str, Any]:
    """An expert's opinion: half the time a valid one, else with fields made hostile,
    wrongly typed, out of range, or unknown."""
    valid = {
        "recommendation": draw(st.sampled_from(RECOMMENDATIONS)),
        "rationale": draw(
            st.sampled_from(["Feasible with a tender.", "可行。", "Ok\r\nfine\tyes"])
        ),
        **{f"rating_{c}": draw(st.integers(min_value=1, max_value=9)) for c in CRITERIA},
    }
    if draw(st.booleans()):
        valid["conditions"] = draw(st.sampled_from(["Night shift; 两小时", "", "a\nb"]))
    if draw(st.booleans()):
        return valid
    base = {
        "recommendation": draw(mostly(st.just(valid["recommendation"]), hostile_text)),
        "rationale": draw(mostly(st.just(valid["rationale"]), hostile_text)),
        **{f"rating_{c}": draw(ratings) for c in CRITERIA},
        "conditions": draw(mostly(st.just(valid.get("conditions", "")), hostile_text)),
    }
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        base["answer_code"] = draw(st.sampled_from(CODES) | hostile_text)
    extra = ["answer_code", "your_id", "rating_network_readiness", "ratings", "stance", "kind"]
    return draw(mutate_mapping(base, fields=[*base, *extra]))


def _actor_token(template: Template, who: str) -> str:
    return {
        "expert": template.expert_token,
        "outsider": template.outsider_token,
        "planner": template.planner_token,
    }[who]


actors = st.sampled_from(["expert", "expert", "outsider", "expert", "planner", "expert"])


def judge(
    entry: str,
    engine: Engine,
    template: Template,
    before: Snapshot,
    result: Outcome | None,
    again: Any,
) -> str:
    """Check one answer's outcome (``result`` is None on the form path, which has no exit
    status) and return the branch it took."""
    after = snapshot(engine)
    assert after.chain_ok, f"{entry}: the audit chain no longer verifies"
    changed = changed_tables(before, after)
    task = services.get_task(engine, template.task_id)
    if task.status is TaskStatus.ANSWERED:
        if result is not None:
            assert result.raised is None, result.raised
            assert result.code == 0, result
            assert "Traceback" not in result.text
        assert changed == {"answers": 1, "audit_events": 1, "tasks": 0}, changed
        assert after.chain_count == before.chain_count + 1
        last = services.history(engine, template.decision_id)[-1]
        assert last.action.startswith("task.answered."), last.action
        stored = services.answer_for(engine, template.task_id)
        assert stored is not None and stored.kind == last.data["answer"]["kind"]
        # the text as stored, not as read back (reading normalises text again)
        assert_clean_text(last.data["answer"], where=f"{entry}: the recorded answer")
        repeat = again()
        assert snapshot(engine) == after, f"{entry}: sending the same answer again wrote"
        if isinstance(repeat, Outcome):
            assert repeat.code == 0 and "Already recorded" in repeat.out, repeat
        return "accepted"
    if result is not None:
        assert_refused(result, why=entry)
    assert task.status is TaskStatus.OPEN, f"{entry}: a refused answer left the task {task}"
    if not changed:
        return "refused"
    assert changed == {"audit_events": 1}, f"{entry}: a refused answer wrote {changed}"
    last = services.history(engine, template.decision_id)[-1]
    assert last.action == "task.answer_refused", last.action
    return "refused and audited"


def _answer(template: Template, url: str, token: str, *args: str) -> Outcome:
    return invoke(
        "answer", template.task_id, *args, env={"COUNSEL_DATABASE_URL": url, "COUNSEL_TOKEN": token}
    )


@FUZZ
@given(
    doc=st.one_of(
        st.tuples(opinions(), st.sampled_from(ENCODINGS)).map(lambda d: encode_document(*d)),
        st.tuples(opinions(), st.just("utf-8")).map(lambda d: encode_document(*d)),
        yaml_values.map(lambda v: encode_document(v, "utf-8")),
        file_bytes,
    ),
    who=actors,
)
def test_answer_file(
    doc: bytes, who: str, template: Template, stores: Stores, workdir: Path
) -> None:
    """`counsel answer TASK --file F` records a file's answer once or refuses it in a
    sentence, leaving the task open."""
    url, engine = stores.fresh()
    path = workdir / "answer.yaml"
    path.write_bytes(doc)
    before = stores.pristine()
    result = _answer(template, url, _actor_token(template, who), "--file", str(path))
    branch = judge(
        "counsel answer --file",
        engine,
        template,
        before,
        result,
        lambda: _answer(template, url, _actor_token(template, who), "--file", str(path)),
    )
    event(branch)
    OUTCOMES["answer-file", branch] += 1


@st.composite
def set_options(draw: st.DrawFn) -> list[str]:
    """``--set name=value`` options, as a shell would pass them (no NUL; a GBK argument
    arrives as lone surrogates), some of them malformed."""
    data = draw(opinions())
    hostile = draw(st.booleans())
    items = []
    for name, value in data.items():
        if hostile and draw(st.booleans()):
            value = draw(argv_text)
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        items.append(f"{name}={text}".replace("\x00", ""))
    if hostile and draw(st.booleans()):
        items.append(draw(argv_text))  # often without "="
    args = []
    for item in draw(st.permutations(items)):
        args += ["--set", item]
    return args


@FUZZ
@given(args=set_options(), who=actors)
def test_answer_set_options(args: list[str], who: str, template: Template, stores: Stores) -> None:
    """`counsel answer TASK --set name=value …` records the answer once or refuses it in a
    sentence, leaving the task open."""
    url, engine = stores.fresh()
    before = stores.pristine()
    token = _actor_token(template, who)
    result = _answer(template, url, token, *args)
    assert result.code != 2, f"a well-formed command line was a usage error: {result.err}"
    branch = judge(
        "counsel answer --set",
        engine,
        template,
        before,
        result,
        lambda: _answer(template, url, token, *args),
    )
    event(branch)
    OUTCOMES["answer-set", branch] += 1


def _json(value: Any) -> Any:
    """``value`` as it comes back from the UI's JSON (no NaN or infinity, string keys)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


@st.composite
def form_inputs(draw: st.DrawFn) -> dict[str, Any]:
    """What the Resume dialog can send: the opinion form's fields, maybe a changed id."""
    data = draw(opinions())
    data.setdefault("answer_code", "CODE")  # replaced by the task's code unless changed
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        data["your_id"] = draw(
            st.sampled_from(["zhou-min", "li-wei", "nobody", "E031"]) | yaml_values
        )
    return _json(data)


@FUZZ
@given(data=form_inputs())
@example(  # U+0958 is one character that NFC makes two: 20,000 fit the form, not the answer
    data={**{f"rating_{c}": 5 for c in CRITERIA}, "answer_code": "CODE",
          "recommendation": "approve", "rationale": "\u0958" * 20_000}
)  # fmt: skip
def test_answer_form(data: dict[str, Any], template: Template, stores: Stores) -> None:
    """What Prefect's server accepts in the task's Resume form the flow can read, and then
    records once or refuses with a sentence; it never crashes the person's run."""
    url, engine = stores.fresh()
    task = services.get_task(engine, template.task_id)
    if data.get("answer_code") == "CODE":
        data["answer_code"] = services.answer_code_for(engine, task.id)
    form_class = personal_form(task.kind, template.criteria, task.assignee_id)
    schema = create_v2_schema(form_class.__name__, model_base=form_class.with_initial_data())
    if validate_schema(data, schema):
        event("refused by the server's form schema")
        OUTCOMES["answer-form", "refused by the schema"] += 1
        return
    try:
        form = form_class(**data)  # what the flow does with input the server accepted
    except ValidationError as err:
        raise AssertionError(
            "Prefect's server accepts this input, but the flow cannot read it, so the "
            f"person's run crashes: {err}"
        ) from err
    before = stores.pristine()
    problem = _record(engine, task, form, template.criteria)
    branch = judge(
        "the answer form",
        engine,
        template,
        before,
        None,
        lambda: _record(engine, task, form, template.criteria),
    )
    assert (problem is None) == (branch == "accepted"), (problem, branch)
    if problem is not None:
        assert problem.strip() and "Traceback" not in problem, problem
    event(branch)
    OUTCOMES["answer-form", branch] += 1


def test_every_answer_branch_was_reached() -> None:
    """The fuzzing above reached both the recorded and the refused branch of each channel."""
    ran = {entry for entry, _ in OUTCOMES if entry.startswith("answer-")}
    if not ran:
        pytest.skip("the fuzz tests of this module did not run")
    for entry in sorted(ran):
        assert OUTCOMES[entry, "accepted"] > 0, (entry, dict(OUTCOMES))
        assert OUTCOMES[entry, "refused"] + OUTCOMES[entry, "refused and audited"] > 0, (
            entry,
            dict(OUTCOMES),
        )
