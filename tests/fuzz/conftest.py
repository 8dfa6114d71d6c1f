"""Fuzz tests: hostile input at every entry point a user reaches never loses data or strands
a decision.

Hypothesis feeds each entry point — ``counsel answer`` files and ``--set`` options, the answer
forms of the Prefect UI, ``counsel submit`` proposals, ``counsel experts import`` YAML files and
CSV folders, and decision-classes files (``COUNSEL_CLASSES_FILE``) — with random YAML, a
megabyte of text, NUL and other control characters, bidirectional overrides, GB18030 and
Latin-1 bytes, empty files, wrong types, unknown fields, out-of-range ratings, duplicated and
dangling ids, and valid-looking input. Each example must end in one of two ways:

* refused: exit status 1, a sentence on stderr, no traceback, and the store unchanged (the
  rows of every table and the audit chain's head; a refused *answer* may add its one
  ``task.answer_refused`` audit event, which the README promises);
* accepted: the input recorded exactly once (one answer and one ``task.answered.*`` event,
  one decision, one import), and sending it again changes nothing more.

The CLI runs in-process through ``cli.app.main`` on a fresh copy of a prepared SQLite store
per example, with ``PREFECT_API_URL`` unset, so no Prefect server is needed.

How long they run: in CI every entry point gets 300 examples, derandomised (the same inputs
each run), which takes a couple of minutes on two cores. To search longer with random
inputs, set ``COUNSEL_FUZZ_EXAMPLES``::

    COUNSEL_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest tests/fuzz -q

Hypothesis keeps failing examples in ``.hypothesis/`` and replays them first on the next run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from decisions import services
from decisions.classes import load_classes
from decisions.db import make_engine
from flows.demo import examples_dir, prepare_store
from tests.fuzz.harness import Stores


@dataclass(frozen=True)
class Template:
    """A prepared store file and who and what is in it."""

    path: Path
    planner_token: str  # li-wei, the planner of the example proposal
    expert_token: str  # e031, who holds the open consultation task
    outsider_token: str  # zhou-min, a stakeholder who holds no task
    decision_id: str
    task_id: str
    criteria: tuple[str, ...]
    proposal: dict[str, object]

    def __repr__(self) -> str:  # keeps Hypothesis's failure reports short
        return f"Template({self.path.name}, {self.decision_id}, {self.task_id})"


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The sample expertise database and the example people, and one decision in
    consultation whose expert e031 (expert E031 of the sample) holds an open task."""
    path = tmp_path_factory.mktemp("fuzz-template") / "counsel.db"
    engine = make_engine(f"sqlite:///{path}")
    prepare_store(engine, by="fuzz")
    tokens = {who: services.issue_token(engine, who) for who in ("li-wei", "e031", "zhou-min")}
    proposal = yaml.safe_load((examples_dir() / "proposal.yaml").read_text(encoding="utf-8"))
    planner = services.get_actor(engine, "li-wei")
    classes = load_classes()
    decision = services.submit_proposal(
        engine, services.Proposal.model_validate(proposal), planner=planner, classes=classes
    )
    services.apply_transition(engine, decision.id, "start_consultation")
    task = services.assign_task(engine, decision.id, "consult", "e031").task
    criteria = classes.get(decision.class_name, decision.district_type).criteria
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return Template(
        path,
        tokens["li-wei"],
        tokens["e031"],
        tokens["zhou-min"],
        decision.id,
        task.id,
        criteria,
        proposal,
    )


@pytest.fixture(scope="module")
def stores(template: Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    """Fresh copies of the template store, one per example."""
    made = Stores(template.path, tmp_path_factory.mktemp("fuzz-stores"))
    yield made
    made.close()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the files each example writes."""
    return tmp_path_factory.mktemp("fuzz-files")
