"""The store's services: what the CLI, the flows and the tests ask of the store.

Every function takes the engine and is one unit of work (:class:`decisions.uow.UnitOfWork`):
it opens one transaction, takes the write lock if it writes, lets the domain decide, and
writes the state change together with its audit event. Writes carry an idempotency key;
when an event with that key is already in the chain the call returns what was recorded then
and writes nothing. A refusal by the separation of powers is itself an audit event,
committed before :class:`~decisions.exceptions.PermissionDenied` is raised.

The surface, by what it serves (import from here; the modules are how it is kept):

=====================  ===============================================================
:mod:`.actors`         ``add_actor``, ``list_actors``, ``get_actor``, ``authenticate``,
                       ``ensure_actor``, ``issue_token``
:mod:`.lifecycle`      ``Proposal``, ``submit_proposal``, ``apply_transition``,
                       ``apply_transition_once``,
                       ``amend_proposal``
:mod:`.tasks`          ``AssignedTask``, ``assign_task``, ``set_task_status``,
                       ``close_task_once``, ``attach_flow_run``, ``answer_code_for``
:mod:`.answers`        ``RecordedAnswer``, ``Seen``, ``record_answer``
:mod:`.audit`          ``append_event``, ``append_event_once``, ``append_events``,
                       ``history``, ``event_count``, ``last_activity``, ``verify``,
                       ``export_events``
:mod:`.queries`        ``get_decision``, ``list_decisions``, ``get_task``, ``tasks_of``,
                       ``open_tasks_for``, ``open_tasks``, ``answers_of``, ``answer_for``
:mod:`.progress`       ``load_view`` (the procedure's view of a decision), ``routings_of``,
                       ``record_routing``, ``record_round``,
                       ``conclude_consultation``, ``record_cycle``
:mod:`.dossier`        ``DecisionRecord``, ``decision_record`` (what a decision's dossier
                       shows), ``EventsCheck``, ``check_decision_events``
:mod:`.schema`         ``init_store``, ``check_ready``
:mod:`.notifications`  ``Delivery``, ``deliver_due`` (one pass of a notifier),
                       ``list_notifications``
:mod:`decisions.uow`   ``UnitOfWork``, ``unit_of_work`` (its session, for row-level code)
=====================  ===============================================================

Answers come back as the :data:`~decisions.model.Answer` models (``Opinion``, ``Vote`` …),
never as dicts: ``answers_of`` maps task id to answer, ``answer_for`` gives one or None, and
``record_answer`` always returns one :class:`RecordedAnswer` (``created`` says whether this
call wrote it) or raises.
"""

from __future__ import annotations

from decisions.services.actors import (
    add_actor,
    authenticate,
    channels,
    ensure_actor,
    get_actor,
    issue_token,
    list_actors,
    set_contacts,
)
from decisions.services.answers import RecordedAnswer, Seen, record_answer
from decisions.services.audit import (
    append_event,
    append_event_once,
    append_events,
    chain_head,
    continuation_key,
    event_count,
    export_events,
    history,
    last_activity,
    person_run_key,
    verify,
)
from decisions.services.common import SYSTEM
from decisions.services.dossier import (
    DecisionRecord,
    EventsCheck,
    check_decision_events,
    decision_record,
)
from decisions.services.lifecycle import (
    Proposal,
    amend_proposal,
    apply_transition,
    apply_transition_once,
    submit_proposal,
)
from decisions.services.notifications import Delivery, deliver_due, list_notifications
from decisions.services.progress import (
    conclude_consultation,
    load_view,
    record_cycle,
    record_round,
    record_routing,
    routings_of,
)
from decisions.services.queries import (
    answer_for,
    answers_of,
    get_decision,
    get_task,
    list_decisions,
    open_tasks,
    open_tasks_for,
    tasks_of,
)
from decisions.services.schema import check_ready, init_store
from decisions.services.tasks import (
    AssignedTask,
    answer_code_for,
    assign_task,
    attach_flow_run,
    close_task_once,
    set_task_status,
)
from decisions.uow import UnitOfWork, unit_of_work

__all__ = [
    "SYSTEM",
    "Proposal",
    "AssignedTask",
    "RecordedAnswer",
    "Seen",
    "UnitOfWork",
    "unit_of_work",
    "init_store",
    "check_ready",
    "add_actor",
    "list_actors",
    "get_actor",
    "authenticate",
    "ensure_actor",
    "issue_token",
    "set_contacts",
    "channels",
    "submit_proposal",
    "apply_transition",
    "apply_transition_once",
    "amend_proposal",
    "assign_task",
    "set_task_status",
    "close_task_once",
    "attach_flow_run",
    "answer_code_for",
    "record_answer",
    "append_event",
    "append_event_once",
    "append_events",
    "history",
    "event_count",
    "continuation_key",
    "person_run_key",
    "chain_head",
    "last_activity",
    "verify",
    "export_events",
    "get_decision",
    "list_decisions",
    "get_task",
    "tasks_of",
    "open_tasks_for",
    "open_tasks",
    "answers_of",
    "answer_for",
    "load_view",
    "routings_of",
    "record_routing",
    "record_round",
    "conclude_consultation",
    "record_cycle",
    "DecisionRecord",
    "EventsCheck",
    "decision_record",
    "check_decision_events",
    "Delivery",
    "deliver_due",
    "list_notifications",
]
