"""Run one decision flow against the Prefect API in ``PREFECT_API_URL``, for the browser test.

Started by ``test_prefect_ui.py`` as a subprocess, so the flow's Prefect settings and threads
stay out of the pytest process; a local runner in it executes the decision's runs and the
expert's ``answer-task`` run once the browser submits its form. Simulated participants
answer every task through the real answer path, except the round-1 consultation task of
one routed expert: that one is left for the test to answer through the Prefect UI's Resume
form. As soon as that expert's run is attached to the task, the expert's id and the task
id are written to ``HANDOFF`` (a JSON file), and the test takes over; the decision then
runs to its end and this prints its final state as the last line (``final: closed``).

Usage: ``python drive_decision.py DECISION_ID HANDOFF`` with ``COUNSEL_DATABASE_URL`` and
``PREFECT_API_URL`` set.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from decisions import services
from decisions.classes import load_classes
from decisions.db import make_engine
from decisions.model import Actor, Decision, Task, TaskKind
from flows.demo import demo_script
from flows.simulate import Attempt, Participants

RATING = 7  # every scripted expert rates 7, and so does the browser: consensus in round 1


def main(decision_id: str, handoff: Path) -> int:
    from prefect import get_client

    from flows.local_runner import local_runner
    from flows.simulate import wait_until_settled
    from flows.warm import start_decision_run

    engine = make_engine(os.environ["COUNSEL_DATABASE_URL"])
    classes = load_classes()
    decision = services.get_decision(engine, decision_id)
    criteria = classes.get(decision.class_name, decision.district_type).criteria
    others = demo_script(criteria)  # discussion, vote, execution and acceptance as in the demo
    silent: dict[str, str] = {}
    handed_off = threading.Event()

    def silent_expert() -> str:
        """The first expert of the routing event: the one the browser answers for."""
        if "actor" not in silent:
            events = services.history(engine, decision_id)
            routed = next(e for e in events if e.action == "consultation.routed")
            silent["actor"] = routed.data["experts"][0]
        return silent["actor"]

    def script(task: Task, decision: Decision, actor: Actor) -> dict[str, Any] | None:
        if task.kind is TaskKind.CONSULT:
            if actor.id == silent_expert() and task.round == 1:
                if not handed_off.is_set():
                    tmp = handoff.with_suffix(".tmp")
                    tmp.write_text(json.dumps({"actor": actor.id, "task": task.id}))
                    tmp.replace(handoff)
                    handed_off.set()
                    print(f"handed {task.id} of {actor.id} to the browser", flush=True)
                return None
            return {
                "recommendation": "approve_with_conditions",
                "conditions": "Night shift of two hours around Renmin market",
                "rationale": "Feasible if the tender caps the price.",
                **{f"rating_{c}": RATING for c in criteria},
            }
        return others(task, decision, actor)

    def show(attempt: Attempt) -> None:
        print(f"{attempt.actor_id} {attempt.task_id}: {attempt.outcome}", flush=True)

    with local_runner(), Participants(engine, classes, script, on_attempt=show):
        with get_client(sync_client=True) as client:
            start_decision_run(client, engine, decision_id)
        final = wait_until_settled(engine, decision_id, timeout_s=600)
    engine.dispose()
    print(f"final: {final}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2])))
