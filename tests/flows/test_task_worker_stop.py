"""A task worker told to stop (SIGTERM) takes no more task runs and lets the running ones
finish, then exits with status 0. Prefect's own handler exits at once: the step cut short
waits out the lost window before the sweep takes it again, and a traceback is logged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect import get_client
from prefect.settings import PREFECT_API_URL

from tests.flows.slow_worker import slow_step

pytestmark = [
    pytest.mark.flows,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

ROOT = Path(__file__).resolve().parents[2]
#: how long a wait may take before the test calls it a hang (the machine may be busy)
GUARD_S = 180


def test_a_step_running_at_sigterm_finishes_then_the_worker_exits(
    prefect_api: None, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.flows.slow_worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        queued = slow_step.delay(str(tmp_path), 3.0)
        deadline = time.monotonic() + GUARD_S
        while not (tmp_path / "running").exists():
            assert worker.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the worker ran no step"
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=GUARD_S)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    output = log.read_text(errors="replace")
    assert code == 0 and "Traceback" not in output, output
    assert (tmp_path / "finished").exists(), f"the step was cut short:\n{output}"
    with get_client(sync_client=True) as client:
        state = client.read_task_run(queued.task_run_id).state
    assert state is not None and state.is_completed(), state
