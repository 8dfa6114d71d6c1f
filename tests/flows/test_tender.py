"""A tender carried by the flows on both stores: qualification, the draw, a replacement,
scoring, the award and execution, and a draw that checks out."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from decisions import services
from decisions.classes import load_classes
from decisions.db import make_engine
from decisions.model import State, Task, TaskKind, utcnow
from flows.demo import prepare_store
from flows.demo_tender import WITNESS_VALUE, file_tender, tender_script
from flows.simulate import Participants
from flows.tender import check_draw
from tests.flows.conftest import run_to_the_end

pytestmark = [
    pytest.mark.flows,
    pytest.mark.slow,
    # Prefect's HTTP clients leave keep-alive sockets to the harness server for the garbage
    # collector; they surface as unraisable ResourceWarnings at the end of a flow test.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


@pytest.fixture
def tender_store(
    prefect_api: None, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    monkeypatch.setenv("COUNSEL_DATABASE_URL", db_url)  # where the flows find the store
    engine = make_engine(db_url)
    prepare_store(engine, by="flow-test")
    yield engine
    engine.dispose()


# SQLite runs the same tender through the CLI (`counsel demo --tender`, tests/integration)
@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_tender_runs_end_to_end_and_its_draw_checks_out(tender_store: Engine) -> None:
    """Two bidders are excluded with their rules; the notary's value is in the draw; the
    evaluator who declines is replaced by the first alternate; every remaining seat scores
    exactly its lots' qualified bids; the body awards; only the winners' staff execute,
    in the lots they won; check-draw agrees."""
    engine = tender_store
    decision = file_tender(engine)
    classes = load_classes(os.environ.get("COUNSEL_CLASSES_FILE"))
    with Participants(engine, classes, tender_script(engine)):
        final = run_to_the_end(engine, decision.id, timeout_s=600)
    assert final == State.CLOSED.value
    events = {e.action: e.data for e in services.history(engine, decision.id)}
    excluded = {(x["bidder"], x["rule"]) for x in events["tender.qualified"]["excluded"]}
    assert excluded == {("huanyu", "min-sweepers"), ("xinda", "not-blacklisted")}
    drawn = events["tender.panel_drawn"]
    assert drawn["witness"] == WITNESS_VALUE
    (declined,) = events["tender.replaced"]["declined"]
    assert events["tender.replaced"]["replacements"] == {declined: drawn["alternates"][0]}
    tasks = services.tasks_of(engine, decision.id)
    scorers = {t.assignee_id for t in tasks if t.kind is TaskKind.SCORE}
    assert declined in scorers and drawn["alternates"][0] in scorers
    assert not scorers - set(drawn["panel"]) - set(drawn["alternates"][:1])
    winners = {lot["lot"]: lot["winner"] for lot in events["tender.ranked"]["ranking"]["lots"]}
    assert set(winners) == {"L1", "L2", "L3"} and None not in winners.values()
    executors = {t.assignee_id for t in tasks if t.kind is TaskKind.EXECUTE}
    bidders = {"B01": "jiejing", "B02": "jiejing", "B03": "lvyuan", "B07": "qingcheng"}
    assert executors == {f"{bidders[b]}-site" for b in winners.values()}
    assert "server_seed" in events["tender.seed_revealed"]
    assert check_draw(engine, decision.id) == []
    # on the answer page an evaluator reads the bids they scored, a member the ranking
    scored = next(t for t in tasks if t.kind is TaskKind.SCORE and t.assignee_id != declined)
    voted = next(t for t in tasks if t.kind is TaskKind.VOTE)
    assert "绿源城市环境管理有限公司" in page_of(engine, scored)
    assert "评标排名" in page_of(engine, voted)


def page_of(engine: Engine, task: Task) -> str:
    """The task's page as its person's link opens it."""
    import warnings

    from starlette.exceptions import StarletteDeprecationWarning

    with warnings.catch_warnings():  # Starlette asks for httpx2; httpx works (see test_answer_page)
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from starlette.testclient import TestClient

    from decisions.links import task_token
    from decisions.uow import UnitOfWork
    from flows.web.app import create_app

    with UnitOfWork(engine, read_only=True) as uow:
        secret = uow.secret()
    token = task_token(secret, task.id, task.assignee_id, utcnow() + timedelta(days=1))
    app = create_app(engine, notify_prefect=False)
    with TestClient(app) as client:
        response = client.get(f"/t/{token}")
    assert response.status_code == 200
    return str(response.text)
