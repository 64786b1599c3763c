"""Load the official list of regions and comunas and query it."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.geo.models import Comuna, Municipality, Region
from portal.text import slugify

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class GeoCounts:
    """What a load changed."""

    regions_added: int
    comunas_added: int
    updated: int


def read_regions(path: Path = DATA_DIR / "regions.csv") -> list[dict[str, str]]:
    """Read the shipped regions file."""
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def read_comunas(path: Path = DATA_DIR / "communes.csv") -> list[dict[str, str]]:
    """Read the shipped comunas file."""
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def load_geography(session: Session) -> GeoCounts:
    """Insert or update every region and comuna; safe to run again."""
    regions = {r.cut: r for r in session.scalars(select(Region))}
    comunas = {c.cut: c for c in session.scalars(select(Comuna))}
    added_r = added_c = updated = 0
    for row in read_regions():
        values = {
            "name": row["name"],
            "short_name": row["short_name"],
            "iso_code": row["iso_code"],
            "slug": slugify(row["short_name"]),
        }
        region = regions.get(row["cut"])
        if region is None:
            session.add(Region(cut=row["cut"], **values))
            added_r += 1
        elif any(getattr(region, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(region, k, v)
            updated += 1
    session.flush()
    for row in read_comunas():
        values = {
            "name": row["name"],
            "slug": slugify(row["name"]),
            "province_cut": row["province_cut"],
            "region_cut": row["region_cut"],
        }
        comuna = comunas.get(row["cut"])
        if comuna is None:
            session.add(Comuna(cut=row["cut"], **values))
            added_c += 1
        elif any(getattr(comuna, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(comuna, k, v)
            updated += 1
    session.flush()
    return GeoCounts(added_r, added_c, updated)


def geography_loaded(session: Session) -> bool:
    """Tell whether the comunas are in the database."""
    return (session.scalar(select(func.count()).select_from(Comuna)) or 0) > 0


def regions_with_comunas(session: Session) -> list[Region]:
    """Return every region (north to south by CUT) with its comunas."""
    return list(session.scalars(select(Region).order_by(Region.cut)))


def municipality_by_slug(session: Session, slug: str) -> Municipality | None:
    """Find an active municipality by its public slug."""
    return session.scalar(
        select(Municipality).where(Municipality.slug == slug, Municipality.active.is_(True))
    )
