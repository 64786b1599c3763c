"""Demo rounds: one in each phase, with districts, Chilean proposals, a census and ballots.

Valparaíso has a round open for voting (its demo census is printed by `portal demo`) and a
round with published results; the other municipalities hold the other phases. Safe to run
again: a round that exists (by title) is left as it is.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.cl import rut as stdnum_rut

from portal.budgeting.census import CensusRow, replace_census
from portal.budgeting.models import (
    Ballot,
    BallotChoice,
    District,
    Participation,
    Proposal,
    Round,
)
from portal.database import utcnow
from portal.rut import keyed_hash
from portal.voting.services import (
    age_band,
    age_on,
    age_reference,
    all_lists,
    compute_results,
    new_receipt,
    publish_results,
)

PHASE_ORDER = ["proposals", "review", "voting", "results", "implementation", "closed"]

PROJECTS = [
    # title, summary, theme, cost, district index (None: comuna-wide)
    (
        "Techado y luz para la feria libre de Avenida Argentina",
        "Cubrir 60 puestos y poner luminarias LED para la feria de los miércoles y sábados.",
        "fairs-markets",
        18_000_000,
        0,
    ),
    (
        "Escuela de oficios gastronómicos para jóvenes",
        "Cursos de cocina, higiene y emprendimiento con práctica en picadas del barrio.",
        "training",
        9_500_000,
        0,
    ),
    (
        "Sello y ruta del comercio de barrio",
        "Señalética, mapa y campaña para los almacenes y talleres del cerro.",
        "local-commerce",
        6_000_000,
        0,
    ),
    (
        "Mercado de artesanas en la plaza",
        "Toldos, mesas y bodega para una feria mensual de artesanas y recicladoras.",
        "sse-organizations",
        7_500_000,
        1,
    ),
    (
        "Caleta: cámara de frío para pescadores artesanales",
        "Una cámara de frío comunitaria para vender pescado fresco en el muelle.",
        "sse-organizations",
        14_000_000,
        1,
    ),
    (
        "Vitrinas digitales para almacenes",
        "Fotos, catálogo en línea y pago con tarjeta para 40 almacenes.",
        "digitalisation",
        5_000_000,
        1,
    ),
    (
        "Ruta patrimonial de miradores y picadas",
        "Recorrido guiado con guías locales y comercio asociado.",
        "tourism",
        8_000_000,
        None,
    ),
    (
        "Cooperativa de reciclaje: prensa y galpón",
        "Una prensa de cartón y un galpón para la cooperativa de recicladores de base.",
        "sse-organizations",
        12_000_000,
        None,
    ),
]


@dataclass(frozen=True)
class DemoRound:
    slug: str
    title: str
    phase: str  # "draft" or a dated phase
    method: str = "approval"
    rule: str = "greedy"
    districts: tuple[tuple[str, int], ...] = (
        ("Cerro Alegre y Concepción", 30_000_000),
        ("Playa Ancha", 30_000_000),
    )
    comuna_wide: int = 0
    ballots: int = 0


DEMO_ROUNDS = [
    DemoRound(
        "valparaiso",
        "Presupuesto Participativo de Economía Local 2027",
        "voting",
        rule="mes-add1",
        comuna_wide=20_000_000,
    ),
    DemoRound(
        "valparaiso",
        "Presupuesto Participativo de Ferias y Mercados 2026",
        "results",
        method="knapsack",
        ballots=240,
    ),
    DemoRound("vina-del-mar", "Fondos Vecinales para el Comercio de Barrio 2027", "proposals"),
    DemoRound("vina-del-mar", "Presupuesto Participativo de Turismo Local 2028", "draft"),
    DemoRound(
        "concepcion",
        "Presupuesto Participativo Emprende Concepción 2027",
        "review",
        method="cumulative",
    ),
    DemoRound(
        "concepcion",
        "Presupuesto Participativo Barrios Comerciales 2025",
        "implementation",
        method="ranked",
        ballots=180,
    ),
    DemoRound(
        "talcahuano", "Presupuesto Participativo Caletas y Ferias 2024", "closed", ballots=150
    ),
]

DEMO_CENSUS_SIZE = 400


def demo_rut(n: int) -> str:
    """Return the n-th demo RUT, formatted (they are printed for `make run`)."""
    body = str(12_000_000 + n * 7919)
    return str(stdnum_rut.format(body + stdnum_rut.calc_check_digit(body)))


def demo_birth(n: int) -> date:
    """Return the n-th demo resident's date of birth (aged 15 to 80)."""
    return date(1946 + (n * 37) % 65, 1 + n % 12, 1 + (n * 5) % 28)


def _dates(phase: str) -> dict[str, Any]:
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    current = PHASE_ORDER.index(phase) if phase in PHASE_ORDER else -1
    starts = {}
    for i, name in enumerate(PHASE_ORDER):
        days = -((current - i) * 21 + 3) if i <= current else (i - current) * 21 - 3
        starts[f"{name}_start"] = now + timedelta(days=days)
    return starts


def _rules(spec: DemoRound) -> dict[str, Any]:
    rules: dict[str, Any] = {"method": spec.method, "allocation_rule": spec.rule}
    if spec.method == "approval":
        rules.update(min_selections=1, max_selections=2)
    elif spec.method == "knapsack":
        rules.update(min_selections=1, max_selections=None)
    elif spec.method == "cumulative":
        rules.update(min_selections=1, max_selections=None, points_total=5, points_cap=3)
    else:
        rules.update(min_selections=1, max_selections=None, rank_k=3)
    if spec.comuna_wide:
        rules.update(district_mode="district-and-comuna", comuna_wide_budget=spec.comuna_wide)
    return rules


def _make_round(session: Session, municipality: Any, author: Any, spec: DemoRound) -> Round:
    total = sum(b for _, b in spec.districts) + spec.comuna_wide
    round_ = Round(
        municipality_id=municipality.id,
        title=spec.title,
        description=(
            "La municipalidad destina parte de su presupuesto de fomento productivo a proyectos "
            "que proponen y eligen los vecinos, las organizaciones y las ferias de la comuna.\n"
            "Las propuestas pasan por una evaluación técnica antes de llegar a la papeleta."
        ),
        total_budget=total,
        themes=["fairs-markets", "local-commerce", "sse-organizations", "tourism", "training"],
        published_at=None if spec.phase == "draft" else utcnow() - timedelta(days=90),
        **_dates(spec.phase),
        **_rules(spec),
    )
    session.add(round_)
    session.flush()
    districts = []
    for name, budget in spec.districts:
        district = District(round_id=round_.id, name=name, budget=budget)
        session.add(district)
        districts.append(district)
    session.flush()
    reviewed = spec.phase not in ("draft", "proposals", "review")
    for i, (title, summary, theme, cost, d) in enumerate(PROJECTS):
        if spec.comuna_wide == 0 and d is None:
            d = i % 2
        status = "submitted"
        if reviewed or (spec.phase == "review" and i < 4):
            status = "not_feasible" if i == 2 and not reviewed else "feasible"
        session.add(
            Proposal(
                round_id=round_.id,
                district_id=districts[d].id if d is not None else None,
                author_id=author.id if author else None,
                title=title,
                summary=summary,
                description=summary + " Propuesta de vecinas y vecinos del sector.",
                theme=theme,
                estimated_cost=cost,
                final_cost=cost if status == "feasible" else None,
                status=status,
                review_reason=(
                    "El terreno es un bien nacional de uso público no disponible."
                    if status == "not_feasible"
                    else (
                        "Factible: cumple las bases y el costo fue revisado."
                        if status == "feasible"
                        else None
                    )
                ),
                address="Valparaíso" if municipality.slug == "valparaiso" else None,
            )
        )
    session.flush()
    return round_


def _census(session: Session, round_: Round) -> None:
    districts = list(round_.districts)
    rows = []
    for n in range(DEMO_CENSUS_SIZE):
        compact = str(stdnum_rut.compact(demo_rut(n))).upper()
        district = districts[n % len(districts)].id if districts else None
        rows.append(CensusRow(keyed_hash(compact, "rut"), demo_birth(n), None, district))
    replace_census(session, round_, rows)


def _simulate_ballots(session: Session, round_: Round, count: int) -> None:
    """Cast demo ballots straight into the tables (the round's voting phase is in the past)."""
    rng = random.Random(round_.title)
    lists = all_lists(session, round_)
    reference = age_reference(round_)
    district_ids = [d.id for d in round_.districts]
    for n in range(count):
        district_id = district_ids[n % len(district_ids)] if district_ids else None
        district_lists = [b for b in lists if b.district_id in (None, district_id)]
        choices: list[tuple[int, int, int | None]] = []
        for blist in district_lists:
            projects = list(blist.projects)
            if not projects:
                continue
            weights = [len(projects) - i + rng.random() * 3 for i in range(len(projects))]
            ranked = sorted(projects, key=lambda p: -weights[projects.index(p)] * rng.random())
            if round_.method == "knapsack":
                left = blist.budget
                for p in ranked:
                    if (p.final_cost or 0) <= left and rng.random() < 0.6:
                        choices.append((p.id, 1, None))
                        left -= p.final_cost or 0
                if not any(c[0] in {p.id for p in projects} for c in choices):
                    choices.append((min(projects, key=lambda p: p.final_cost or 0).id, 1, None))
            elif round_.method == "cumulative":
                points = round_.points_total or 5
                for p in ranked[:2]:
                    give = min(points, round_.points_cap or points, rng.randint(1, 3))
                    choices.append((p.id, give, None))
                    points -= give
            elif round_.method == "ranked":
                for r, p in enumerate(ranked[: round_.rank_k or 3], start=1):
                    choices.append((p.id, 1, r))
            else:
                for p in ranked[: rng.randint(1, round_.max_selections or 2)]:
                    choices.append((p.id, 1, None))
        birth = demo_birth(n)
        ballot = Ballot(
            round_id=round_.id,
            district_id=district_id,
            channel="paper" if n % 9 == 0 else "online",
            receipt_code=new_receipt(),
            age_band=age_band(age_on(birth, reference)),
        )
        session.add(ballot)
        session.flush()
        session.execute(
            BallotChoice.__table__.insert(),
            [
                {"ballot_id": ballot.id, "proposal_id": p, "points": pts, "rank": rank}
                for p, pts, rank in choices
            ],
        )
        session.add(
            Participation(
                round_id=round_.id,
                voter_hash=keyed_hash(f"demo-{round_.id}-{n}", "rut"),
                channel=ballot.channel,
                ballot_id=ballot.id,
                age_band=ballot.age_band,
            )
        )
    session.flush()


def voting_step(session: Session, ctx: Any) -> None:
    """Create the demo rounds that are missing."""
    author = ctx.users.get("vecina@portal.demo")
    for spec in DEMO_ROUNDS:
        municipality = ctx.municipalities[spec.slug]
        exists = session.scalar(
            select(Round).where(Round.municipality_id == municipality.id, Round.title == spec.title)
        )
        if exists is not None:
            continue
        round_ = _make_round(session, municipality, author, spec)
        session.refresh(round_)
        if spec.phase == "voting":
            _census(session, round_)
        if spec.ballots:
            _simulate_ballots(session, round_, spec.ballots)
            compute_results(session, round_)
            publish_results(session, round_)
    voting = session.scalar(select(Round).where(Round.title == DEMO_ROUNDS[0].title))
    if voting is not None:
        sample = ", ".join(
            f"{demo_rut(n)} ({demo_birth(n).strftime('%d-%m-%Y')})" for n in range(3)
        )
        ctx.notes.append(
            f"Vote at /valparaiso/rondas/{voting.id}/votar with a census RUT and date of birth, e.g. {sample}."
        )
