"""``counsel up`` / ``counsel down``: a local Prefect stack for Counsel on this machine.

``up`` starts ``prefect server start`` (UI and API), creates the ``counsel`` process work
pool, registers the deployments of ``prefect.yaml``, starts the personal answer page
(``counsel serve``, on port 8400 unless ``page_port`` says otherwise, in one process per
core unless ``page_workers`` says otherwise; people's links point to it unless
``COUNSEL_PUBLIC_URL`` names another address), a process worker (it runs
people's forms, ``answer-task``, when they are submitted) and task workers (``counsel
task-worker``, one per core: decisions' steps and the deadline sweeps), each as its own
process group with its log under ``$COUNSEL_HOME/stack``; it records what it started in
``stack.json``. ``down`` stops exactly those processes. Prefect's database is SQLite in the
stack folder unless ``--prefect-database`` names PostgreSQL (``postgresql+asyncpg://…``);
the store is whatever ``COUNSEL_DATABASE_URL`` says, passed on to the workers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from decisions.exceptions import CounselError

__all__ = [
    "Stack",
    "StackError",
    "start_stack",
    "stop_stack",
    "project_dir",
    "read_stack",
    "kill_worker",
    "start_worker",
]

HEALTH_TIMEOUT_S = 60.0
#: The process work pool of ``prefect.yaml``'s deployments.
POOL = "counsel"
#: Prefect's process worker stops on SIGTERM, and at once on a second one. Its flow runs
#: are processes of their own that it leaves running, so it has nothing to wait for; but in
#: the suite's stack tests it sometimes ignored the first for the whole 20 s (its log says
#: it passed SIGINT to itself, and then its event loop idled): after this long it gets the
#: second.
WORKER_SECOND_SIGTERM_S = 3.0
#: The answer page's port on a local stack (``counsel serve``'s default too).
PAGE_PORT = 8400


class StackError(CounselError, RuntimeError):
    """The local stack could not be started or stopped as asked."""


@dataclass
class Stack:
    folder: str
    api_url: str
    ui_url: str
    server_pid: int
    worker_pid: int
    #: what the workers' environment adds to the caller's (Prefect and Counsel settings)
    env: dict[str, str] = field(default_factory=dict)
    task_worker_pids: list[int] = field(default_factory=list)
    #: the answer page (``counsel serve``); None in a record of an older ``counsel up``
    page_pid: int | None = None
    page_url: str | None = None


#: The Prefect server's connections to PostgreSQL (ignored on SQLite), unless the environment
#: sets them. With Prefect's default pool (5, and 10 more opened and closed as needed), a
#: burst of steps reconnected all the time, and each new connection prepared its statements
#: again: PostgreSQL spent 0.14 s of CPU per step, against 0.06 s with these
#: (``bench/load.py``'s burst).
SERVER_POOL = {
    "PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE": "20",
    "PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW": "5",
    "PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_PREPARED_STATEMENT_CACHE_SIZE": "500",
}


def project_dir() -> Path:
    """The checkout holding ``prefect.yaml`` and the flows (workers run the flows from it)."""
    return Path(__file__).resolve().parent.parent


def _spawn(
    args: list[str], *, env: dict[str, str], log: Path, cwd: Path
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _prefect(*args: str) -> list[str]:
    return [sys.executable, "-m", "prefect", *args]


def _wait_healthy(
    api_url: str,
    server: subprocess.Popen[bytes],
    log: Path,
    *,
    what: str = "prefect server",
    path: str = "/health",
) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise StackError(f"{what} stopped at start; see {log}.")
        try:
            if httpx.get(f"{api_url}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise StackError(f"{what} did not answer within {HEALTH_TIMEOUT_S:.0f} s; see {log}.")


def start_stack(
    home: Path,
    *,
    port: int = 4200,
    prefect_database: str | None = None,
    sweep_every_s: float | None = None,
    task_workers: int | None = None,
    page_port: int = PAGE_PORT,
    page_workers: int | None = None,
) -> Stack:
    """Start server, work pool, deployments, the answer page and workers; refuse if a stack
    is already up.

    ``sweep_every_s`` (default ``COUNSEL_SWEEP_EVERY_S``, or a minute) is how often the task
    workers sweep deadlines; a decision is then continued after twice that of quiet, and a
    step is taken for lost with its worker after three times that (at least 15 s).
    ``page_workers`` (default: one per core) processes serve the answer page.
    """
    folder = home / "stack"
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / "stack.json"
    if record.exists():
        raise StackError(f"A stack is already up (see {record}); run `counsel down` first.")
    api_url, ui_url = f"http://127.0.0.1:{port}/api", f"http://127.0.0.1:{port}"
    overrides = {
        "PREFECT_HOME": str(folder / "prefect"),
        "PREFECT_API_URL": api_url,
        "PREFECT_UI_URL": ui_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "COUNSEL_PROJECT_DIR": str(project_dir()),
        # the runs' `python -m prefect.engine` (prefect.yaml) is this environment's python
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        **{k: v for k, v in os.environ.items() if k.startswith("COUNSEL_")},
    }
    if prefect_database:
        overrides["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_database
    if sweep_every_s:
        overrides["COUNSEL_SWEEP_EVERY_S"] = str(sweep_every_s)
    page_url = f"http://127.0.0.1:{page_port}"
    # people's links point to this page unless the settings name the address they reach
    overrides.setdefault("COUNSEL_PUBLIC_URL", page_url)
    env = {**SERVER_POOL, **os.environ, **overrides}
    server_log = folder / "server.log"
    started: list[int] = []  # the workers, process worker first
    server = _spawn(
        _prefect("server", "start", "--host", "127.0.0.1", "--port", str(port)),
        env=env,
        log=server_log,
        cwd=folder,
    )
    # the page needs only the store: it starts while the server does
    page = _spawn_page(folder, env, page_port, page_workers or os.cpu_count() or 1)
    try:
        _wait_healthy(api_url, server, server_log)
        setup_log = folder / "deploy.log"
        steps = [_prefect("--no-prompt", "deploy", "--all")]
        if not _has_process_pool(api_url):
            steps.insert(
                0, _prefect("work-pool", "create", POOL, "--type", "process", "--overwrite")
            )
        for step in steps:
            with setup_log.open("ab") as out:
                done = subprocess.run(
                    step,
                    env=env,
                    cwd=project_dir(),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=False,
                    timeout=300,
                )
            if done.returncode != 0:
                raise StackError(f"`{' '.join(step[2:])}` failed; see {setup_log}.")
        worker = _spawn_worker(folder, env)
        started.append(worker.pid)
        for n in range(task_workers or os.cpu_count() or 1):
            started.append(_spawn_task_worker(folder, env, n).pid)
        _wait_healthy(
            page_url, page, folder / "answer-page.log", what="the answer page", path="/healthz"
        )
    except BaseException:
        _stop_groups(started)
        _stop_groups([page.pid, server.pid])
        raise
    stack = Stack(
        str(folder),
        api_url,
        ui_url,
        server.pid,
        worker.pid,
        overrides,
        started[1:],
        page_pid=page.pid,
        page_url=page_url,
    )
    _write(record, stack)
    return stack


def _has_process_pool(api_url: str) -> bool:
    """Whether the server already has the ``counsel`` process pool (a restart): then
    ``prefect work-pool create`` (a second of CPU, two of wall time) is not needed."""
    try:
        found = httpx.get(f"{api_url}/work_pools/{POOL}", timeout=10)
    except httpx.HTTPError:
        return False
    return found.status_code == 200 and found.json().get("type") == "process"


def _spawn_worker(folder: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return _spawn(
        _prefect("worker", "start", "--pool", POOL),
        env=env,
        log=folder / "worker.log",
        cwd=project_dir(),
    )


def _spawn_page(
    folder: Path, env: dict[str, str], port: int, workers: int
) -> subprocess.Popen[bytes]:
    serve = [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return _spawn(
        [*serve, "--workers", str(workers)],
        env=env,
        log=folder / "answer-page.log",
        cwd=project_dir(),
    )


def _spawn_task_worker(folder: Path, env: dict[str, str], number: int) -> subprocess.Popen[bytes]:
    return _spawn(
        [sys.executable, "-m", "cli", "task-worker"],
        env=env,
        log=folder / f"task-worker-{number}.log",
        cwd=project_dir(),
    )


def _write(record: Path, stack: Stack) -> None:
    record.write_text(json.dumps(asdict(stack), indent=2), encoding="utf-8")


def read_stack(home: Path) -> Stack:
    """The stack ``counsel up`` recorded under ``home``."""
    record = home / "stack" / "stack.json"
    if not record.exists():
        raise StackError(f"No stack is up: {record} does not exist.")
    return Stack(**json.loads(record.read_text(encoding="utf-8")))


def kill_worker(home: Path) -> None:
    """SIGKILL the stack's process worker and every flow run process it started, and its
    task workers with the steps they are running (a crash drill)."""
    stack = read_stack(home)
    for pid in [stack.worker_pid, *stack.task_worker_pids]:
        _kill(pid)


def _kill(pid: int) -> None:
    for each in [pid, *_descendants(pid)]:
        try:
            os.kill(each, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (flow runs start their own sessions), read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found


def start_worker(home: Path) -> int:
    """Start the stack's workers again (after :func:`kill_worker`): the process worker
    and as many task workers as before; returns the process worker's pid."""
    stack = read_stack(home)
    env = {**os.environ, **stack.env}
    worker = _spawn_worker(Path(stack.folder), env)
    stack.worker_pid = worker.pid
    stack.task_worker_pids = [
        _spawn_task_worker(Path(stack.folder), env, n).pid
        for n in range(len(stack.task_worker_pids) or 1)
    ]
    _write(Path(stack.folder) / "stack.json", stack)
    return worker.pid


def _stop_groups(
    pids: list[int], timeout: float = 20.0, *, again_after: dict[int, float] | None = None
) -> list[str]:
    """SIGTERM process groups all at once (one after the other, ``counsel down`` took 10 s),
    SIGTERM again those of ``again_after`` still running after their number of seconds,
    then SIGKILL those that linger after ``timeout``; what had to be killed, described."""
    alive = []
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
            alive.append(pid)
        except ProcessLookupError:
            pass
    started = time.monotonic()
    again = dict(again_after or {})
    while alive and time.monotonic() < started + timeout:
        time.sleep(0.1)
        alive = [pid for pid in alive if _group_alive(pid)]
        for pid in [p for p in alive if p in again and time.monotonic() > started + again[p]]:
            del again[pid]
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    killed = []
    for pid in alive:
        killed.append(_describe_group(pid))
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return killed


def _describe_group(pgid: int) -> str:
    """``pid N (its command line)`` for each live process of the group."""
    found = []
    for entry in _live_members(pgid):
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        found.append(f"pid {entry.name} ({command[:120]})")
    return ", ".join(found) or f"process group {pgid}"


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs. Its exited processes stay zombies until
    their parent reaps them (here ``counsel up`` has exited, so init, which took about 2 s),
    and a signal still reaches a zombie: read the processes' states from /proc."""
    if not Path("/proc/self/stat").exists():  # no /proc: zombies count as running
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    return bool(_live_members(pgid))


def _live_members(pgid: int) -> list[Path]:
    """The /proc entries of the group's processes that are not zombies."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            state, _parent, group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(group) == pgid and state != "Z":
            found.append(entry)
    return found


def stop_stack(home: Path) -> tuple[Stack, list[str]]:
    """Stop the workers, the answer page and the server that ``start_stack`` recorded; with
    the processes that did not stop within 20 s of SIGTERM and were killed."""
    stack = read_stack(home)
    # the workers and the page first, together; the server last, so no worker sees it gone
    killed = _stop_groups(
        [*stack.task_worker_pids, stack.worker_pid, *filter(None, [stack.page_pid])],
        again_after={stack.worker_pid: WORKER_SECOND_SIGTERM_S},
    )
    killed += _stop_groups([stack.server_pid])
    (home / "stack" / "stack.json").unlink()
    return stack, killed
