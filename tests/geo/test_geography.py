"""Regions and comunas: the shipped copy, the loader and the CLI."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from portal.geo.models import Comuna, Region
from portal.geo.services import DATA_DIR, load_geography


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_shipped_copy_matches_the_official_list(shared_dir: Path) -> None:
    official = shared_dir / "data" / "chile"
    assert read(DATA_DIR / "regions.csv") == read(official / "regions.csv")
    assert read(DATA_DIR / "communes.csv") == read(official / "communes.csv")


def test_database_holds_16_regions_and_346_comunas(db: Any) -> None:
    assert db.session.scalar(select(func.count()).select_from(Region)) == 16
    assert db.session.scalar(select(func.count()).select_from(Comuna)) == 346
    huechuraba = db.session.get(Comuna, "13107")
    assert huechuraba.name == "Huechuraba"
    assert huechuraba.region.cut == "13"
    assert huechuraba.slug == "huechuraba"
    assert db.session.get(Comuna, "05109").slug == "vina-del-mar"


def test_loading_again_changes_nothing(db: Any) -> None:
    counts = load_geography(db.session)
    assert (counts.regions_added, counts.comunas_added, counts.updated) == (0, 0, 0)


def test_geo_load_command_reports_what_it_did(app: Any) -> None:
    result = app.test_cli_runner().invoke(args=["geo", "load"])
    assert result.exit_code == 0, result.output
    assert "comunas added: 0" in result.output
