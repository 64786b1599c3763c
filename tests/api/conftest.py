"""A world of published and unpublished things for the API tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

# Every secret the world holds carries this marker, so a test can look for it in any answer.
SECRET = "SECRETO"


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Raise the API's rate limit: the fuzzing tests send hundreds of requests."""
    return {"API_RATE_LIMIT": "100000 per minute"}


@dataclass
class World:
    """Ids of what the public may see, and of what it must not."""

    municipality: Any = None
    hidden_municipality: Any = None
    visible: dict[str, list[int]] = field(default_factory=dict)
    hidden: dict[str, list[int]] = field(default_factory=dict)


def _ballot(db: Any, round_: Any, choices: list[int], n: int, district: Any = None) -> None:
    from portal.budgeting.models import Ballot, BallotChoice, Participation

    ballot = Ballot(
        round_id=round_.id,
        district_id=district.id if district else None,
        channel="online" if n % 3 else "paper",
        receipt_code=f"{SECRET}{round_.id}R{n}",
        age_band="18-29" if n % 2 else "30-44",
        choices=[BallotChoice(proposal_id=pid, points=1) for pid in choices],
    )
    db.session.add(ballot)
    db.session.flush()
    db.session.add(
        Participation(
            round_id=round_.id, voter_hash=f"{SECRET}V{round_.id}-{n}", ballot_id=ballot.id
        )
    )


def _census(db: Any, round_: Any, count: int) -> None:
    from portal.budgeting.models import CensusEntry

    for n in range(count):
        db.session.add(CensusEntry(round_id=round_.id, rut_hash=f"{SECRET}H{round_.id}-{n}"))


def _counted_round(db: Any, factory: Any, municipality: Any, author: Any, *, publish: bool) -> Any:
    """A round whose voting has closed, with ballots counted; results published or not."""
    from portal.voting.services import compute_results, publish_results

    round_ = factory.round(
        municipality,
        phase="results",
        title="Presupuesto con resultados" if publish else "Presupuesto contado, sin publicar",
        comuna_wide_budget=0,
    )
    district = factory.district(round_, "Cerro Alegre", 6_000_000, code="UV-12")
    titles = ["Techado feria", "Baños mercado", "Capacitación digital"]
    projects = [
        factory.proposal(
            round_,
            author,
            district=district,
            title=title,
            status="feasible",
            final_cost=cost,
            cost=cost,
        )
        for title, cost in zip(titles, [3_000_000, 2_500_000, 2_000_000], strict=True)
    ]
    _census(db, round_, 12)
    for n in range(9):
        _ballot(db, round_, [projects[n % 3].id, projects[(n + 1) % 3].id], n, district)
    db.session.commit()
    compute_results(db.session, round_)
    if publish:
        publish_results(db.session, round_)
    db.session.commit()
    return round_


@pytest.fixture
def world(db: Any, factory: Any) -> World:
    """Two municipalities (one inactive), rounds in every state, registry records, projects."""
    from tests.economy.helpers import make_fair, make_organization
    from tests.programmes.helpers import make_programme, make_project

    w = World()
    a = factory.municipality("05101")
    b = factory.municipality("08101")
    b.active = False
    db.session.commit()
    w.municipality, w.hidden_municipality = a, b
    author = factory.user(f"{SECRET.lower()}-vecina@example.cl", name=f"{SECRET} Vecina")

    published = _counted_round(db, factory, a, author, publish=True)
    unpublished_results = _counted_round(db, factory, a, author, publish=False)
    proposing = factory.round(a, phase="proposals", title="Ronda en postulación")
    district = factory.district(proposing, "Playa Ancha", 4_000_000)
    open_proposals = [
        factory.proposal(proposing, author, district=district, title="Mercado de Playa Ancha"),
        factory.proposal(proposing, author, title="Ferias en toda la comuna", theme="training"),
    ]
    draft = factory.round(a, phase="draft", title=f"{SECRET} ronda en borrador")
    draft_proposal = factory.proposal(draft, author, title=f"{SECRET} propuesta en borrador")
    hidden_round = factory.round(b, phase="voting", title=f"{SECRET} ronda de municipio inactivo")
    hidden_proposal = factory.proposal(hidden_round, author, title=f"{SECRET} propuesta inactiva")

    verified = make_organization(db, a, name="Cooperativa Caleta Portales", rut="76.086.428-5")
    informal = make_organization(
        db,
        a,
        name="Grupo de artesanas del cerro",
        rut="12.345.678-5",
        legal_form="informal_group",
        sector="crafts",
        email=f"{SECRET.lower()}@artesanas.cl",
        phone="+56 9 1234 5678",
    )
    pending = make_organization(db, a, name=f"{SECRET} organización pendiente", status="pending")
    suspended = make_organization(
        db, a, name=f"{SECRET} organización suspendida", status="suspended"
    )
    elsewhere = make_organization(db, b, name=f"{SECRET} cooperativa de municipio inactivo")

    fair = make_fair(db, a, organizers=[verified, pending])
    closed_fair = make_fair(db, a, name=f"{SECRET} feria inactiva")
    closed_fair.active = False
    hidden_fair = make_fair(db, b, name=f"{SECRET} feria de municipio inactivo")
    db.session.commit()

    programme = make_programme(
        db, code="fndr-05-api", contact_name=f"{SECRET} Persona", contact_email="p@gore05.cl"
    )
    national = make_programme(db, code="sercotec-ferias", region=None, agency="sercotec")
    project = make_project(db, a, programmes=[(programme, 10_000_000)], organization=pending)
    other = make_project(db, a, title="Mercado de abastos", year=2025, organization=verified)
    hidden_project = make_project(db, b, title=f"{SECRET} proyecto de municipio inactivo")

    from sqlalchemy import select

    from portal.budgeting.models import Proposal
    from portal.programmes.models import FundedProject

    winners = list(
        db.session.scalars(select(FundedProject.id).where(FundedProject.round_id == published.id))
    )
    published_proposals = list(
        db.session.scalars(select(Proposal.id).where(Proposal.round_id == published.id))
    )
    unpublished_result_proposals = list(
        db.session.scalars(select(Proposal.id).where(Proposal.round_id == unpublished_results.id))
    )
    w.visible = {
        "municipality": [a.id],
        "round": [published.id, unpublished_results.id, proposing.id],
        "results": [published.id],
        "proposal": published_proposals
        + unpublished_result_proposals
        + [p.id for p in open_proposals],
        "organization": [verified.id, informal.id],
        "fair": [fair.id],
        "programme": [programme.id, national.id],
        "project": [project.id, other.id, *winners],
    }
    w.hidden = {
        "municipality": [b.id],
        "round": [draft.id, hidden_round.id],
        "results": [unpublished_results.id, proposing.id, draft.id, hidden_round.id],
        "proposal": [draft_proposal.id, hidden_proposal.id],
        "organization": [pending.id, suspended.id, elsewhere.id],
        "fair": [closed_fair.id, hidden_fair.id],
        "project": [hidden_project.id],
    }
    return w
