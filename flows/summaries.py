"""One line per audit event, for people: `counsel history`, `counsel status`, the demo and the
decision's history artifact.

Kept apart from :mod:`flows.publishing` so the CLI can summarise a history without loading
Prefect.
"""

from __future__ import annotations

from decisions.audit import AuditEvent

__all__ = ["summarise_event"]

#: An event of no kind named below is summarised by its fields, cut to this many characters.
FIELDS_SHOWN = 120


def summarise_event(event: AuditEvent) -> str:
    """A short human line for an event, for history tables and the demo."""
    data = event.data
    if event.action == "consultation.routed":
        line = (
            f"{len(data.get('experts', []))} experts routed: {', '.join(data.get('experts', []))}"
        )
        if data.get("conflicts"):
            line += f"; {len(data['conflicts'])} kept out for conflicts"
        return line
    if event.action == "consultation.round_aggregated":
        spread = ", ".join(f"{k} {v:g}" for k, v in data.get("iqr", {}).items())
        verdict = "consensus" if data.get("consensus") else "no consensus"
        return f"round {data.get('round')}: {verdict} (IQR {spread})"
    if event.action == "consultation.reported":
        verdict = "consensus" if data.get("consensus") else "dissent: " + "; ".join(data["dissent"])
        return f"after {data.get('rounds')} round(s): {verdict}"
    if event.action == "decision.round_started":
        return f"round {data.get('round')}"
    if event.action in {"notification.sent", "notification.failed"}:
        about = data.get("task_id") or data.get("kind")
        line = f"{data.get('recipient')} told of {about} by {data.get('channel')}"
        if event.action == "notification.failed":
            line += f" — failed after {data.get('attempts')} attempt(s): {data.get('error')}"
        return line
    if event.action == "task.answered.progress":
        return f"{data.get('task_id')}: {data['answer'].get('percent_complete')}% done"
    if event.action in {"execution.rework", "execution.cycle_accepted"}:
        outcome = "accepted" if event.action == "execution.cycle_accepted" else "rework"
        inspected = data.get("inspected")
        of = f" of {inspected}" if inspected is not None else ""
        return (
            f"cycle {data.get('cycle')}: {outcome}, {data.get('accepted')}{of} inspectors "
            f"accepted, {data.get('needed')} needed"
        )
    if event.action == "vote.tallied":
        return f"{data.get('outcome')}: {data.get('in_favour')} of {data.get('cast')} in favour"
    if "reason" in data:
        return str(data["reason"])
    answer = data.get("answer")
    if isinstance(answer, dict):
        main = next(
            (
                answer[k]
                for k in ("recommendation", "choice", "stance", "verdict", "percent_complete")
                if k in answer
            ),
            "",
        )
        return f"{data.get('task_id', '')}: {main}"
    if "task_id" in data:
        return f"{data['task_id']} to {data.get('assignee', '')}"
    if "from" in data:
        return f"{data['from']} to {data['to']}"
    fields = ", ".join(f"{k}={v}" for k, v in sorted(data.items()) if v not in (None, [], ""))
    return fields[:FIELDS_SHOWN]
