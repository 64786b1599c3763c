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
    click.echo(f"Demo data loaded. Accounts (password for all: {DEMO_PASSWORD}):")
    for account in ctx.accounts:
        role = account.role or "resident"
        scope = f" [{account.scope}]" if account.scope else ""
        click.echo(f"  {account.email:<30} {role}{scope}")
    for note in ctx.notes:
        click.echo(note)


@click.command("create-admin")
@click.argument("email")
@click.option("--name", default="", help="The person's name (defaults to the email).")
@click.password_option(help="The password (asked for twice when not given).")
@with_appcontext
def create_admin_command(email: str, name: str, password: str) -> None:
    """Create a platform admin account, or give an existing account the admin role."""
    from portal.accounts.forms import MIN_PASSWORD
    from portal.accounts.models import Role
    from portal.accounts.services import add_membership, create_user, user_by_email
    from portal.audit.services import record
    from portal.extensions import db

    user = user_by_email(db.session, email)
    if user is None:
        if len(password) < MIN_PASSWORD:
            raise click.BadParameter(
                f"use at least {MIN_PASSWORD} characters", param_hint="password"
            )
        user = create_user(db.session, email, name or email, password)
    membership = add_membership(db.session, user, Role.ADMIN.value, None, None)
    record(
        db.session,
        "membership.create",
        "membership",
        membership.id,
        after={"user": user.email, "role": "admin"},
        actor=user,
    )
    db.session.commit()
    click.echo(f"{user.email} is a platform admin.")
