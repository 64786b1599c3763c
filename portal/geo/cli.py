"""`portal geo ...` commands."""

from __future__ import annotations

import click
from flask.cli import AppGroup

geo_cli = AppGroup("geo", help="Chile's regions and comunas.")


@geo_cli.command("load")
def load_command() -> None:
    """Load (or refresh) the 16 regions and 346 comunas."""
    from portal.extensions import db
    from portal.geo.services import load_geography

    counts = load_geography(db.session)
    db.session.commit()
    click.echo(
        f"Regions added: {counts.regions_added}, comunas added: {counts.comunas_added}, "
        f"updated: {counts.updated}."
    )
