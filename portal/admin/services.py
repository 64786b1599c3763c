"""Platform admin writes: municipalities."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit.services import changes, record
from portal.geo.models import Comuna, Municipality


class MunicipalityError(ValueError):
    """A municipality that cannot be created as asked."""


def create_municipality(
    session: Session,
    comuna_cut: str,
    name: str = "",
    email: str | None = None,
    website: str | None = None,
) -> Municipality:
    """Create the municipality of a comuna; a comuna has at most one."""
    comuna = session.get(Comuna, comuna_cut)
    if comuna is None:
        raise MunicipalityError("unknown-comuna")
    if session.scalar(select(Municipality).where(Municipality.comuna_cut == comuna_cut)):
        raise MunicipalityError("exists")
    municipality = Municipality(
        comuna_cut=comuna.cut,
        name=name.strip() or f"Municipalidad de {comuna.name}",
        slug=comuna.slug,
        email=email or None,
        website=website or None,
    )
    session.add(municipality)
    session.flush()
    record(
        session,
        "municipality.create",
        "municipality",
        municipality.id,
        municipality_id=municipality.id,
        region_cut=comuna.region_cut,
        after={"name": municipality.name, "comuna": comuna.cut},
    )
    return municipality


def update_municipality(session: Session, municipality: Municipality, **values: object) -> None:
    """Change a municipality's name, contact or active flag."""
    before, after = changes(municipality, ["name", "email", "website", "active"], values)
    if after:
        record(
            session,
            "municipality.update",
            "municipality",
            municipality.id,
            municipality_id=municipality.id,
            region_cut=municipality.region_cut,
            before=before,
            after=after,
        )
