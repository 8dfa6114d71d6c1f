"""What the Prefect UI shows of a decision: artifacts and events, views of the store.

Markdown artifacts keyed ``decision-<id>-<stage>`` (one version per publication, so the UI
shows a timeline; a step publishes its reports with its dossier, in its own run, see
:func:`reports_of_step`), a table artifact ``decision-<id>-history`` listing the audit
events with the chain's head (count and hash) so the UI record anchors the store's chain,
the dossier ``decision-<id>`` (:mod:`flows.dossier`), and events named as the history names
what they report (``counsel.decision.approved`` for the audit action ``decision.approved``),
with the actor and the decision as related resources. Events expire after a few days in Prefect;
the audit chain in the store is the record. Links point into the UI Prefect 3.9 serves by
default, under ``/v2`` (:func:`ui_url`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import TagsContext
from prefect.events import emit_event
from prefect.settings import PREFECT_UI_URL

from decisions.audit import AuditEvent
from decisions.consensus import RoundAggregate
from decisions.model import EVENT_NAMES, Decision
from flows.context import NO_RESULTS
from flows.summaries import summarise_event

__all__ = [
    "artifact_key",
    "dossier_key",
    "ui_url",
    "artifact_url",
    "publish_markdown",
    "publish_reports",
    "reports_of_step",
    "Report",
    "history_rows",
    "history_description",
    "emit_counsel_event",
    "emit_transition",
    "transition_action",
    "aggregate_markdown",
    "md_inline",
    "md_block",
    "summarise_event",
]


def artifact_key(decision_id: str, stage: str) -> str:
    """``decision-d-2026-0001-consult``: Prefect keys are lowercase, digits and dashes."""
    return f"decision-{decision_id.lower()}-{stage}"


def dossier_key(decision_id: str) -> str:
    """``decision-d-2026-0001``: the one artifact a manager or planner opens first."""
    return f"decision-{decision_id.lower()}"


#: Prefect 3.9's server serves its new UI under this segment of the UI's address (the old
#: one stays at the root, where only the root itself redirects to the new one).
UI_V2 = "/v2"


def ui_url(path: str) -> str:
    """An address in the Prefect UI that the README documents: ``path`` (``/runs/flow-run/…``,
    ``/artifacts/key/…``) under the new UI of Prefect 3.9 (``PREFECT_UI_URL/v2``); relative
    (``/v2/…``) when no UI address is configured. Prefect Cloud's UI has no ``/v2``.

    >>> from prefect.settings import PREFECT_UI_URL, temporary_settings
    >>> with temporary_settings({PREFECT_UI_URL: "http://127.0.0.1:4200"}):
    ...     print(ui_url("/artifacts/key/decision-d-2026-0001"))
    http://127.0.0.1:4200/v2/artifacts/key/decision-d-2026-0001
    """
    base = (PREFECT_UI_URL.value() or "").rstrip("/")
    if not base.endswith(UI_V2) and "/workspace/" not in base:
        base += UI_V2
    return base + path


def artifact_url(key: str) -> str:
    """The UI page of an artifact key: its latest version and its history of versions."""
    return ui_url(f"/artifacts/key/{quote(key)}")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~&=^$:])")


def md_inline(text: str) -> str:
    """What a person typed, shown as text on one line of a markdown report: every markdown
    character escaped and line breaks folded, so an answer cannot add links, images, HTML,
    headings, list items or table cells to a manager's report.

    >>> print(md_inline("![x](http://evil) | # Title\\n- item"))
    \\!\\[x\\]\\(http\\://evil\\) \\| \\# Title / \\- item
    """
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return " / ".join(line.strip() for line in escaped.splitlines() if line.strip())


def md_block(text: str) -> str:
    """A person's multi-line text as escaped markdown that keeps its line breaks."""
    return "  \n".join(_MARKDOWN_SPECIAL.sub(r"\\\1", line) for line in text.splitlines())


@contextmanager
def untagged() -> Iterator[None]:
    """Task runs started inside take no tags from the flow around them. Prefect 3.9 makes a
    tagged task run ask the server for the tags' concurrency slots, through a service that
    keeps a client of its own for each distinct set of tags for the life of the process:
    with a decision's id among the tags, a long-lived task worker would gather one per
    decision. The flow runs keep the tags, for the UI's filters."""
    with TagsContext(current_tags=set()):
        yield


@dataclass(frozen=True)
class Report:
    """A stage's report: the markdown artifact's key, text and description."""

    key: str
    markdown: str
    description: str


_step_reports: ContextVar[list[Report] | None] = ContextVar("counsel_step_reports", default=None)


@contextmanager
def reports_of_step() -> Iterator[list[Report]]:
    """Inside the block :func:`publish_markdown` keeps the reports in the list it yields, for
    the step to publish with its dossier in its own run (:func:`flows.dossier.publish_dossier`)
    instead of a task run each: a task run is three events and a log on Prefect's server."""
    reports: list[Report] = []
    token = _step_reports.set(reports)
    try:
        yield reports
    finally:
        _step_reports.reset(token)


def publish_markdown(decision_id: str, stage: str, markdown: str, description: str) -> None:
    """Publish a stage's report as a new version of its markdown artifact, with the step's
    dossier when inside :func:`reports_of_step`, at once otherwise."""
    report = Report(artifact_key(decision_id, stage), markdown, description)
    kept = _step_reports.get()
    if kept is not None:
        kept.append(report)
        return
    with untagged():
        _publish_markdown(report)


def publish_reports(reports: Iterable[Report]) -> None:
    """Create the reports' artifacts (inside the caller's run)."""
    for report in reports:
        create_markdown_artifact(  # type: ignore[call-arg]
            key=report.key,
            markdown=report.markdown,
            description=report.description,
            _sync=True,  # made now, also from an async flow (see flows.dossier)
        )


@task(
    name="publish-stage-report",
    retries=2,
    retry_delay_seconds=1,
    cache_policy=NO_CACHE,
    **NO_RESULTS,
)
def _publish_markdown(report: Report) -> None:
    publish_reports([report])


def history_rows(events: Iterable[AuditEvent]) -> list[dict[str, Any]]:
    """The history artifact's table: one row per audit event."""
    return [
        {
            "seq": e.seq,
            "time (UTC)": e.recorded_at[:19].replace("T", " "),
            "actor": e.actor,
            "action": e.action,
            "details": summarise_event(e),
            "hash": e.hash[:16],
        }
        for e in events
    ]


def history_description(decision_id: str, head: tuple[int, str]) -> str:
    """The history artifact's description, with the chain's head (count and hash) that
    anchors the UI's record in the store's chain."""
    count, head_hash = head
    return f"Audit history of {decision_id}; chain head: {count} events, hash {head_hash}."


def emit_counsel_event(
    action: str,
    *,
    resource: dict[str, str],
    actor: str,
    decision: Decision,
    related: Iterable[dict[str, str]] = (),
    payload: dict[str, Any] | None = None,
) -> None:
    """Emit ``counsel.<action>`` for the Event Feed and automations, named as the history
    names the audit event it reports, with the actor who did it and the decision as
    related resources (roles ``actor`` and ``decision``); Prefect adds the run's own."""
    emit_event(
        event=f"counsel.{action}",
        resource=resource,
        related=[
            {"prefect.resource.id": f"counsel.actor.{actor}", "prefect.resource.role": "actor"},
            {
                "prefect.resource.id": f"counsel.decision.{decision.id}",
                "prefect.resource.role": "decision",
                "prefect.resource.name": decision.title,
            },
            *related,
        ],
        payload={"actor": actor, "decision": decision.id, **(payload or {})},
    )


def transition_action(transition: str) -> str:
    """The audit action a lifecycle transition is recorded as (``approve`` →
    ``decision.approved``).

    >>> transition_action("start_consultation")
    'decision.consultation_started'
    """
    return f"decision.{EVENT_NAMES[transition]}"


def emit_transition(decision: Decision, transition: str, *, actor: str, **payload: Any) -> None:
    """Emit ``counsel.decision.<event>`` for a transition, as the history names it
    (``counsel.decision.approved``), with its actor and the decision."""
    emit_counsel_event(
        transition_action(transition),
        resource={
            "prefect.resource.id": f"counsel.decision.{decision.id}",
            "prefect.resource.name": decision.title,
            "counsel.class": decision.class_name,
            "counsel.district": decision.district,
        },
        actor=actor,
        decision=decision,
        payload={"state": decision.state.value, "round": decision.round, **payload},
    )


def aggregate_markdown(aggregate: RoundAggregate) -> str:
    """The anonymised aggregate of a round, as experts see it in the next round's form."""
    lines = [
        f"### Round {aggregate.round}: {aggregate.answers} answers",
        "",
        "| criterion | median | IQR | Q1–Q3 | distribution |",
        "|---|---|---|---|---|",
    ]
    for c in aggregate.criteria:
        spread = ", ".join(f"{k}×{v}" for k, v in c.distribution.items())
        lines.append(f"| {c.criterion} | {c.median:g} | {c.iqr:g} | {c.q1:g}–{c.q3:g} | {spread} |")
    recs = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in aggregate.recommendations.items())
    lines += ["", f"Recommendations: {recs}."]
    if aggregate.kendall_w is not None:
        lines.append(f"Kendall's W of the rankings: {aggregate.kendall_w:.2f}.")
    if aggregate.conditions:
        lines += ["", "Conditions proposed:", *[f"- {md_inline(c)}" for c in aggregate.conditions]]
    lines += [
        "",
        "Rationales (anonymised, sorted):",
        *[f"- {md_inline(r)}" for r in aggregate.rationales],
    ]
    verdict = (
        "Consensus reached on every criterion."
        if aggregate.consensus
        else "No consensus yet: " + "; ".join(aggregate.dissent) + "."
    )
    lines += ["", f"**{verdict}**"]
    return "\n".join(lines)
