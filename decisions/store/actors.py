"""Actors in and out of the store: one row per actor, its roles and organisations as lists.

The token is kept only as its hash; :meth:`ActorRepository.by_token_hash` is how a caller is
recognised.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from decisions.clock import utcnow
from decisions.exceptions import ActorNotFound
from decisions.model.actors import Actor, Role
from decisions.tables import ActorRow

__all__ = ["ActorRepository"]


class ActorRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, actor: Actor, token_hash: str) -> None:
        self.session.add(
            ActorRow(
                id=actor.id,
                name=actor.name,
                roles=sorted(r.value for r in actor.roles),
                affiliations=list(actor.affiliations),
                bodies=list(actor.bodies),
                notify=list(actor.notify),
                lang=actor.lang,
                token_hash=token_hash,
                created_at=utcnow(),
            )
        )
        self.session.flush()

    def exists(self, actor_id: str) -> bool:
        return self.session.get(ActorRow, actor_id) is not None

    def set_affiliations(self, actor_id: str, affiliations: list[str]) -> list[str]:
        """Set the actor's organisations; returns the ones it had before."""
        row = self.session.get(ActorRow, actor_id)
        if row is None:
            raise ActorNotFound(actor_id)
        before = list(row.affiliations)
        row.affiliations = list(affiliations)
        self.session.flush()
        return before

    def set_contacts(self, actor_id: str, notify: list[str], lang: str) -> None:
        """Set where and in which language the actor is told of their tasks."""
        row = self.session.get(ActorRow, actor_id)
        if row is None:
            raise ActorNotFound(actor_id)
        row.notify = list(notify)
        row.lang = lang
        self.session.flush()

    def set_token_hash(self, actor_id: str, token_hash: str) -> None:
        """Replace the actor's token (the old one stops working at commit)."""
        row = self.session.get(ActorRow, actor_id)
        if row is None:
            raise ActorNotFound(actor_id)
        row.token_hash = token_hash
        self.session.flush()

    def get(self, actor_id: str) -> Actor:
        row = self.session.get(ActorRow, actor_id)
        if row is None:
            raise ActorNotFound(actor_id)
        return self._to_model(row)

    def by_token_hash(self, token_hash: str) -> Actor | None:
        row = self.session.scalars(
            select(ActorRow).where(ActorRow.token_hash == token_hash)
        ).one_or_none()
        return None if row is None else self._to_model(row)

    def list(self, *, role: Role | None = None) -> list[Actor]:
        actors = [
            self._to_model(r) for r in self.session.scalars(select(ActorRow).order_by(ActorRow.id))
        ]
        return [a for a in actors if role is None or role in a.roles]

    @staticmethod
    def _to_model(row: ActorRow) -> Actor:
        return Actor(
            id=row.id,
            name=row.name,
            roles=frozenset(Role(r) for r in row.roles),
            affiliations=tuple(row.affiliations),
            bodies=tuple(row.bodies),
            notify=tuple(row.notify or ()),
            lang=row.lang or "zh",
        )
