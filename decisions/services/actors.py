"""Who acts in Counsel: adding people, their tokens, and the actors routing brings in.

A token is shown once, when it is made, and only its hash is stored; every change to an
actor is an audit event in the same transaction.
"""

from __future__ import annotations

from sqlalchemy import Engine

from decisions.credentials import hash_secret, new_token
from decisions.exceptions import ActorError, AuthenticationError
from decisions.model import Actor, Role
from decisions.services.common import SYSTEM, first_error
from decisions.store import NewEvent
from decisions.uow import UnitOfWork

__all__ = [
    "add_actor",
    "list_actors",
    "get_actor",
    "authenticate",
    "ensure_actor",
    "issue_token",
    "set_contacts",
    "channels",
]


def channels(addresses: tuple[str, ...] | list[str]) -> list[str]:
    """The kinds of address (``mailto``, ``wecombot``…) without the addresses themselves,
    which can hold a bot's key or a mail password: what the audit chain records of them."""
    return sorted({a.split("://", 1)[0] for a in addresses})


def add_actor(
    engine: Engine,
    *,
    actor_id: str,
    name: str,
    roles: list[str] | frozenset[Role],
    affiliations: list[str] | tuple[str, ...] = (),
    bodies: list[str] | tuple[str, ...] = (),
    notify: list[str] | tuple[str, ...] = (),
    lang: str = "zh",
    by: str = SYSTEM,
) -> tuple[Actor, str]:
    """Create an actor and return it with its token, which is shown this once only.

    Raises
    ------
    ActorError
        If the id, name or roles cannot make an actor, or the id is taken.
    """
    try:
        actor = Actor(
            id=actor_id,
            name=name,
            roles=frozenset(Role(r) for r in roles),
            affiliations=tuple(affiliations),
            bodies=tuple(bodies),
            notify=tuple(notify),
            lang=lang,
        )
    except ValueError as err:
        raise ActorError(first_error(err)) from err
    token = new_token()
    with UnitOfWork(engine) as uow:
        if uow.actors.exists(actor.id):
            raise ActorError(f"An actor with id {actor.id!r} already exists.")
        uow.actors.add(actor, hash_secret(token))
        uow.record(
            NewEvent(
                actor=by,
                action="actor.added",
                payload={
                    "id": actor.id,
                    "name": actor.name,
                    "roles": sorted(r.value for r in actor.roles),
                    "affiliations": list(actor.affiliations),
                    "bodies": list(actor.bodies),
                    "channels": channels(actor.notify),
                    "lang": actor.lang,
                },
                idempotency_key=f"actor.added:{actor.id}",
            )
        )
    return actor, token


def list_actors(engine: Engine, *, role: Role | None = None) -> list[Actor]:
    """Every actor by id, or those holding ``role``."""
    with UnitOfWork(engine, read_only=True) as uow:
        return uow.actors.list(role=role)


def get_actor(engine: Engine, actor_id: str) -> Actor:
    """One actor; :class:`~decisions.exceptions.ActorNotFound` if there is none."""
    with UnitOfWork(engine, read_only=True) as uow:
        return uow.actors.get(actor_id)


def authenticate(engine: Engine, token: str | None) -> Actor:
    """The actor holding ``token`` (from ``COUNSEL_TOKEN``), or a clear refusal."""
    if not token or not token.strip():
        raise AuthenticationError(
            "No token given: set COUNSEL_TOKEN to the token you received when your actor was added."
        )
    with UnitOfWork(engine, read_only=True) as uow:
        actor = uow.actors.by_token_hash(hash_secret(token))
    if actor is None:
        raise AuthenticationError("The token in COUNSEL_TOKEN does not belong to any actor.")
    return actor


def ensure_actor(
    engine: Engine,
    *,
    actor_id: str,
    name: str,
    roles: list[str],
    affiliations: list[str],
    notify: tuple[str, ...] = (),
    lang: str = "zh",
    by: str = SYSTEM,
) -> Actor:
    """The actor with this id, created (without a usable token) if it does not exist yet.

    Used when routing brings an expert from the expertise database who has never acted in
    Counsel: they answer through the UI form with their task's code; a manager can give them
    a token later. An existing actor's affiliations are set to ``affiliations`` (the
    expertise database's current ones) when they differ, with an ``actor.affiliations_changed``
    event, so the separation of powers never judges stale ties. When the expertise database
    lists addresses for the expert (``notify``, with ``lang``), they become the actor's
    contacts (``actor.contacts_changed``); when it lists none, the actor's own stand.

    Raises
    ------
    ActorError
        If ``actor_id``, ``name`` or ``roles`` cannot make an actor (not a race: nothing
        is retried).
    """
    try:
        Actor(
            id=actor_id,
            name=name,
            roles=frozenset(Role(r) for r in roles),
            affiliations=tuple(affiliations),
            notify=notify,
            lang=lang,
        )
    except ValueError as err:
        raise ActorError(first_error(err)) from err
    with UnitOfWork(engine, read_only=True) as uow:
        existing = uow.actors.get(actor_id) if uow.actors.exists(actor_id) else None
    if existing is None:
        try:
            actor, _token = add_actor(
                engine,
                actor_id=actor_id,
                name=name,
                roles=roles,
                affiliations=affiliations,
                notify=notify,
                lang=lang,
                by=by,
            )
            return actor
        except ActorError:
            pass  # checked above, so only "already exists": another run made it meanwhile
    elif existing.affiliations == tuple(affiliations) and not _new_contacts(existing, notify, lang):
        return existing
    with UnitOfWork(engine) as uow:
        current = uow.actors.get(actor_id)  # re-read, locked
        if _new_contacts(current, notify, lang):
            uow.actors.set_contacts(actor_id, list(notify), lang)
            uow.record(
                NewEvent(
                    actor=by,
                    action="actor.contacts_changed",
                    payload={"id": actor_id, "channels": channels(notify), "lang": lang},
                )
            )
        if current.affiliations != tuple(affiliations):
            before = uow.actors.set_affiliations(actor_id, list(affiliations))
            uow.record(
                NewEvent(
                    actor=by,
                    action="actor.affiliations_changed",
                    payload={"id": actor_id, "before": before, "after": list(affiliations)},
                )
            )
        return uow.actors.get(actor_id)


def _new_contacts(actor: Actor, notify: tuple[str, ...], lang: str) -> bool:
    """Whether the expertise database's contacts differ from the actor's (none listed
    there leaves the actor's own)."""
    return bool(notify) and (actor.notify, actor.lang) != (tuple(notify), lang)


def issue_token(engine: Engine, actor_id: str, *, by: str = SYSTEM) -> str:
    """Give an actor a new token (the old one stops working); shown to them once."""
    token = new_token()
    with UnitOfWork(engine) as uow:
        if not uow.actors.exists(actor_id):
            raise ActorError(f"There is no actor with id {actor_id!r}.")
        uow.actors.set_token_hash(actor_id, hash_secret(token))
        uow.record(NewEvent(actor=by, action="actor.token_issued", payload={"id": actor_id}))
    return token


def set_contacts(
    engine: Engine,
    actor_id: str,
    *,
    notify: list[str] | tuple[str, ...],
    lang: str,
    by: str = SYSTEM,
) -> Actor:
    """Set where (Apprise URLs) and in which language (``zh``, ``en``) an actor is told of
    their tasks. The audit event names the kinds of address, not the addresses.

    Raises
    ------
    ActorError
        If an address or the language is not valid, or there is no such actor.
    """
    with UnitOfWork(engine) as uow:
        if not uow.actors.exists(actor_id):
            raise ActorError(f"There is no actor with id {actor_id!r}.")
        current = uow.actors.get(actor_id)
        try:
            updated = Actor.model_validate(
                {**current.model_dump(), "notify": tuple(notify), "lang": lang}
            )
        except ValueError as err:
            raise ActorError(first_error(err)) from err
        uow.actors.set_contacts(actor_id, list(updated.notify), updated.lang)
        uow.record(
            NewEvent(
                actor=by,
                action="actor.contacts_changed",
                payload={"id": actor_id, "channels": channels(updated.notify), "lang": lang},
            )
        )
        return uow.actors.get(actor_id)
