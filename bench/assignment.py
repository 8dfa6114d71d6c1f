"""Benchmark ``counsel experts assign`` end to end, beside the command it replaced.

Run from the repository root::

    .venv/bin/python bench/assignment.py             # 3 runs of each (about 2 minutes)
    .venv/bin/python bench/assignment.py --runs 5
    .venv/bin/python bench/assignment.py --quick     # small sizes, one run: a smoke test

Writes seeded synthetic matcher CSV files — 2,000 items x 3,000 experts and 5,000 x 7,500,
100 scored candidates and 5 conflicts per item, the instance ``bench/routing.py`` solves
in-process, drawn the same way from the same seed — and runs the command on them as a user
does: a fresh process each time, so the figures include process start, reading the CSV
files, solving and writing the JSON. Each run is timed by wall clock and its peak resident
memory and CPU time (user + system) read from the kernel (``os.wait4`` of that child); on a
busy machine the wall time grows with the load and the CPU time much less, so both are
printed. Runs alternate between:

* **now** — the command as it is (the console script): lazy command groups, the bulk CSV
  reader and OR-Tools' min-cost flow;
* **before** — Counsel as it was before issue 12's assignment work (commit
  :data:`BEFORE_COMMIT`, taken from this repository with ``git archive`` into a temporary
  folder and run there with ``python -m cli`` in the same virtual environment): every command
  group loaded at start, the row-by-row CSV reader and SciPy's HiGHS linear programme;
* **now, --solver lp** — today's command with the old engine (``--solver lp``, hidden: the
  row reader and HiGHS), which tells the start-up's share from the engine's.

For each size it prints the median wall time (with the fastest and slowest run), the peak
RSS (the largest of the runs), the speed-up over *before*, and the total score of each
output file, which must agree to 1e-6 relative (the script exits with status 1 if they do
not). It also times ``counsel experts --help`` (process start alone) now and before and,
once, the fair and random modes on the smaller size. The machine's load average is printed
at the start and the end: figures taken while other work runs are slower.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

__all__ = ["main", "write_instance"]

#: The targets of issue 12 on a 2-core machine: (items, experts) -> (seconds, MB or None).
TARGETS = {(2_000, 3_000): (1.5, None), (5_000, 7_500): (4.0, 400.0)}

#: How much faster than before the command must be (issue 12).
TARGET_SPEED_UP = 4.0

#: Counsel before the assignment work of issue 12: the last commit before OR-Tools.
BEFORE_COMMIT = "d95489991b853a8b66a065ccc15ad3b639dd7d3c"

#: The repository this script belongs to.
REPOSITORY = Path(__file__).resolve().parent.parent


def counsel_command() -> list[str]:
    """The installed console script beside this Python, as a user runs it."""
    script = Path(sys.executable).with_name("counsel")
    if script.exists():
        return [str(script)]
    found = shutil.which("counsel")
    if found is None:
        sys.exit("No `counsel` console script; run `pip install -e .` first.")
    return [found]


def extract_before(folder: Path) -> None:
    """Extract Counsel as of :data:`BEFORE_COMMIT` into ``folder``."""
    archive = subprocess.run(
        ["git", "-C", str(REPOSITORY), "archive", "--format=tar", BEFORE_COMMIT],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")


def before_command_line() -> list[str]:
    """``counsel`` before, run with ``cwd`` the extracted folder (see :func:`run`).

    ``python -m cli`` puts its working folder first on ``sys.path`` (and :func:`run` sets
    ``PYTHONPATH``), ahead of the editable install's finder, so the old tree's modules are
    the ones imported.
    """
    return [sys.executable, "-m", "cli"]


def write_instance(
    folder: Path,
    n_items: int,
    n_experts: int,
    *,
    candidates: int = 100,
    conflicts: int = 5,
    seed: int = 0,
) -> tuple[Path, Path]:
    """Write ``scores.csv`` (with a header) and ``conflicts.csv`` for a seeded instance.

    Each item scores ``candidates`` distinct experts uniformly at random in [0, 1) and is
    conflicted with ``conflicts`` of them; the draws are those of ``bench/routing.py``.
    """
    rng = np.random.default_rng(seed)
    item = np.repeat(np.arange(n_items), candidates)
    expert = np.concatenate(
        [rng.choice(n_experts, candidates, replace=False) for _ in range(n_items)]
    )
    score = rng.random(item.size)
    picks = np.concatenate(
        [i * candidates + rng.choice(candidates, conflicts, replace=False) for i in range(n_items)]
    )
    scores_csv, conflicts_csv = folder / "scores.csv", folder / "conflicts.csv"
    with scores_csv.open("w", encoding="utf-8") as fh:
        fh.write("item,expert,score\n")
        fh.writelines(
            f"item-{i},expert-{e},{s!r}\n"
            for i, e, s in zip(item.tolist(), expert.tolist(), score.tolist(), strict=True)
        )
    with conflicts_csv.open("w", encoding="utf-8") as fh:
        fh.writelines(f"item-{item[c]},expert-{expert[c]},-1\n" for c in picks.tolist())
    return scores_csv, conflicts_csv


def run(command: list[str], cwd: Path | None = None) -> tuple[float, float, float]:
    """Run ``command`` (in ``cwd``, its modules first on the path, if given) to completion:
    its wall time and CPU time in seconds, peak RSS in MB."""
    env = None
    if cwd is not None:  # the tree before: its modules first on the path
        env = {**os.environ, "PYTHONPATH": str(cwd)}
    start = time.perf_counter()
    child = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd, env=env
    )
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    err = child.stderr.read().decode() if child.stderr else ""
    if child.returncode != 0:
        sys.exit(f"{' '.join(command)} failed with status {child.returncode}: {err}")
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, cpu, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def total_score(path: Path) -> float:
    """The total score of an assignment JSON file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return float(sum(a["score"] for chosen in data.values() for a in chosen))


def load() -> str:
    """The 1-minute load average."""
    return f"{os.getloadavg()[0]:.2f}"


def bench_size(
    folder: Path, before: Path, n_items: int, n_experts: int, runs: int, seed: int
) -> tuple[bool, list[str]]:
    """Time now, before and now with --solver lp on one size; whether the optimum agreed,
    and the report lines."""
    sub = folder / f"{n_items}x{n_experts}"
    sub.mkdir()
    scores, conflicts = write_instance(sub, n_items, n_experts, seed=seed)
    args = [
        "experts",
        "assign",
        "--scores",
        str(scores),
        "--conflicts",
        str(conflicts),
        "--per-item",
        "3",
        "--max-load",
        "3",
    ]
    engines: dict[str, tuple[list[str], Path | None]] = {
        "now": ([*counsel_command(), *args], None),
        "before": ([*before_command_line(), *args], before),
        "lp": ([*counsel_command(), *args, "--solver", "lp"], None),
    }
    times: dict[str, list[float]] = {name: [] for name in engines}
    cpus: dict[str, list[float]] = {name: [] for name in engines}
    peaks: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(runs):
        for name, (command, cwd) in engines.items():
            elapsed, cpu, peak = run([*command, "--out", str(sub / f"{name}.json")], cwd)
            times[name].append(elapsed)
            cpus[name].append(cpu)
            peaks[name].append(peak)
    totals = {name: total_score(sub / f"{name}.json") for name in engines}
    gap = max(abs(totals["now"] - t) for t in totals.values()) / max(abs(totals["before"]), 1e-300)
    same = gap <= 1e-6
    median = {name: statistics.median(t) for name, t in times.items()}
    limit_s, limit_mb = TARGETS.get((n_items, n_experts), (None, None))
    lines = [f"{n_items:,} items x {n_experts:,} experts ({n_items * 100:,} scored pairs):"]
    for name, label in (
        ("now", "now"),
        ("before", f"before ({BEFORE_COMMIT[:7]})"),
        ("lp", "now, --solver lp"),
    ):
        t = times[name]
        lines.append(
            f"  {label:<18} {median[name]:5.2f} s (runs {min(t):.2f}-{max(t):.2f}; CPU "
            f"{statistics.median(cpus[name]):.2f} s), peak RSS {max(peaks[name]):4.0f} MB, "
            f"total score {totals[name]:.6f}"
        )
    speed_up = median["before"] / median["now"]
    cpu_speed_up = statistics.median(cpus["before"]) / statistics.median(cpus["now"])
    target = ""
    if limit_s is not None:
        met = median["now"] < limit_s and (limit_mb is None or max(peaks["now"]) < limit_mb)
        memory = f" and {limit_mb:.0f} MB" if limit_mb is not None else ""
        target = f"; target under {limit_s} s{memory}: {'met' if met else 'NOT met'}"
    lines.append(
        f"  {speed_up:.2f}x faster than before (CPU time {cpu_speed_up:.2f}x; "
        f"{TARGET_SPEED_UP:g}x: {'met' if speed_up >= TARGET_SPEED_UP else 'NOT met'}), "
        f"{max(peaks['before']) / max(peaks['now']):.1f}x less memory; optimum "
        f"{'unchanged' if same else 'CHANGED'} (relative difference {gap:.1e}){target}"
    )
    return same, lines


def bench_modes(folder: Path, n_items: int, n_experts: int, seed: int) -> list[str]:
    """One run each of the fair and random modes (instance files of ``bench_size``)."""
    sub = folder / f"{n_items}x{n_experts}"
    base = [
        *counsel_command(),
        "experts",
        "assign",
        "--scores",
        str(sub / "scores.csv"),
        "--conflicts",
        str(sub / "conflicts.csv"),
    ]
    lines = [f"other modes, {n_items:,} x {n_experts:,}, one run each:"]
    for label, extra in (
        ("--mode fair", ["--mode", "fair"]),
        ("--mode random --seed 1", ["--mode", "random", "--seed", str(seed + 1)]),
    ):
        out = sub / "mode.json"
        elapsed, cpu, peak = run([*base, "--out", str(out), *extra])
        lines.append(
            f"  {label:<23} {elapsed:5.2f} s (CPU {cpu:.2f} s), peak RSS {peak:4.0f} MB, "
            f"total score {total_score(out):.6f}"
        )
    return lines


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each engine per size")
    parser.add_argument("--quick", action="store_true", help="small sizes, one run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [(200, 300)] if args.quick else [(2_000, 3_000), (5_000, 7_500)]
    runs = 1 if args.quick else args.runs
    print(
        f"counsel experts assign end to end (a fresh process: start, CSV reading, solving, "
        f"JSON), median of {runs} run{'s' if runs > 1 else ''}; {os.cpu_count()} cores, "
        f"load average {load()} at the start"
    )
    print(
        f"Python {sys.version.split()[0]}, NumPy {np.__version__}, OR-Tools "
        f"{version('ortools')}, SciPy {version('scipy')}; PYTHONDONTWRITEBYTECODE="
        f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')}"
    )
    ok = True
    with tempfile.TemporaryDirectory(prefix="counsel-bench-") as tmp:
        folder = Path(tmp)
        before = folder / "before"
        extract_before(before)
        for label, command, cwd in (
            ("now", counsel_command(), None),
            ("before", before_command_line(), before),
        ):
            starts = [run([*command, "experts", "--help"], cwd) for _ in range(max(runs, 3))]
            print(
                f"process start alone (counsel experts --help), {label}: "
                f"{statistics.median(s[0] for s in starts):.2f} s (CPU "
                f"{statistics.median(s[1] for s in starts):.2f} s)"
            )
        for n_items, n_experts in sizes:
            same, lines = bench_size(folder, before, n_items, n_experts, runs, args.seed)
            ok &= same
            print("\n".join(lines))
        print("\n".join(bench_modes(folder, *sizes[0], args.seed)))
    print(f"load average {load()} at the end")
    if not ok:
        sys.exit("The optimum changed: the engines' totals differ by more than 1e-6.")


if __name__ == "__main__":
    main()
