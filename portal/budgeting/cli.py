"""`portal census ...`: import a census from the command line, with a progress bar."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

census_cli = AppGroup("census", help="The census (padrón) of a round.")


@census_cli.command("import")
@click.argument("round_id", type=int)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(round_id: int, path: Path) -> None:
    """Check a census CSV whole and, if clean, replace the round's census with it."""
    from portal.budgeting.census import parse_census, replace_census
    from portal.budgeting.messages import census_problem_text
    from portal.budgeting.models import Round
    from portal.extensions import db

    round_ = db.session.get(Round, round_id)
    if round_ is None:
        raise click.ClickException(f"there is no round {round_id}")
    data = path.read_bytes()
    lines = data.count(b"\n")
    with click.progressbar(length=lines, label="Checking") as bar:
        rows, problems = parse_census(data, round_.districts, progress=bar.update)
    if problems:
        for problem in problems:
            click.echo(census_problem_text(problem), err=True)
        raise click.ClickException(f"{len(problems)} problems: nothing was imported")
    with click.progressbar(length=len(rows), label="Importing") as bar:
        count = replace_census(db.session, round_, rows, progress=bar.update)
    db.session.commit()
    click.echo(f"The census of round {round_id} now has {count} residents.")
