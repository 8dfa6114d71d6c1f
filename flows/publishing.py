"""What the Prefect UI shows of a decision: artifacts and events, views of the store.

Markdown artifacts keyed ``decision-<id>-<stage>`` (one version per publication, so the UI
shows a timeline), a table artifact ``decision-<id>-history`` listing the audit events with
the chain's head (count and hash) so the UI record anchors the store's chain, and events
``counsel.decision.<transition>`` at each transition. Events expire after a few days in
Prefect; the audit chain in the store is the record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import TagsContext
from prefect.events import emit_event
from sqlalchemy import Engine

from decisions import services
from decisions.consensus import RoundAggregate
from decisions.model import Decision
from flows.summaries import summarise_event

__all__ = [
    "artifact_key",
    "publish_markdown",
    "publish_history",
    "emit_transition",
    "aggregate_markdown",
    "md_inline",
    "md_block",
    "summarise_event",
]


def artifact_key(decision_id: str, stage: str) -> str:
    """``decision-d-2026-0001-consult``: Prefect keys are lowercase, digits and dashes."""
    return f"decision-{decision_id.lower()}-{stage}"


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


def publish_markdown(decision_id: str, stage: str, markdown: str, description: str) -> None:
    """Publish a stage's report as a new version of its markdown artifact."""
    with untagged():
        _publish_markdown(decision_id, stage, markdown, description)


def publish_history(engine: Engine, decision_id: str) -> dict[str, Any]:
    """Publish the decision's audit events and the chain's head as a table artifact."""
    with untagged():
        return _publish_history(engine, decision_id)


@task(name="publish-stage-report", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def _publish_markdown(decision_id: str, stage: str, markdown: str, description: str) -> None:
    create_markdown_artifact(
        key=artifact_key(decision_id, stage), markdown=markdown, description=description
    )


@task(name="publish-history", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def _publish_history(engine: Engine, decision_id: str) -> dict[str, Any]:
    # The head (count and hash) anchors the UI's record in the store's chain; checking the
    # whole chain, every event of every decision, is `counsel audit verify`'s work.
    events = services.history(engine, decision_id)
    count, head_hash = services.chain_head(engine)
    rows = [
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
    head = f"chain head: {count} events, hash {head_hash}"
    create_table_artifact(
        key=artifact_key(decision_id, "history"),
        table=rows,
        description=f"Audit history of {decision_id}; {head}.",
    )
    return {"count": count, "head_hash": head_hash}


def emit_transition(decision: Decision, transition: str, **payload: Any) -> None:
    """Emit ``counsel.decision.<transition>`` for the Event Feed and automations."""
    emit_event(
        event=f"counsel.decision.{transition}",
        resource={
            "prefect.resource.id": f"counsel.decision.{decision.id}",
            "prefect.resource.name": decision.title,
            "counsel.class": decision.class_name,
            "counsel.district": decision.district,
        },
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
