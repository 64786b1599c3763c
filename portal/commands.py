"""Top-level commands of the `portal` CLI that belong to no single feature."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load the demo data (safe to run again) and print the demo accounts."""
    from portal.demo import DEMO_PASSWORD, load_demo
    from portal.extensions import db

    ctx = load_demo(db.session)
    db.session.commit()
    click.echo("Demo data loaded. Accounts (password for all: %s):" % DEMO_PASSWORD)
    for account in ctx.accounts:
        role = account.role or "resident"
        scope = f" [{account.scope}]" if account.scope else ""
        click.echo(f"  {account.email:<30} {role}{scope}")
    for note in ctx.notes:
        click.echo(note)
