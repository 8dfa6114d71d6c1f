"""`counsel up` starts a real local stack that runs submitted decisions; `counsel down` stops it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from decisions import services
from decisions.db import make_engine
from experts.sample import load_sample
from experts.store import save_expertise
from tests.flows.conftest import EXAMPLES

pytestmark = [pytest.mark.flows, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_up_runs_a_submitted_decision_on_a_worker_and_down_stops_it(tmp_path: Path) -> None:
    """After `counsel up`, `counsel submit` starts the decision on the worker, whose routed
    experts' runs wait for answers; `counsel down` stops the server and worker it started."""
    url = f"sqlite:///{tmp_path / 'counsel.db'}"
    engine = make_engine(url)
    services.init_store(engine)
    with services.unit_of_work(engine) as session:
        save_expertise(session, load_sample())
    _planner, token = services.add_actor(engine, actor_id="li-wei", name="李伟", roles=["planner"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "COUNSEL_"))}
    env.update(COUNSEL_HOME=str(tmp_path / "home"), COUNSEL_DATABASE_URL=url, COLUMNS="200")
    port = free_port()

    def counsel(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flows.cli", *args],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    up = counsel("up", "--port", str(port))
    assert up.returncode == 0, up.stderr + up.stdout
    try:
        assert counsel("up", "--port", str(port)).returncode == 1  # one stack at a time
        submitted = counsel(
            "submit",
            str(EXAMPLES / "proposal.yaml"),
            COUNSEL_TOKEN=token,
            PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        )
        assert submitted.returncode == 0, submitted.stderr
        assert f"http://127.0.0.1:{port}/runs/flow-run/" in submitted.stdout
        decision_id = submitted.stdout.split()[1].rstrip(":")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            waiting = [t for t in services.tasks_of(engine, decision_id) if t.flow_run_id]
            if len(waiting) >= 3:
                break
            time.sleep(1)
        assert len(waiting) >= 3, (tmp_path / "home" / "stack" / "worker.log").read_text()
        assert services.get_decision(engine, decision_id).state.value == "consulting"
    finally:
        down = counsel("down")
    assert down.returncode == 0, down.stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
