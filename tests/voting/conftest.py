"""A round open for voting, with a census, districts and projects on the ballot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from stdnum.cl import rut as stdnum_rut
from werkzeug.datastructures import MultiDict

from portal.budgeting.census import CensusRow
from portal.rut import keyed_hash
from tests.conftest import csrf_token


def make_rut(n: int) -> str:
    """Return a valid, formatted RUT numbered n."""
    body = str(15_000_000 + n)
    return str(stdnum_rut.format(body + stdnum_rut.calc_check_digit(body)))


@dataclass
class Resident:
    rut: str
    birth: date
    district: Any


@dataclass
class VotingRound:
    round: Any
    municipality: Any
    districts: list[Any]
    projects: dict[str, Any]  # title -> proposal
    residents: list[Resident]

    @property
    def base(self) -> str:
        return f"/{self.municipality.slug}/rondas/{self.round.id}"

    @property
    def staff_base(self) -> str:
        return f"/gestion/{self.municipality.slug}/rondas/{self.round.id}"


def add_census(db: Any, round_: Any, residents: list[Resident]) -> None:
    """Put residents in a round's census (as the census import would store them)."""
    from portal.budgeting.census import replace_census

    rows = [
        CensusRow(
            keyed_hash(stdnum_rut.compact(r.rut).upper(), "rut"),
            r.birth,
            None,
            r.district.id if r.district else None,
        )
        for r in residents
    ]
    replace_census(db.session, round_, rows)
    db.session.commit()


@pytest.fixture
def voting_round(app: Any, db: Any, factory: Any) -> Any:
    """Build a round of Valparaíso in its voting phase; `method` etc. set per test."""

    def build(**rules: Any) -> VotingRound:
        municipality = factory.municipality("05101")
        author = factory.user()
        with_districts = rules.pop("districts", True)
        round_ = factory.round(municipality, phase="voting", total_budget=10_000_000, **rules)
        districts = []
        if with_districts:
            districts = [
                factory.district(round_, "Cerro Alegre", 5_000_000),
                factory.district(round_, "Playa Ancha", 5_000_000),
            ]
        projects = {}
        plan = [
            ("Techado feria Cerro Alegre", 3_000_000, 0),
            ("Taller de oficios", 2_000_000, 0),
            ("Mercado de artesanas", 1_500_000, 0),
            ("Feria costera Playa Ancha", 4_000_000, 1),
            ("Capacitación digital", 1_000_000, 1),
        ]
        for title, cost, d in plan:
            projects[title] = factory.proposal(
                round_,
                author,
                district=districts[d] if districts else None,
                title=title,
                cost=cost,
                status="feasible",
                final_cost=cost,
            )
        residents = [
            Resident(
                make_rut(i),
                date(1960 + i, 1 + i % 12, 1 + i % 27),
                districts[i % 2] if districts else None,
            )
            for i in range(20)
        ]
        residents.append(
            Resident(make_rut(99), date(2016, 5, 5), districts[0] if districts else None)
        )
        add_census(db, round_, residents)
        return VotingRound(round_, municipality, districts, projects, residents)

    return build


def check_in(client: Any, vr: VotingRound, resident: Resident) -> Any:
    """Pass the eligibility check as a resident."""
    return client.post(
        f"{vr.base}/votar",
        data={
            "csrf_token": csrf_token(client, f"{vr.base}/votar"),
            "rut": resident.rut,
            "birth_date": resident.birth.isoformat(),
        },
    )


def vote(client: Any, vr: VotingRound, fields: list[tuple[str, str]]) -> Any:
    """Send a ballot with the given form fields."""
    token = csrf_token(client, f"{vr.base}/papeleta")
    return client.post(f"{vr.base}/papeleta", data=MultiDict([("csrf_token", token), *fields]))
