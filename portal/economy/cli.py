"""`portal economy import-organizations SLUG FILE` and `portal economy import-fairs SLUG FILE`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from portal.economy import bp


def _import(slug: str, file: Path, kind: str) -> None:
    from portal.economy import exchange
    from portal.extensions import db
    from portal.geo.services import municipality_by_slug

    municipality = municipality_by_slug(db.session, slug)
    if municipality is None:
        raise click.ClickException(f"No active municipality has the slug {slug!r}.")
    text = exchange.decode(file.read_bytes())
    validate, write = {
        "organizations": (exchange.validate_organizations, exchange.write_organizations),
        "fairs": (exchange.validate_fairs, exchange.write_fairs),
    }[kind]

    def bar(label: str) -> Callable[[Iterable[Any]], Iterable[Any]]:
        def wrap(items: Iterable[Any]) -> Iterable[Any]:
            items = list(items)
            with click.progressbar(items, label=label, file=sys.stderr) as progress:
                yield from progress

        return wrap

    parsed = validate(db.session, municipality, text, progress=bar("Checking"))
    if parsed.errors:
        for problem in parsed.errors:
            click.echo(f"{file.name}:{problem.line}: {problem.message}", err=True)
        raise click.ClickException(f"{len(parsed.errors)} errors: nothing was imported.")
    created = write(db.session, municipality, parsed, progress=bar("Importing"))
    db.session.commit()
    click.echo(f"Imported {len(created)} {kind} into {municipality.name}.")


@bp.cli.command("import-organizations")
@click.argument("slug")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_organizations(slug: str, file: Path) -> None:
    """Import organizations from a CSV into a municipality's registry (all or nothing)."""
    _import(slug, file, "organizations")


@bp.cli.command("import-fairs")
@click.argument("slug")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_fairs(slug: str, file: Path) -> None:
    """Import fairs and markets from a CSV into a municipality (all or nothing)."""
    _import(slug, file, "fairs")
