"""Carrying out a tender's steps: qualification, the committed seed, the pool, the draw,
replacements, the ranking and the reveal (:mod:`decisions.procedure.tender` says when).

Each step writes one ``tender.*`` audit event under its command's key, so a step run again
writes nothing twice; the run that wrote it publishes its report. The pool comes from the
expertise graph (:func:`pool_for`), the draw from :mod:`experts.draw`, qualification and
scores from :mod:`decisions.tender`. ``counsel audit check-draw`` replays the draw from these
events alone (:func:`check_draw`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from decisions import services
from decisions.classes import DecisionClass
from decisions.expert_actors import actor_ids_for_experts
from decisions.model import Decision, Task, TaskKind
from decisions.procedure import DecisionView, TenderStep
from decisions.progress import TenderRecord
from decisions.services.tender import scored_bids, server_seed, tender_of
from decisions.tender import TenderSpec, qualify, ranking_markdown, score_lots
from decisions.uow import UnitOfWork
from flows.context import off_loop
from flows.publishing import md_inline, publish_markdown

__all__ = [
    "carry_out_tender",
    "pool_for",
    "check_draw",
    "draw_settings",
    "evaluator_criteria",
    "cells_of",
    "score_fields",
]

#: The stage a tender's reports are published under.
STAGE = "consult"


def draw_settings(decision_class: DecisionClass, spec: TenderSpec) -> dict[str, Any]:
    """What the draw needs besides the pool and the seeds, from the class and the lots."""
    rules = decision_class.tender
    assert rules is not None
    return {
        "panel_size": rules.panel,
        "alternates": rules.alternates,
        "lots": {lot.id: rules.per_lot for lot in spec.lots},
        "max_lots_per_evaluator": rules.max_lots_per_evaluator,
        "mode": rules.mode,
        "max_probability": rules.max_probability,
    }


def evaluator_criteria(decision_class: DecisionClass) -> tuple[str, ...]:
    """The criteria evaluators score (the price criterion is the class's formula's)."""
    rules = decision_class.tender
    assert rules is not None
    return tuple(n for n, c in rules.scoring.criteria.items() if c.source == "evaluators")


def pool_for(engine: Engine, decision: Decision, decision_class: DecisionClass) -> dict[str, Any]:
    """The eligible evaluators (:func:`experts.pool.tender_pool`: the tender's speciality,
    nobody affiliated with a bidder now or before or working for a competitor, nobody unavailable,
    at most the class's number per organisation), each made an actor so the separation of
    powers checks them like anyone else; the pool's members carry their actor ids."""
    from experts.draw import PoolMember, pool_digest
    from experts.pool import tender_pool
    from experts.store import load_expertise

    rules = decision_class.tender
    assert rules is not None
    with UnitOfWork(engine, read_only=True) as uow:
        data = load_expertise(uow.session)
    pool, excluded = tender_pool(
        data,
        decision.topics,
        bidders=decision.bidder_orgs,
        per_organisation=rules.per_organisation,
    )
    experts = {e.id: e for e in data.experts}
    ids = actor_ids_for_experts(engine, [m.id for m in pool])
    members = []
    for member in pool:
        expert = experts[member.id]
        actor = services.ensure_actor(
            engine,
            actor_id=ids[member.id],
            name=expert.name[:200],
            roles=["expert"],
            affiliations=[a.organisation for a in expert.affiliations if a.current],
            notify=expert.notify,
            lang=expert.lang,
        )
        members.append(member.model_copy(update={"id": actor.id}))
    members.sort(key=lambda m: m.id)
    relevant = {k: v for k, v in excluded.items() if v != "is not of the tender's speciality"}
    return {
        "members": [m.model_dump() for m in members],
        "experts": {ids[m.id]: m.id for m in pool},
        "digest": pool_digest(PoolMember.model_validate(m) for m in members),
        "excluded": [
            {"expert": x, "name": experts[x].name[:200], "reason": r}
            for x, r in sorted(relevant.items())[:KEPT_OUT_LIMIT]
        ],
        "excluded_count": len(relevant),
        "outside_speciality": len(excluded) - len(relevant),
    }


#: How many experts kept out of the pool its record names (the rest are counted).
KEPT_OUT_LIMIT = 200


def cells_of(record: TenderRecord, holder: str) -> tuple[str, ...]:
    """The scoring form's cells (``bid|criterion``) of the seat ``holder`` holds."""
    from flows.forms import score_cells

    assert record.draw is not None
    _, bids = scored_bids(record, holder)
    return score_cells(bids, tuple(record.draw["settings"]["criteria"]))


def score_fields(engine: Engine, task: Task) -> tuple[str, ...]:
    """The cells a scoring task's form asks for, from the tender's record."""
    record = tender_of(engine, task.decision_id)
    if record is None or record.draw is None:
        return ()
    return cells_of(record, task.assignee_id)


def _members(record: TenderRecord) -> list[Any]:
    from experts.draw import PoolMember

    assert record.pool is not None
    return [PoolMember.model_validate(m) for m in record.pool["members"]]


async def carry_out_tender(step: Any, view: DecisionView, command: TenderStep) -> None:
    """Compute and record one of the tender's facts; publish its report if this run wrote it.

    ``step`` is the stage's :class:`flows.steps.StageStep` (its ``note`` writes the event).
    """
    engine, did = step.ctx.engine, step.decision_id
    record = view.tender
    assert record is not None
    spec = TenderSpec.model_validate(record.spec)
    rules = view.decision_class.tender
    assert rules is not None
    if command.step == "qualify":
        qualification = qualify(
            spec, rules.qualification.for_district_type(view.decision.district_type)
        )
        payload = qualification.model_dump(mode="json")
        if await step.note("tender.qualified", payload, command.key):
            publish_markdown(did, STAGE, _qualification_markdown(qualification), "Qualification")
    elif command.step == "commit":
        from experts.draw import ALGORITHM, commitment

        seed = await off_loop(server_seed, engine, did)
        payload = {"commitment": commitment(seed), "algorithm": ALGORITHM}
        await step.note("tender.seed_committed", payload, command.key)
    elif command.step == "fix_pool":
        pool = await off_loop(pool_for, engine, view.decision, view.decision_class)
        if await step.note("tender.pool_fixed", pool, command.key):
            publish_markdown(
                did,
                STAGE,
                f"# Evaluator pool fixed\n\n{len(pool['members'])} eligible experts "
                f"(digest `{pool['digest']}`); {pool['excluded_count']} kept out.",
                "Evaluator pool",
            )
    elif command.step == "draw":
        from experts.draw import draw_panel

        seed = await off_loop(server_seed, engine, did)
        settings = draw_settings(view.decision_class, spec)
        draw = draw_panel(
            _members(record), server_seed=seed, witness=command.params["witness"], **settings
        )
        payload = {
            **draw.model_dump(mode="json"),
            "witness": command.params["witness"],
            "settings": {**settings, "criteria": list(evaluator_criteria(view.decision_class))},
        }
        if await step.note("tender.panel_drawn", payload, command.key):
            publish_markdown(did, STAGE, _draw_markdown(view, payload), "Panel drawn")
    elif command.step == "replace":
        from experts.draw import replace

        assert record.draw is not None
        draw = _recorded_draw(record)
        declined = command.params["declined"]
        mapping = replace(draw, declined)  # the procedure stalls before alternates run out
        payload = {"declined": list(declined), "replacements": mapping}
        await step.note("tender.replaced", payload, command.key)
    elif command.step == "rank":
        ranking = score_lots(spec, record.qualified, command.params["scores"], rules.scoring)
        payload = {"round": command.params["round"], "ranking": ranking.model_dump(mode="json")}
        if await step.note("tender.ranked", payload, command.key):
            qualification = _qualification(record)
            publish_markdown(
                did, STAGE, ranking_markdown(spec, qualification, ranking), "Ranking of the bids"
            )
    elif command.step == "reveal":
        seed = await off_loop(server_seed, engine, did)
        if await step.note("tender.seed_revealed", {"server_seed": seed}, command.key):
            publish_markdown(
                did,
                STAGE,
                f"# Draw seed revealed\n\nServer seed `{seed}`. Anyone can now check the draw "
                f"with `counsel audit check-draw {did}`.",
                "Draw seed revealed",
            )
    else:
        raise TypeError(f"{command.step} is not a tender's step")


def _recorded_draw(record: TenderRecord) -> Any:
    """The draw as :mod:`experts.draw` made it, from its event (less what the event adds)."""
    from experts.draw import Draw

    assert record.draw is not None
    return Draw.model_validate(
        {k: v for k, v in record.draw.items() if k not in {"witness", "settings"}}
    )


def _qualification(record: TenderRecord) -> Any:
    from decisions.tender import Qualification

    return Qualification.model_validate(record.qualification)


def _qualification_markdown(qualification: Any) -> str:
    lines = ["# Qualification of the bidders", ""]
    lines.append(f"Qualified bids: {', '.join(qualification.qualified) or 'none'}.")
    if qualification.excluded:
        lines += ["", "| bid | bidder | rule | reason |", "|---|---|---|---|"]
        lines += [
            f"| {md_inline(x.bid)} | {md_inline(x.bidder)} | {md_inline(x.rule)} | "
            f"{md_inline(x.reason)} |"
            for x in qualification.excluded
        ]
    return "\n".join(lines)


def _draw_markdown(view: DecisionView, draw: dict[str, Any]) -> str:
    lines = [
        "# Panel of evaluators drawn",
        "",
        f"Algorithm `{draw['algorithm']}`, witness value `{md_inline(draw['witness'])}`, "
        f"pool digest `{draw['pool_digest']}`, draw seed `{draw['seed']}`.",
        "",
        "| seat | evaluator | lots |",
        "|---|---|---|",
    ]
    for n, member in enumerate(draw["panel"], start=1):
        lots = ", ".join(lot for lot, ms in draw["lots"].items() if member in ms)
        lines.append(f"| {n} | {md_inline(view.actor_name(member))} | {md_inline(lots)} |")
    lines += ["", f"Alternates, in order: {', '.join(draw['alternates']) or 'none'}."]
    return "\n".join(lines)


def check_draw(engine: Engine, decision_id: str) -> list[str]:
    """Replay the tender's draw from its recorded events; the mismatches found (empty when
    the draw matches), or why it cannot be checked yet."""
    from experts.draw import PoolMember, verify_draw

    record = tender_of(engine, decision_id)
    if record is None:
        return [f"Decision {decision_id} has no tender: there is no draw to check."]
    missing = [
        name
        for name, fact in (
            ("the seed's commitment", record.commitment),
            ("the pool", record.pool),
            ("the draw", record.draw),
            ("the revealed seed", record.revealed),
        )
        if fact is None
    ]
    if missing:
        return [
            f"The draw of {decision_id} cannot be checked yet: {', '.join(missing)} "
            "not recorded (the seed is revealed once the panel has scored)."
        ]
    assert record.pool and record.draw and record.revealed and record.commitment
    settings = record.draw["settings"]
    recorded = _recorded_draw(record)
    members = [PoolMember.model_validate(m) for m in record.pool["members"]]
    problems = []
    if record.pool.get("digest") != recorded.pool_digest:
        problems.append("The pool recorded when it was fixed is not the pool the draw used.")
    return problems + verify_draw(
        server_seed=record.revealed["server_seed"],
        commitment_hex=record.commitment["commitment"],
        witness=record.draw["witness"],
        pool=members,
        recorded=recorded,
        declined=record.declined(),
        recorded_replacements=(record.replacements or {}).get("replacements", {}),
        panel_size=settings["panel_size"],
        alternates=settings["alternates"],
        lots=settings["lots"],
        max_lots_per_evaluator=settings["max_lots_per_evaluator"],
    )


def _yuan(amount: Any, lang: str) -> str:
    value = float(amount)
    return f"{value / 10_000:,.2f} 万元" if lang == "zh" else f"{value:,.0f} yuan"


def page_lines(
    engine: Engine, task: Task, lang: str
) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """What the answer page shows a tender's people beside their form: an evaluator the bids
    of their lots (bidder, lot, price, technical plan); a member voting the ranking per lot.
    None for anyone else."""
    if task.kind not in {TaskKind.SCORE, TaskKind.VOTE}:
        return None
    record = tender_of(engine, task.decision_id)
    if record is None:
        return None
    spec = TenderSpec.model_validate(record.spec)
    lots = {lot.id: f"{lot.id} {lot.street_office} {lot.name}" for lot in spec.lots}
    if task.kind is TaskKind.SCORE:
        if record.draw is None:
            return None
        _, bids = scored_bids(record, task.assignee_id)
        heading = "您所评的投标" if lang == "zh" else "The bids you score"
        lines = []
        for bid_id in bids:
            bid = spec.bid(bid_id)
            prices = "; ".join(f"{lots[lot]}: {_yuan(p, lang)}" for lot, p in bid.prices.items())
            lines.append((f"{bid.id} · {bid.bidder_name} · {prices}", bid.plan))
        return heading, tuple(lines)
    if record.ranking is None:
        return None
    heading = "评标排名" if lang == "zh" else "The ranking of the bids"
    lines = []
    for lot in record.ranking["ranking"]["lots"]:
        entries = "\n".join(
            f"{e['rank']}. {e['bid']} {spec.bid(e['bid']).bidder_name} · "
            f"{float(e['total']):.2f} · {_yuan(e['price'], lang)}"
            for e in lot["entries"]
        )
        lines.append((lots.get(lot["lot"], lot["lot"]), entries or "—"))
    return heading, tuple(lines)
