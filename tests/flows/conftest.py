"""Flow tests: one Prefect test harness per session, a fresh Counsel store per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine

from decisions import services
from decisions.classes import ClassBook, load_classes
from decisions.db import make_engine
from flows.demo import prepare_store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """Prefect's own test harness: a temporary API and database for the whole session."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(server_startup_timeout=90),
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


@dataclass
class Stage:
    engine: Engine
    classes: ClassBook
    url: str


@pytest.fixture
def stage(prefect_api: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    """A store with the sample expertise database and the example people, where the flows
    (which read ``COUNSEL_DATABASE_URL``) will find it."""
    url = f"sqlite:///{tmp_path / 'counsel.db'}"
    monkeypatch.setenv("COUNSEL_DATABASE_URL", url)
    engine = make_engine(url)
    prepare_store(engine, by="flow-test")
    yield Stage(engine, load_classes(os.environ.get("COUNSEL_CLASSES_FILE")), url)
    engine.dispose()


def proposal(**changes: object) -> services.Proposal:
    data = yaml.safe_load((EXAMPLES / "proposal.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    return services.Proposal.model_validate(data)


def run_to_the_end(engine: Engine, decision_id: str, *, timeout_s: float = 300) -> str:
    """Start the decision's first run and serve its deployments from a local runner (each
    run its own process, as on a worker) until it is closed, rejected or stalled."""
    from prefect import get_client

    from flows.local_runner import local_runner
    from flows.simulate import wait_until_settled
    from flows.warm import start_decision_run

    with local_runner(sweep_every_s=1.0, stale_after_s=30) as runner:
        with get_client(sync_client=True) as client:
            start_decision_run(client, engine, decision_id)
        final = wait_until_settled(engine, decision_id, timeout_s=timeout_s)
    assert not runner.errors, runner.errors
    return final
