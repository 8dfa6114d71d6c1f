"""The answer page as a Starlette application (:func:`create_app`).

Routes:

- ``GET /t/<token>`` — a person's task: the decision, what is asked and by when, in a
  Delphi round after the first the previous round beside their own answer, then the form
  (or, once the task is closed, what became of it);
- ``POST /t/<token>`` — the answer, as an HTML form posts it: recorded through
  :func:`flows.answering.submit_answer` with the answer code the store derives, then a
  redirect to the task, which now says what happens next (the POST reads and makes that
  page once the answer is recorded, and the GET the redirect leads to gets it,
  :class:`JustAnswered`); a refused answer comes back with the reason above the form and
  what was typed kept;
- ``GET /me/<token>`` — the person's open and recent tasks, each with its link;
- ``GET /healthz`` — ``ok``, for a load balancer.

A token that does not open (forged, cut, expired, another store's, another person's task,
an inbox token used for a task) gets the one sentence :data:`decisions.links.REFUSAL` with
status 404, never a hint of which tasks exist; a client with more than ``refusals_per_minute``
of them gets 429 on every link for the rest of its minute. Pages are never cached, send no
referrer, load nothing from elsewhere and run no script. The log names a link's path as
``/t/…``: a token is never logged.

Each request hands its work with the store to one thread, where it opens its task once
(:func:`flows.web.pages.open_task`, one read of what the page shows); an answer then goes
to the store with that task and its decision (so the store judges it without reading them
again, :class:`decisions.services.Seen`), the code derived from the store's secret the page
keeps, and one Prefect client kept for the process; the page after it is made from what
the answer's write read (:func:`decisions.services.personal.after_answer`), or, where it
shows others' answers, from the task opened again. What belongs to a class (its form's
fields and schema, its labels) is made once per process. A process answers
:data:`THREADS` requests at once, each with a store connection kept open
(:func:`page_engine`). The application keeps no state between requests but the refusal
counts of its own process (:mod:`flows.web.limiter`), the store's secret and, for a few
seconds, the page after each answer it recorded, so ``counsel serve --workers N`` runs N
of it behind one port, and any number behind a load balancer.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from decisions import services
from decisions.classes import ClassBook, load_classes
from decisions.clock import utcnow
from decisions.credentials import answer_code
from decisions.db import make_engine, normalise_url
from decisions.exceptions import ActorNotFound, CounselError, PermissionDenied
from decisions.links import REFUSAL, BadLink, Grant, read_link
from decisions.model import TaskKind, TaskStatus
from decisions.services.personal import after_answer, store_secret
from decisions.settings import CounselSettings, load_settings
from flows.answering import SharedPrefectClient, Submitted, submit_answer
from flows.web.catalogue import REFUSAL_ZH, text
from flows.web.fields import form_fields, problems, read_answer
from flows.web.limiter import RefusalLimiter
from flows.web.pages import OpenedTask, inbox_page, open_task, task_page

__all__ = [
    "create_app",
    "page_engine",
    "redact",
    "JustAnswered",
    "MAX_BODY",
    "REFUSALS_PER_MINUTE",
    "THREADS",
]

log = logging.getLogger("counsel.web")

#: The largest answer taken, in bytes of form body (a long rationale in Chinese, encoded,
#: is a few hundred kilobytes).
MAX_BODY = 1_000_000
#: Refused links a client may have per minute before it is answered 429.
REFUSALS_PER_MINUTE = 10
#: Requests one process works on at once (threads reading and writing the store), and the
#: store connections it keeps open for them: more threads only wait for the lock Python
#: runs one of them at a time with, and a connection opened and closed per burst costs the
#: database a process each time.
THREADS = 16
_TEMPLATES = Path(__file__).resolve().parent / "templates"
_LINK = re.compile(r"^/(t|me)/[^/]*")
_HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "x-robots-tag": "noindex, nofollow",
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def redact(path: str) -> str:
    """A request path as the log may show it: a link's token left out.

    >>> redact("/t/eyJhIjoid2FuZyJ9.c2ln"), redact("/me/abc/x"), redact("/healthz")
    ('/t/…', '/me/…/x', '/healthz')
    """
    return _LINK.sub(lambda match: f"/{match.group(1)}/…", path)


class _Guard:
    """Every response's safety headers, and one log line per request without its token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            client = scope.get("client") or ("-", 0)
            log.info(
                '%s "%s %s" %s %.0f ms',
                client[0],
                scope["method"],
                redact(scope["path"]),
                status,
                (time.perf_counter() - started) * 1000,
            )


def _prefect_named() -> bool:
    """Whether a Prefect server is named, so an answer can close its run and continue the
    decision at once (otherwise the deadline sweep continues it)."""
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)


class JustAnswered:
    """The task pages of the answers this process has just recorded, each kept for the
    GET its 303 leads to (on the same connection, so to the same process) and given once.

    An answer's POST makes the task's page as it stands once the answer is recorded; the
    GET its redirect leads to gets that page and reads nothing (the page is made in the
    thread that recorded the answer, without another hand-over to a thread). A
    page is the task as it stood a moment after its answer; one not taken within
    ``keep_s`` seconds is dropped, and a GET without one (a reload, another process)
    reads the store as always. Only the task's own link takes its page.

    >>> now = [0.0]
    >>> pages = JustAnswered(keep_s=5, clock=lambda: now[0])
    >>> pages.put("D-2026-0001-C001", "wang-fang", "<p>recorded</p>")
    >>> pages.take("D-2026-0001-C001", "li-wei"), pages.take("D-2026-0001-C001", "wang-fang")
    (None, '<p>recorded</p>')
    >>> pages.take("D-2026-0001-C001", "wang-fang") is None  # given once
    True
    >>> pages.put("D-2026-0001-C002", "wang-fang", "<p>recorded</p>"); now[0] = 6.0
    >>> pages.take("D-2026-0001-C002", "wang-fang") is None  # too late
    True
    """

    def __init__(
        self,
        *,
        keep_s: float = 10.0,
        max_pages: int = 1_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keep_s = keep_s
        self.max_pages = max_pages
        self._clock = clock
        self._lock = threading.Lock()
        self._pages: OrderedDict[str, tuple[float, str, str]] = OrderedDict()

    def put(self, task_id: str, actor_id: str, page: str) -> None:
        """Keep ``page``, the task's page after ``actor_id``'s answer."""
        now = self._clock()
        with self._lock:
            self._pages.pop(task_id, None)
            self._pages[task_id] = (now + self.keep_s, actor_id, page)
            while self._pages and (
                len(self._pages) > self.max_pages or next(iter(self._pages.values()))[0] <= now
            ):
                self._pages.popitem(last=False)

    def take(self, task_id: str | None, actor_id: str) -> str | None:
        """The page kept for ``task_id`` and its person, once, if it is still fresh."""
        if task_id is None:
            return None
        with self._lock:
            kept = self._pages.get(task_id)
            if kept is None or kept[1] != actor_id:
                return None
            del self._pages[task_id]
        until, _, page = kept
        return page if until > self._clock() else None


class AnswerPage:
    """The page's handlers over one store: everything they show comes from the store, the
    link and the classes; the only memory is the refusal count, the store's secret and
    the Prefect client (one per process)."""

    def __init__(
        self,
        engine: Engine,
        classes: ClassBook,
        settings: CounselSettings,
        *,
        notify_prefect: bool,
        limiter: RefusalLimiter,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.classes = classes
        self.settings = settings
        self.notify_prefect = notify_prefect
        self.limiter = limiter
        self.clock = clock
        self._secret: str | None = None
        self.just_answered = JustAnswered()
        self.prefect = SharedPrefectClient()
        self.templates = Environment(
            loader=FileSystemLoader(_TEMPLATES),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # package data: read once, not stat-ed on every page
        )

    # -- shared parts ---------------------------------------------------------------------

    async def secret(self) -> str:
        if self._secret is None:
            self._secret = await run_in_threadpool(store_secret, self.engine)
        return self._secret

    def html(self, name: str, lang: str, **context: Any) -> str:
        def t(key: str, **values: object) -> str:
            return text(key, lang, **values)

        return self.templates.get_template(name).render(t=t, brand=text("brand", lang), **context)

    def render(self, name: str, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.html(name, lang, **context), status_code=status)

    def refused(self, request: Request) -> Response:
        """The one answer for every link that does not open."""
        self.limiter.refused(_client(request))
        return self.render(
            "refused.html",
            "zh",
            404,
            html_lang="zh-CN",
            heading=REFUSAL_ZH,
            lines=[{"lang": "zh-CN", "text": REFUSAL_ZH}, {"lang": "en", "text": REFUSAL}],
        )

    def too_many(self) -> Response:
        lines = [
            {"lang": "zh-CN", "text": text("too_many", "zh")},
            {"lang": "en", "text": text("too_many", "en")},
        ]
        response = self.render(
            "refused.html", "zh", 429, html_lang="zh-CN", heading=lines[0]["text"], lines=lines
        )
        response.headers["retry-after"] = str(int(self.limiter.window_s))
        return response

    def failed(self) -> Response:
        lines = [
            {"lang": "zh-CN", "text": text("error", "zh")},
            {"lang": "en", "text": text("error", "en")},
        ]
        return self.render(
            "refused.html", "zh", 500, html_lang="zh-CN", heading=lines[0]["text"], lines=lines
        )

    async def grant(self, request: Request, scope: str) -> Grant | None:
        try:
            found = read_link(await self.secret(), request.path_params["token"], now=self.clock())
        except BadLink:
            return None
        return found if found.scope == scope else None

    # -- routes ---------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def task(self, request: Request) -> Response:
        if self.limiter.blocked(_client(request)):
            return self.too_many()
        try:
            grant = await self.grant(request, "task")
            if grant is None:
                return self.refused(request)
            if request.method == "GET":
                page = self.just_answered.take(grant.task_id, grant.actor_id)
                if page is not None:  # the 303 after an answer this process recorded
                    return HTMLResponse(page)
                response = await run_in_threadpool(self.show, grant)
            else:
                body = await _read_body(request)
                response = await run_in_threadpool(self.post, request, grant, body)
            return self.refused(request) if response is None else response
        except Exception:
            log.exception("The page of %s failed.", redact(request.url.path))
            return self.failed()

    async def inbox(self, request: Request) -> Response:
        if self.limiter.blocked(_client(request)):
            return self.too_many()
        try:
            grant = await self.grant(request, "inbox")
            if grant is None:
                return self.refused(request)
            try:
                actor = await run_in_threadpool(services.get_actor, self.engine, grant.actor_id)
            except ActorNotFound:
                return self.refused(request)
            now = self.clock()
            page = await run_in_threadpool(
                inbox_page,
                self.engine,
                actor,
                self.classes.labels,
                secret=await self.secret(),
                zone=self.settings.timezone,
                now=now,
                link_until=datetime.fromtimestamp(grant.expires_at, now.tzinfo),
            )
            return self.render("inbox.html", actor.lang, html_lang=page.html_lang, page=page)
        except Exception:
            log.exception("The page of %s failed.", redact(request.url.path))
            return self.failed()

    # -- the task -------------------------------------------------------------------------

    def task_view(
        self,
        opened: OpenedTask,
        *,
        typed: dict[str, list[str]] | None = None,
        wrong: tuple[str, ...] = (),
        said: tuple[str, ...] = (),
        status: int = 200,
    ) -> Response:
        html = self.task_html(opened, typed=typed, wrong=wrong, said=said)
        return HTMLResponse(html, status_code=status)

    def task_html(
        self,
        opened: OpenedTask,
        *,
        typed: dict[str, list[str]] | None = None,
        wrong: tuple[str, ...] = (),
        said: tuple[str, ...] = (),
    ) -> str:
        task, lang = opened.task, opened.actor.lang
        fields = form_fields(
            task.kind,
            self.criteria(opened),
            self.classes.labels,
            lang,
            measures=task.measures,
            typed=typed,
            wrong=wrong,
        )
        page = task_page(
            opened,
            self.classes.labels,
            zone=self.settings.timezone,
            now=self.clock(),
            fields=fields,
            problems=said,
            tender=self.tender_lines(opened),
        )
        return self.html("task.html", lang, html_lang=page.html_lang, page=page)

    def criteria(self, opened: OpenedTask) -> tuple[str, ...]:
        """What the task's form is made of: the class's criteria, or, for a tender's
        evaluator, the bids and criteria they score (``bid|criterion``)."""
        if opened.task.kind is TaskKind.SCORE:
            from flows.tender import score_fields

            return score_fields(self.engine, opened.task)
        return opened.view.decision_class.criteria

    def tender_lines(self, opened: OpenedTask) -> tuple[str, tuple[tuple[str, str], ...]] | None:
        """For a tender's evaluator the bids they score; for a member the ranking."""
        if opened.view.decision_class.tender is None:
            return None
        from flows.tender import page_lines

        return page_lines(self.engine, opened.task, opened.actor.lang)

    # -- in a thread: each request hands its reads and writes of the store to one thread --

    def show(self, grant: Grant) -> Response | None:
        """The task's page; None when the link opens no task (refused by the caller)."""
        opened = open_task(self.engine, self.classes, grant)
        return None if opened is None else self.task_view(opened)

    def post(self, request: Request, grant: Grant, body: bytes | None) -> Response | None:
        """An answer posted to the task's link: recorded if the task is open (else its
        page); None when the link opens no task."""
        opened = open_task(self.engine, self.classes, grant)
        if opened is None:
            return None
        if opened.task.status is not TaskStatus.OPEN:
            return self.task_view(opened)
        return self.answer(request, grant, opened, body)

    def answer(
        self, request: Request, grant: Grant, opened: OpenedTask, body: bytes | None
    ) -> Response | None:
        task, lang = opened.task, opened.actor.lang
        criteria = self.criteria(opened)
        if body is None:
            return self.task_view(opened, said=(text("too_large", lang),), status=413)
        sent = _parse_form(body, request.headers.get("content-type", ""))
        if sent is None:
            return self.task_view(opened, said=(text("unreadable", lang),), status=422)
        data, typed = read_answer(task.kind, criteria, sent, measures=task.measures)
        wrong = problems(
            task.kind,
            criteria,
            data,
            self.classes.labels,
            lang,
            recommendations=(opened.view.recommendations() if task.kind is TaskKind.VOTE else None),
        )
        if wrong:
            return self.task_view(
                opened,
                typed=typed,
                wrong=tuple(name for name, _ in wrong),
                said=tuple(sentence for _, sentence in wrong),
                status=422,
            )
        try:
            page = self.record(grant, opened, data, criteria)
        except CounselError as refusal:
            again = open_task(self.engine, self.classes, grant)
            if again is None:
                return None
            if again.task.status is not TaskStatus.OPEN:
                return self.task_view(again)
            key = "powers_refused" if isinstance(refusal, PermissionDenied) else "store_refused"
            said = (text(key, lang, reason=str(refusal)),)
            return self.task_view(again, typed=typed, said=said, status=422)
        # the task now shows what was recorded and what happens next (reloading it is a GET);
        # the GET the redirect leads to gets the page made here
        if page:
            self.just_answered.put(task.id, grant.actor_id, page)
        return RedirectResponse(request.path_params["token"], status_code=303)

    def record(
        self, grant: Grant, opened: OpenedTask, data: dict[str, Any], criteria: tuple[str, ...]
    ) -> str:
        """Record the answer (:meth:`submit`); the task's page as it stands after it (the
        page the GET after the redirect would read), made from what the answer's write
        read where that is all the page shows."""
        recorded = self.submit(opened, data, criteria).recorded
        after = after_answer(opened, recorded) or open_task(self.engine, self.classes, grant)
        if after is None:  # the task went away meanwhile: the redirect's GET says so
            return ""
        return self.task_html(after)

    def submit(
        self, opened: OpenedTask, data: dict[str, Any], criteria: tuple[str, ...]
    ) -> Submitted:
        """Record the answer through the one answer path, with the task's own code (derived
        from the store's secret, as the store derives it) and the task, its decision and
        its form's criteria as just opened."""
        task = opened.task
        assert self._secret is not None  # read when the link was
        return submit_answer(
            self.engine,
            task.id,
            {**data, "answer_code": answer_code(self._secret, task.id)},
            actor=opened.actor,
            classes=self.classes,
            notify_prefect=self.notify_prefect,
            channel="the answer page",
            task=task,
            decision=opened.view.decision,
            criteria=criteria,
            prefect=self.prefect,
        )


def _client(request: Request) -> str:
    return request.client.host if request.client else "-"


async def _read_body(request: Request) -> bytes | None:
    """The request's body, or None when it is larger than :data:`MAX_BODY`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_form(body: bytes, content_type: str) -> dict[str, list[str]] | None:
    """An ``application/x-www-form-urlencoded`` body as field -> values, or None when it is
    not one, or not UTF-8."""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return None
    try:
        return parse_qs(
            body.decode("utf-8"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=500,
        )
    except (UnicodeDecodeError, ValueError):
        return None


def page_engine(url: str) -> Engine:
    """The page's engine for the store at ``url``: on PostgreSQL a pool of :data:`THREADS`
    connections kept open, one for each thread that answers requests."""
    if make_url(normalise_url(url)).get_backend_name() != "postgresql":
        return make_engine(url)
    return make_engine(url, pool_size=THREADS, max_overflow=0)


def create_app(
    engine: Engine | None = None,
    *,
    classes: ClassBook | None = None,
    settings: CounselSettings | None = None,
    notify_prefect: bool | None = None,
    refusals_per_minute: int = REFUSALS_PER_MINUTE,
    clock: Callable[[], datetime] = utcnow,
) -> Starlette:
    """The answer page for the store of ``engine`` (by default the settings' store, opened
    here with :func:`page_engine` and closed when the application stops).

    Parameters
    ----------
    classes
        The decision classes (default: the settings' file, read once at start).
    settings
        Where the time zone comes from (default: :func:`decisions.settings.load_settings`).
    notify_prefect
        Whether a recorded answer closes the person's Prefect run and continues the
        decision at once; by default, when a Prefect server is named. Without it the
        deadline sweep continues the decision.
    refusals_per_minute
        Links that do not open, per client and minute, before it is answered 429.
    clock
        The current moment (UTC), for tests.
    """
    settings = settings or load_settings()
    owned = engine is None
    engine = engine or page_engine(settings.resolved_database_url())
    page = AnswerPage(
        engine,
        classes or load_classes(settings.classes_file),
        settings,
        notify_prefect=_prefect_named() if notify_prefect is None else notify_prefect,
        limiter=RefusalLimiter(per_minute=refusals_per_minute),
        clock=clock,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # the threads of this event loop (its requests' reads and writes of the store)
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        yield
        page.prefect.close()
        if owned:
            engine.dispose()

    app = Starlette(
        routes=[
            Route("/t/{token}", page.task, methods=["GET", "POST"]),
            Route("/me/{token}", page.inbox, methods=["GET"]),
            Route("/healthz", page.health, methods=["GET"]),
        ],
        middleware=[Middleware(_Guard)],
        lifespan=lifespan,
    )
    app.state.page = page
    return app
