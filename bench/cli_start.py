"""How long ``counsel`` takes to start: each command in fresh processes, beside Python baselines.

Makes a throwaway SQLite store (one planner, one decision in consultation), then runs each
command several times in a fresh process and prints the median wall time, with the fastest and
slowest run; ``counsel experts assign`` runs on a one-pair file, which shows what starting it
costs (it loads neither SQLAlchemy nor the decision services, see :mod:`cli.app`). In the same
run it times ``python -c 'import prefect'`` and ``python -c 'import sqlalchemy'`` so the
figures can be read against this machine's speed of the moment.

Two columns: the environment as given, and with a bytecode cache. Where
``PYTHONDONTWRITEBYTECODE=1`` is set (as on the project's machines), Python compiles Counsel's
own modules again at every start of an editable install; an installed Counsel has its bytecode.
The second column runs with ``PYTHONPYCACHEPREFIX`` in a fresh folder that the untimed warm-up
run fills.

    .venv/bin/python bench/cli_start.py             # 7 runs of each
    .venv/bin/python bench/cli_start.py --runs 15
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from decisions import services
from decisions.classes import load_classes
from decisions.db import make_engine, migrate

PROPOSAL = {
    "title": "道路保洁市场化：建设路与人民街",
    "description": "Contract out the cleaning of Jianshe Road and Renmin Street for three years.",
    "class": "major",
    "district": "east-district",
    "district_type": "east",
    "topics": ["street-cleaning", "market-based-contracting"],
}


def counsel_command() -> list[str]:
    """The installed console script beside this Python, as a user runs it."""
    script = Path(sys.executable).with_name("counsel")
    if script.exists():
        return [str(script)]
    found = shutil.which("counsel")
    if found is None:
        sys.exit("No `counsel` console script; run `pip install -e .` first.")
    return [found]


def prepare_store(folder: Path) -> tuple[str, str, str]:
    """A migrated store with a planner and one decision: (url, the planner's token, its id)."""
    url = f"sqlite:///{folder / 'counsel.db'}"
    engine = make_engine(url)
    migrate(engine)
    planner, token = services.add_actor(
        engine, actor_id="li-wei", name="李伟", roles=["planner", "member"]
    )
    decision = services.submit_proposal(
        engine,
        services.Proposal.model_validate(PROPOSAL),
        planner=planner,
        classes=load_classes(),
        idempotency_key="bench-submit",
    )
    services.apply_transition(engine, decision.id, "start_consultation", idempotency_key="bench-c")
    engine.dispose()
    return url, token, decision.id


def assign_one_pair(folder: Path) -> list[str]:
    """``experts assign`` arguments for a one-pair scores file: its start, NumPy, pydantic and
    OR-Tools included, without the work."""
    scores = folder / "one-pair.csv"
    scores.write_text("item,expert,score\nbid-1,E1,0.5\n", encoding="utf-8")
    out = folder / "one-pair.json"
    return ["experts", "assign", "--scores", str(scores), "--per-item", "1", "--out", str(out)]


def wall_times(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    """Seconds each of ``runs`` fresh processes took, after one untimed warm-up run."""
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
        if i:
            times.append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each command")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="counsel-bench-cli-"))
    url, token, decision_id = prepare_store(folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COUNSEL_", "PREFECT_"))}
    env.update(COUNSEL_HOME=str(folder), COUNSEL_DATABASE_URL=url, COUNSEL_TOKEN=token)
    cached = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cached["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    counsel = counsel_command()
    python = [sys.executable]
    cases = [
        ("python -c 'import sqlalchemy'", [*python, "-c", "import sqlalchemy"]),
        ("python -c 'import prefect'", [*python, "-c", "import prefect"]),
        ("counsel --help", [*counsel, "--help"]),
        ("counsel tasks", [*counsel, "tasks"]),
        (f"counsel status {decision_id}", [*counsel, "status", decision_id]),
        (f"counsel history {decision_id}", [*counsel, "history", decision_id]),
        ("counsel audit verify", [*counsel, "audit", "verify"]),
        ("counsel experts --help", [*counsel, "experts", "--help"]),
        ("counsel experts assign (one pair)", [*counsel, *assign_one_pair(folder)]),
    ]
    as_given = "PYTHONDONTWRITEBYTECODE=1" if env.get("PYTHONDONTWRITEBYTECODE") else "as given"
    print(
        f"Start-up wall time, median of {args.runs} fresh processes (fastest-slowest), "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}:"
    )
    print(f"  {'':<34} {as_given:>26}   {'bytecode cached':>24}")
    for label, argv in cases:
        figures = []
        for environment in (env, cached):
            times = wall_times(argv, environment, args.runs)
            figures.append(f"{statistics.median(times):6.2f} s ({min(times):.2f}-{max(times):.2f})")
        print(f"  {label:<34} {figures[0]:>26}   {figures[1]:>24}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
