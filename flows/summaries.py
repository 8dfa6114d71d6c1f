"""One line per audit event, for people: `counsel history`, `counsel status`, the demo and the
decision's history artifact.

Kept apart from :mod:`flows.publishing` so the CLI can summarise a history without loading
Prefect.
"""

from __future__ import annotations

from typing import Any

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
    if event.action.startswith("tender."):
        return _tender_summary(event.action, data)
    if event.action == "task.answered.scores":
        return f"{data.get('task_id')}: {len(data['answer'].get('scores', {}))} bids scored"
    if event.action == "task.answered.declination":
        return f"{data.get('task_id')}: declined — {data['answer'].get('reason', '')}"
    if event.action == "task.answered.witness":
        return f"{data.get('task_id')}: witness value {data['answer'].get('value', '')}"
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


def _tender_summary(action: str, data: Any) -> str:
    """A tender's fact in one line: who qualified, the pool, the panel, the winners."""
    if action == "tender.filed":
        return f"{len(data.get('lots', []))} lots, {len(data.get('bids', []))} bids"
    if action == "tender.qualified":
        excluded = "; ".join(
            dict.fromkeys(f"{x['bidder']} ({x['rule']})" for x in data.get("excluded", []))
        )
        line = f"{len(data.get('qualified', []))} bids qualified"
        return f"{line}; excluded {excluded}" if excluded else line
    if action == "tender.seed_committed":
        return f"commitment {str(data.get('commitment', ''))[:16]}… ({data.get('algorithm')})"
    if action == "tender.pool_fixed":
        return (
            f"{len(data.get('members', []))} eligible, {data.get('excluded_count', 0)} kept "
            f"out; digest {str(data.get('digest', ''))[:16]}…"
        )
    if action == "tender.panel_drawn":
        return (
            f"panel {', '.join(data.get('panel', []))}; alternates "
            f"{', '.join(data.get('alternates', []))}; witness {data.get('witness')}"
        )
    if action == "tender.replaced":
        return ", ".join(f"{a} → {b}" for a, b in data.get("replacements", {}).items())
    if action == "tender.ranked":
        lots = data.get("ranking", {}).get("lots", [])
        return "; ".join(f"{lot['lot']}: {lot.get('winner') or 'no winner'}" for lot in lots)
    if action == "tender.seed_revealed":
        return f"server seed {str(data.get('server_seed', ''))[:16]}…"
    return action
