"""``counsel`` starts without Prefect, SciPy and networkx for the commands that need none.

Each command runs in a fresh interpreter, as the console script runs it, and reports which
of the heavy libraries it loaded. A top-level import of one of them anywhere on the way
(``cli``, ``decisions``, ``experts/__init__.py``, the ``flows`` modules the CLI imports)
turns these tests red. How long start-up takes is measured by ``bench/cli_start.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.integration.decisions.conftest import World

HEAVY = ("prefect", "scipy", "networkx")

#: Runs ``counsel *argv`` through the console script's entry point, then prints which heavy
#: libraries are in ``sys.modules`` as the last line of stdout.
PROBE = f"""
import json, sys
sys.argv = ["counsel", *sys.argv[1:]]
from cli.app import main
try:
    main()
except SystemExit as exit_:
    code = exit_.code
else:
    code = 0
loaded = sorted(name for name in {HEAVY!r} if name in sys.modules)
print("\\n" + json.dumps({{"code": code, "loaded": loaded}}))
"""


def loaded_by(world: World, *args: str, token: str | None = None) -> list[str]:
    """The heavy libraries ``counsel *args`` loaded in a fresh interpreter, having exited 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COUNSEL_", "PREFECT_"))}
    env["COUNSEL_DATABASE_URL"] = world.engine.url.render_as_string(hide_password=False)
    env["COLUMNS"] = "200"
    if token:
        env["COUNSEL_TOKEN"] = token
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.stdout.strip(), done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, done.stdout + done.stderr
    loaded: list[str] = report["loaded"]
    return loaded


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("--help",), id="help"),
        pytest.param(("tasks",), id="tasks"),
        pytest.param(("status", "{decision}"), id="status"),
        pytest.param(("history", "{decision}"), id="history"),
        pytest.param(("audit", "verify"), id="audit-verify"),
    ],
)
def test_everyday_commands_start_without_prefect_scipy_or_networkx(
    world: World, command: tuple[str, ...]
) -> None:
    """`counsel --help`, `tasks`, `status`, `history` and `audit verify` load none of
    Prefect, SciPy and networkx."""
    args = [part.format(decision=world.decision.id) for part in command]
    assert loaded_by(world, *args, token=world.planner_token) == []


def test_a_command_that_routes_loads_networkx_when_it_runs(world: World) -> None:
    """`counsel experts match` loads networkx as it runs, which shows the probe sees it."""
    loaded = loaded_by(world, "experts", "match", "--sample", "--topic", "street-cleaning")
    assert "networkx" in loaded
