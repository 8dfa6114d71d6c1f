"""Run in child processes by the concurrency test: experts answering through the CLI's path."""

from __future__ import annotations

from decisions import services
from decisions.classes import load_classes
from decisions.db import make_engine
from flows.answering import submit_answer


def answer_tasks(url: str, task_ids: list[str]) -> list[str]:
    """Answer each task as its assignee, each one twice; return any refusal sentences."""
    engine = make_engine(url)
    classes = load_classes()
    problems: list[str] = []
    try:
        for task_id in task_ids:
            task = services.get_task(engine, task_id)
            decision = services.get_decision(engine, task.decision_id)
            criteria = classes.get(decision.class_name, decision.district_type).criteria
            actor = services.get_actor(engine, task.assignee_id)
            data = {
                "answer_code": services.answer_code_for(engine, task_id),
                "recommendation": "approve",
                "rationale": f"Answer to {task_id}",
                **{f"rating_{c}": 6 for c in criteria},
            }
            for _ in range(2):
                try:
                    submit_answer(
                        engine, task_id, data, actor=actor, classes=classes, notify_prefect=False
                    )
                except Exception as err:  # noqa: BLE001 - the test reports every failure
                    problems.append(f"{task_id}: {type(err).__name__}: {err}")
    finally:
        engine.dispose()
    return problems
