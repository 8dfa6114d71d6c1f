"""``counsel actors``: add and list the people and units who act in Counsel."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.common import acting_name, console, open_engine
from cli.errors import RefusingGroup
from decisions import services
from decisions.model import Role

__all__ = ["app"]

Notify = Annotated[
    list[str] | None,
    typer.Option(
        "--notify",
        help="Where they are told of their tasks, as an Apprise URL "
        "(mailto://wang@example.cn, wecombot://KEY, dingtalk://TOKEN); repeatable.",
    ),
]
Lang = Annotated[str, typer.Option("--lang", help="The language they are written to in: zh or en.")]

app = typer.Typer(
    cls=RefusingGroup,
    help="Add and list the people and units who act in Counsel.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command("add")
def add(
    actor_id: Annotated[str, typer.Argument(help="Short id, e.g. wang-fang.")],
    name: Annotated[str, typer.Option(help="Full name, in any script.")],
    role: Annotated[list[Role], typer.Option("--role", help="A role; repeat for several.")],
    org: Annotated[
        list[str] | None, typer.Option("--org", help="An affiliated organisation; repeatable.")
    ] = None,
    body: Annotated[
        list[str] | None, typer.Option("--body", help="A decision body they sit on; repeatable.")
    ] = None,
    notify: Notify = None,
    lang: Lang = "zh",
) -> None:
    """Add an actor and print their token once; only its hash is kept."""
    engine = open_engine()
    actor, token = services.add_actor(
        engine,
        actor_id=actor_id,
        name=name,
        roles=[r.value for r in role],
        affiliations=org or [],
        bodies=body or [],
        notify=notify or [],
        lang=lang,
        by=acting_name(),
    )
    console.print(
        f"Added {actor.name} ({actor.id}) as {', '.join(sorted(actor.roles))}.", markup=False
    )
    console.print("Their token, shown only now (give it to them to set as COUNSEL_TOKEN):")
    print(token)


@app.command("contacts")
def contacts(
    actor_id: Annotated[str, typer.Argument(help="Whose contacts to set, e.g. wang-fang.")],
    notify: Notify = None,
    lang: Lang = "zh",
) -> None:
    """Set where and in which language an actor is told of their tasks (replaces the
    addresses they had; give no --notify to stop telling them)."""
    actor = services.set_contacts(
        open_engine(), actor_id, notify=notify or [], lang=lang, by=acting_name()
    )
    where = ", ".join(services.channels(actor.notify)) or "nowhere"
    console.print(f"{actor.id} is told of their tasks by {where}, in {actor.lang}.", markup=False)


@app.command("token")
def token(
    actor_id: Annotated[str, typer.Argument(help="Whose token to issue, e.g. e031.")],
) -> None:
    """Issue a new token for an actor (the old one stops working); printed once."""
    engine = open_engine()
    new = services.issue_token(engine, actor_id, by=acting_name())
    console.print(f"A new token for {actor_id}, shown only now:")
    print(new)


@app.command("list")
def list_(
    role: Annotated[Role | None, typer.Option(help="Only actors with this role.")] = None,
) -> None:
    """List the actors with their roles, organisations and bodies."""
    actors = services.list_actors(open_engine(), role=role)
    table = Table(
        "id", "name", "roles", "organisations", "bodies", "told by", "lang", title="Actors"
    )
    for actor in actors:
        table.add_row(
            actor.id,
            escape(actor.name),
            ", ".join(sorted(actor.roles)),
            ", ".join(actor.affiliations),
            ", ".join(actor.bodies),
            ", ".join(services.channels(actor.notify)),
            actor.lang,
        )
    console.print(table)
