"""An expert answers their consultation task in the Prefect UI, and the history shows it.

Against a real ``prefect server start`` (API and UI), Chromium driven by Playwright:

1. The decision flow of ``examples/proposal.yaml`` runs in a subprocess; simulated people
   answer every task except the round-1 consultation task of the first routed expert.
2. That expert opens the UI, goes to Runs, filters on their tag ``actor:<id>``, opens the
   one run it shows (``consult · <decision> · <id>``), waits for it to be Paused, opens
   Resume, fills the form — in the expert's language (Chinese), with the class's labels, and
   no id to type: answer code, recommendation, ratings, conditions, rationale — and submits
   it; the run resumes and completes.
3. The decision runs to ``closed``; the history artifact ``decision-<id>-history`` in the
   Artifacts page shows the expert's ``task.answered.opinion`` row and, in its description,
   the chain head that the store's own verification reports.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import pytest

from decisions import services
from decisions.classes import load_classes
from decisions.model import TaskKind
from flows.forms import FIELD_TEXTS
from flows.web.catalogue import text

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from .conftest import Driver, PrefectServer, Store

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    # the flow tests before this tier leave Prefect's keep-alive sockets to the garbage
    # collector, which may close them during this tier's first test (ResourceWarnings)
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

RATING = "7"  # the scripted experts rate 7 too (drive_decision.RATING): consensus in round 1
RATIONALE = "Answered in the Prefect UI: feasible if the tender caps the price."
# the form speaks the expert's language (zh, the default) with the class's labels
CRITERIA = tuple(
    load_classes().labels.criterion(c, "zh")
    for c in ("feasibility", "cost", "social_impact", "environmental_impact")  # class standard
)
CONSULT_FIELDS = FIELD_TEXTS[TaskKind.CONSULT]
CODE = text("field_answer_code", "zh")
RECOMMENDATION = text(CONSULT_FIELDS["recommendation"].title, "zh")
CONDITIONS_LABEL = text(CONSULT_FIELDS["conditions"].title, "zh")
RATIONALE_LABEL = text(CONSULT_FIELDS["rationale"].title, "zh")
CONDITIONS = "Cap the price at 4.2 million yuan a year\nNight shift around Renmin market"


def _wait_for_state(page: Page, state: str, what: str, timeout: float) -> None:
    """Wait until ``page`` shows the state badge ``state``, reloading it now and then in case
    the UI does not poll; each look gives the reloaded page a few seconds to fetch."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    badge = page.get_by_text(state, exact=True).filter(visible=True).first
    deadline = time.monotonic() + timeout
    while True:
        try:
            badge.wait_for(state="visible", timeout=5_000)
            return
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what} is not {state} after {timeout} s on {page.url}"
                ) from None
        page.reload()


def _submit(form: Locator) -> None:
    """Click Resume until the dialog closes, as a person would when the server answered with
    a passing error (a busy database); three tries, then the dialog's state is the failure."""
    from playwright.sync_api import expect

    for attempt in range(3):
        form.get_by_role("button", name="Resume", exact=True).click()
        try:
            expect(form).to_be_hidden(timeout=15_000)
            return
        except AssertionError:
            if attempt == 2:
                raise AssertionError("the Resume form did not close (refused input?)") from None


def test_expert_answers_in_the_ui_and_the_history_artifact_shows_it(
    page: Page, prefect_server: PrefectServer, decision_driver: Driver, store: Store
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    handoff = decision_driver.wait_handoff(timeout=90)
    expert, task_id = handoff["actor"], handoff["task"]
    decision_id = store.decision_id
    run_name = f"consult · {decision_id} · {expert}"
    # delivered to the expert out of band (as `counsel tasks` shows it to them)
    answer_code = services.answer_code_for(store.engine, task_id)

    # -- the expert finds their waiting run in the UI by their tag ---------------------------
    page.goto(prefect_server.url)
    page.wait_for_url(re.compile(r"/v2/"))  # Prefect 3.9 serves its V2 UI by default
    ui = page.url.split("/v2/")[0] + "/v2"
    page.get_by_role("link", name="Runs", exact=True).click()
    tags = page.get_by_placeholder("All tags")
    tags.fill(f"actor:{expert}")
    tags.press("Enter")
    expect(page).to_have_url(re.compile(r"tags=actor%3A" + re.escape(expert)))
    expect(page.get_by_text("1 Flow run", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(r"^consult · "))).to_have_count(1)
    page.get_by_role("link", name=run_name, exact=True).click()
    expect(page).to_have_url(re.compile(r"/runs/flow-run/"))
    expect(page.get_by_role("tab", name="Logs")).to_be_visible()  # the run's own page
    breadcrumbs = page.get_by_role("navigation", name="breadcrumb")
    expect(breadcrumbs.filter(has_text=run_name).first).to_be_visible()

    # -- it is suspended with its form (no process runs it): Resume, fill, submit -----------
    _wait_for_state(page, "Suspended", run_name, timeout=30)
    page.get_by_role("button", name="Open menu", exact=True).click()
    page.get_by_role("menuitem", name="Resume").click()
    form = page.get_by_role("dialog", name="Resume Flow Run")
    expect(form.get_by_role("heading", name="Consultation round 1")).to_be_visible()
    # the run knows whom it waits for: nobody types an id
    expect(form.get_by_role("textbox", name=re.compile(r"id", re.I))).to_have_count(0)
    form.get_by_role("textbox", name=CODE, exact=True).fill(answer_code)
    form.get_by_role("button", name=f"Select {RECOMMENDATION}").click()
    page.get_by_role("option", name="approve_with_conditions", exact=True).click()
    conditions = form.get_by_role("textbox", name=re.compile("^" + re.escape(CONDITIONS_LABEL)))
    conditions.fill(CONDITIONS)
    form.get_by_role("textbox", name=RATIONALE_LABEL, exact=True).fill(RATIONALE)
    for criterion in CRITERIA:
        form.get_by_role("spinbutton", name=criterion, exact=True).fill(RATING)
    # what the form holds is what the expert typed (no re-render lost a field)
    expect(form.get_by_role("textbox", name=CODE, exact=True)).to_have_value(answer_code)
    expect(form.get_by_role("button", name=f"Select {RECOMMENDATION}")).to_have_text(
        "approve_with_conditions"
    )
    expect(conditions).to_have_value(CONDITIONS)
    expect(form.get_by_role("textbox", name=RATIONALE_LABEL, exact=True)).to_have_value(RATIONALE)
    for criterion in CRITERIA:
        expect(form.get_by_role("spinbutton", name=criterion, exact=True)).to_have_value(RATING)
    _submit(form)
    expect(page.get_by_text("Flow run resumed")).to_be_visible()

    # -- a worker (here the driver's local runner) runs it: it records the answer ----------
    _wait_for_state(page, "Completed", run_name, timeout=30)
    answered = [
        e
        for e in services.history(store.engine, decision_id)
        if e.action == "task.answered.opinion" and e.data.get("task_id") == task_id
    ]
    assert [e.actor for e in answered] == [expert]
    answer = answered[0].data["answer"]  # the UI's answer, not a script's
    assert answer["rationale"] == RATIONALE
    assert answer["ratings"] == dict.fromkeys(
        ("feasibility", "cost", "social_impact", "environmental_impact"), int(RATING)
    )
    assert list(answer["conditions"]) == CONDITIONS.splitlines()

    # -- the decision ends; its history artifact shows the answer and the chain head ---------
    assert decision_driver.wait_final(timeout=120) == "closed"
    chain = services.verify(store.engine)
    assert chain.ok
    key = f"decision-{decision_id.lower()}-history"
    head = f"chain head: {chain.count} events, hash {chain.head_hash}"

    page.goto(f"{ui}/artifacts")
    page.get_by_placeholder("Search artifacts").fill(key)
    page.get_by_text(key, exact=True).click()
    expect(page).to_have_url(re.compile(r"/artifacts/key/" + re.escape(key)))
    expect(page.get_by_role("heading", name=re.compile(re.escape(head)))).to_be_visible()
    page.get_by_role("link", name=re.compile(r"^[0-9a-f]{8}$")).first.click()  # latest version
    expect(page.get_by_text(f"Audit history of {decision_id}; {head}.")).to_be_visible()
    table = page.get_by_role("tabpanel", name="Artifact")
    row = (
        table.get_by_role("row")
        .filter(has=page.get_by_role("cell", name=expert, exact=True))
        .filter(has=page.get_by_role("cell", name="task.answered.opinion", exact=True))
    )
    for attempt in range(3):  # a busy machine can leave the table half-rendered: look again
        table.get_by_role("textbox", name="Search").fill(task_id)
        try:
            expect(row).to_have_count(1)
            break
        except AssertionError:
            if attempt == 2:
                raise
            page.reload()
            expect(page.get_by_text(f"Audit history of {decision_id}; {head}.")).to_be_visible()
    expect(row.get_by_role("cell", name=f"{task_id}: approve_with_conditions")).to_be_visible()
