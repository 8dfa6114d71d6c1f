"""A task worker serving one slow task, for ``test_task_worker_stop``.

Run as ``python -m tests.flows.slow_worker``: it serves :func:`slow_step` through
:func:`flows.task_worker.aserve_warm`, as ``counsel task-worker`` serves decisions' steps.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from prefect import task

from flows.task_worker import aserve_warm


@task(name="counsel-test-slow-step")
def slow_step(folder: str, seconds: float) -> str:
    """Say it runs (``running``), take ``seconds``, say it finished (``finished``)."""
    Path(folder, "running").touch()
    time.sleep(seconds)
    Path(folder, "finished").touch()
    return "finished"


if __name__ == "__main__":
    asyncio.run(aserve_warm(limit=2, sweep_every_s=None, tasks=(slow_step,)))
