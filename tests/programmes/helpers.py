"""Build programmes and funded projects through the services, for the tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from portal.programmes.services import add_funding, add_milestone, create_programme, create_project


def make_programme(
    db: Any,
    *,
    code: str = "fndr-05",
    name: str = "FNDR Fomento Productivo Valparaíso",
    agency: str = "gore",
    region: str | None = "05",
    level: str | None = None,
    **values: Any,
) -> Any:
    """Create a programme (regional unless region is None) and commit."""
    programme = create_programme(
        db.session,
        {
            "code": code,
            "name": name,
            "agency": agency,
            "level": level or ("regional" if region else "national"),
            "region_cut": region,
            "yearly_amount": 500_000_000,
            **values,
        },
    )
    db.session.commit()
    return programme


def make_project(
    db: Any,
    municipality: Any,
    *,
    title: str = "Techado de la Feria Libre Avenida Argentina",
    budget: int = 40_000_000,
    year: int = 2026,
    status: str = "in_progress",
    organization: Any = None,
    programmes: list[tuple[Any, int]] | None = None,
    funding_dates: tuple[date | None, date | None] = (None, None),
    milestone: tuple[str, date, date | None] | None = (
        "Licitación adjudicada",
        date(2026, 3, 1),
        None,
    ),
    **values: Any,
) -> Any:
    """Create a funded project, link programmes with their amounts, add a milestone; commit."""
    project = create_project(
        db.session,
        municipality,
        {
            "title": title,
            "description": "Cubrir los puestos.",
            "theme": "fairs-markets",
            "year": year,
            "status": status,
            "progress": 30,
            "budget": budget,
            "spent": 5_000_000,
            "address": "Av. Argentina 850",
            "latitude": -33.0472,
            "longitude": -71.6127,
            "organization_id": organization.id if organization else None,
            **values,
        },
    )
    for programme, amount in programmes or []:
        add_funding(
            db.session,
            project,
            programme,
            {
                "amount": amount,
                "agreement_ref": "Convenio 123",
                "start_date": funding_dates[0],
                "end_date": funding_dates[1],
            },
        )
    if milestone:
        add_milestone(db.session, project, *milestone)
    db.session.commit()
    return project
