"""Build registry data through the services, for the economy tests."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from portal.economy.services import (
    LocationData,
    ScheduleData,
    create_fair,
    create_organization,
    register_organization,
)


def make_organization(
    db: Any,
    municipality: Any,
    *,
    name: str = "Cooperativa Caleta Portales",
    rut: str | None = None,
    legal_form: str = "cooperative",
    sector: str = "fishing",
    status: str = "verified",
    products: str = "pescado fresco, mariscos",
    comuna_cut: str | None = None,
    lat: float | None = -33.0284,
    lon: float | None = -71.5886,
    representative: Any = None,
    **values: Any,
) -> Any:
    """Create an organization (verified unless told) and commit."""
    data = {
        "name": name,
        "rut": rut,
        "legal_form": legal_form,
        "sector": sector,
        "products": products,
        **values,
    }
    locations = [
        LocationData(
            address="Av. Altamirano 1480",
            comuna_cut=comuna_cut or municipality.comuna_cut,
            latitude=lat,
            longitude=lon,
        )
    ]
    if representative is not None:
        org = register_organization(db.session, municipality, data, locations, representative)
    else:
        org = create_organization(
            db.session, municipality, data, locations, status=status, refuse_same_rut=False
        )
    db.session.commit()
    return org


def make_fair(
    db: Any,
    municipality: Any,
    *,
    name: str = "Feria Libre Avenida Argentina",
    kind: str = "feria_libre",
    byday: tuple[str, ...] = ("WE", "SA", "SU"),
    opens: time = time(7),
    closes: time = time(15),
    stalls: int | None = 600,
    valid_from: date | None = None,
    valid_to: date | None = None,
    exceptions: list[date] | None = None,
    one_offs: list[tuple[date, time, time]] | None = None,
    organizers: list[Any] | None = None,
    lat: float | None = -33.0472,
    lon: float | None = -71.6127,
) -> Any:
    """Create a fair with a weekly schedule and commit."""
    schedules = (
        [ScheduleData(byday, opens, closes, valid_from, valid_to, exceptions or [])]
        if byday
        else []
    )
    fair = create_fair(
        db.session,
        municipality,
        {
            "name": name,
            "kind": kind,
            "place": "Av. Argentina entre Pedro Montt y Chacabuco",
            "latitude": lat,
            "longitude": lon,
            "stalls": stalls,
            "permit_number": "DOM-2026-114",
            "product_categories": "frutas, verduras, pescados",
        },
        schedules,
        one_offs or [],
        [o.id for o in organizers or []],
    )
    db.session.commit()
    return fair
