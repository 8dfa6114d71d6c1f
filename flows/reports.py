"""What the stages show people: the forms' introductions and the stage reports, in markdown.

Presentation only: the procedure (:mod:`decisions.procedure`) decides what happens and
what is recorded; these functions say it for the Prefect UI's artifacts and forms. Every
text a person typed is escaped (:func:`~flows.publishing.md_inline`), so an answer cannot
add links, images or headings to a manager's report.
"""

from __future__ import annotations

from decisions.consensus import RoundAggregate
from decisions.model import (
    Acceptance,
    Comment,
    Decision,
    ProgressReport,
    Task,
    TaskKind,
)
from decisions.procedure import DecisionView
from decisions.progress import Routing
from decisions.tally import Resolution
from flows.publishing import aggregate_markdown, md_block, md_inline

__all__ = [
    "KEPT_OUT_SHOWN",
    "intro",
    "routing_markdown",
    "round_markdown",
    "consultation_report",
    "minutes",
    "resolution_markdown",
    "execution_record",
]

#: How many experts kept out of a routing the consultation report lists.
KEPT_OUT_SHOWN = 10


def proposal_intro(decision: Decision) -> str:
    version = decision.current_version
    return (
        f"## {decision.id}: {md_inline(version.title)}\n\n{md_block(decision.description)}\n\n"
        f"**Proposal, version {version.number}:**\n\n{md_block(version.text)}\n\n"
        f"Class `{decision.class_name}`, district `{decision.district}`."
    )


def intro(view: DecisionView, task: Task) -> str:
    """The text above a person's form: the proposal and what this task asks."""
    text = proposal_intro(view.decision)
    dclass = view.decision_class
    if task.kind is TaskKind.CONSULT:
        text += f"\n\n### Consultation round {task.round}\n"
        text += "Rate each criterion from 1 (poor) to 9 (excellent) and recommend.\n"
        previous = view.previous_aggregate(task.round)
        if previous is not None:
            text += "\n**What the panel said in the previous round:**\n\n"
            text += aggregate_markdown(previous)
        return text
    if task.kind is TaskKind.DISCUSS:
        return text + "\n\n### Discussion\nState your position and comments."
    if task.kind is TaskKind.VOTE:
        recommendations = view.recommendations()
        recs = (
            ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in recommendations.items()) or "none"
        )
        return (
            text + f"\n\n### Vote of the {dclass.decision_body}\n"
            f"The experts recommended: {recs}. A vote against their consensus needs a "
            "justification. Choose `recuse` if you have a conflict."
        )
    measures = "\n".join(f"- {m}" for m in task.measures) or "- as the proposal says"
    return text + f"\n\n### Execution\nZone: {task.zone}\n\nMeasures:\n{measures}"


def routing_markdown(routing: Routing) -> str:
    """The routed experts for the consultation report, with any shortfall and who was kept
    out. Names and reasons come from the expertise database and are shown as text."""
    lines = [
        f"- **{md_inline(slot.reason or slot.expert)}** (`{slot.expert}`); alternates "
        f"{', '.join(slot.alternates) or 'none'}"
        for slot in routing.slots
    ]
    notes = routing.notes
    shortfall = notes.get("shortfall")
    if shortfall:
        lines += ["", f"**Fewer experts than asked:** {md_inline(shortfall['reason'])}."]
    kept = notes.get("kept_out") or []
    if kept:
        lines += ["", "Kept out:"]
        lines += [
            f"- {md_inline(x['name'])} (`{x['expert']}`), {x['rule']}: {md_inline(x['reason'])}"
            for x in kept[:KEPT_OUT_SHOWN]
        ]
        more = int(notes.get("kept_out_count", len(kept))) - min(len(kept), KEPT_OUT_SHOWN)
        if more > 0:
            lines.append(f"- and {more} more (see the `consultation.routed` event)")
    return "\n".join(lines)


def round_markdown(decision_id: str, routing: Routing, aggregate: RoundAggregate) -> str:
    """The consultation artifact after one round."""
    return (
        f"# Consultation of {decision_id}\n\n## Experts\n\n{routing_markdown(routing)}\n\n"
        + aggregate_markdown(aggregate)
    )


def consultation_report(decision_id: str, routing: Routing, aggregate: RoundAggregate) -> str:
    """The consultation's report: consensus, or the dissent after the class's last round."""
    verdict = (
        "**Consensus** on every criterion."
        if aggregate.consensus
        else f"**No consensus after {aggregate.round} rounds (the class's maximum).** Dissent: "
        + "; ".join(aggregate.dissent)
        + "."
    )
    return (
        f"# Consultation report: {decision_id}\n\n{verdict}\n\n## Experts\n\n"
        f"{routing_markdown(routing)}\n\n" + aggregate_markdown(aggregate)
    )


def minutes(view: DecisionView, tasks: tuple[Task, ...]) -> str:
    """The minutes of the discussion: each position, and the proposal's versions."""
    decision = view.decision
    version = decision.current_version
    lines = [
        f"# Minutes of the discussion of {decision.id}",
        "",
        f"Final proposal: version {version.number}, “{md_inline(version.title)}”.",
        "",
    ]
    for task in tasks:
        name = md_inline(view.actor_name(task.assignee_id))
        comment = view.answers.get(task.id)
        if isinstance(comment, Comment):
            stance = comment.stance.replace("_", " ")
            lines.append(f"- **{name}** ({stance}): {md_inline(comment.text)}")
        else:
            lines.append(f"- {name}: no position given.")
    if len(decision.versions) > 1:
        lines += ["", "## Proposal versions", ""]
        lines += [
            f"- v{v.number}: {md_inline(v.title)}" + (f" — {md_inline(v.note)}" if v.note else "")
            for v in decision.versions
        ]
    return "\n".join(lines)


def resolution_markdown(decision_id: str, resolution: Resolution, against: bool) -> str:
    """The resolution: the tally and, when it goes against the experts, a note why to look."""
    lines = [
        f"# Resolution on {decision_id}",
        "",
        resolution.explain(),
        "",
        "| choice | votes |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in resolution.counts.items()],
    ]
    if against:
        lines += [
            "",
            "The resolution goes against the experts' consensus; the members' "
            "justifications are in the history.",
        ]
    return "\n".join(lines)


def execution_record(view: DecisionView, last_cycle: int) -> str:
    """The execution record up to ``last_cycle``: progress reports and inspections."""
    lines = [f"# Execution record of {view.id}", ""]
    for cycle in range(1, last_cycle + 1):
        for task in view.tasks_of(TaskKind.EXECUTE, cycle):
            report = view.answers.get(task.id)
            if isinstance(report, ProgressReport):
                lines.append(
                    f"- cycle {cycle}, {task.assignee_id}: {report.percent_complete}% — "
                    f"{md_inline(report.text)}"
                )
        for task in view.tasks_of(TaskKind.INSPECT, cycle):
            verdict = view.answers.get(task.id)
            if isinstance(verdict, Acceptance):
                lines.append(
                    f"- cycle {cycle}, inspection: {verdict.verdict} — "
                    f"{md_inline(verdict.findings)}"
                )
    return "\n".join(lines)
