"""Demo data for `portal demo`: idempotent, realistic, in two regions.

Each feature adds a step to DEMO_STEPS; a step receives the session and the accounts
created by the base step, and must be safe to run again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.accounts.services import add_membership, create_user, set_password, user_by_email
from portal.geo.models import Municipality
from portal.geo.services import geography_loaded, load_geography

DEMO_PASSWORD = "portal-demo-2026"  # noqa: S105 - printed on purpose for a local demo


@dataclass
class DemoAccount:
    """One demo account, as printed by `make run`."""

    email: str
    name: str
    role: str | None
    scope: str | None = None


@dataclass
class DemoContext:
    """What the base step made, for later steps."""

    municipalities: dict[str, Municipality] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    accounts: list[DemoAccount] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


DEMO_MUNICIPALITIES = {
    "valparaiso": ("05101", "Municipalidad de Valparaíso"),
    "vina-del-mar": ("05109", "Municipalidad de Viña del Mar"),
    "concepcion": ("08101", "Municipalidad de Concepción"),
    "talcahuano": ("08110", "Municipalidad de Talcahuano"),
}

DEMO_ACCOUNTS = [
    DemoAccount("admin@portal.demo", "Administración Portal", Role.ADMIN.value),
    DemoAccount(
        "fomento@valparaiso.demo", "Camila Rojas", Role.MUNICIPAL_STAFF.value, "valparaiso"
    ),
    DemoAccount(
        "fomento@vinadelmar.demo", "Jorge Muñoz", Role.MUNICIPAL_STAFF.value, "vina-del-mar"
    ),
    DemoAccount(
        "fomento@concepcion.demo", "Valentina Soto", Role.MUNICIPAL_STAFF.value, "concepcion"
    ),
    DemoAccount(
        "fomento@talcahuano.demo", "Pedro Fuentes", Role.MUNICIPAL_STAFF.value, "talcahuano"
    ),
    DemoAccount("difoi@gorevalparaiso.demo", "Francisca Araya", Role.REGIONAL_STAFF.value, "05"),
    DemoAccount("difoi@gorebiobio.demo", "Rodrigo Sepúlveda", Role.REGIONAL_STAFF.value, "08"),
    DemoAccount("vecina@portal.demo", "María González", None),
]


def base_step(session: Session, ctx: DemoContext) -> None:
    """Create the demo municipalities and accounts."""
    if not geography_loaded(session):
        load_geography(session)
    for slug, (cut, name) in DEMO_MUNICIPALITIES.items():
        municipality = session.scalar(select(Municipality).where(Municipality.comuna_cut == cut))
        if municipality is None:
            municipality = Municipality(comuna_cut=cut, name=name, slug=slug)
            session.add(municipality)
            session.flush()
        ctx.municipalities[slug] = municipality
    for account in DEMO_ACCOUNTS:
        user = user_by_email(session, account.email)
        if user is None:
            user = create_user(session, account.email, account.name, DEMO_PASSWORD)
        else:
            set_password(user, DEMO_PASSWORD)
        if account.role == Role.MUNICIPAL_STAFF.value:
            add_membership(
                session, user, account.role, ctx.municipalities[account.scope or ""].id, None
            )
        elif account.role == Role.REGIONAL_STAFF.value:
            add_membership(session, user, account.role, None, account.scope)
        elif account.role == Role.ADMIN.value:
            add_membership(session, user, account.role, None, None)
        ctx.users[account.email] = user
        ctx.accounts.append(account)


DemoStep = Callable[[Session, DemoContext], None]
DEMO_STEPS: list[DemoStep] = [base_step]


def _economy_step(session: Session, ctx: DemoContext) -> None:
    from portal.economy.demo import economy_step

    economy_step(session, ctx)


DEMO_STEPS.append(_economy_step)


def _voting_step(session: Session, ctx: DemoContext) -> None:
    from portal.voting.demo import voting_step

    voting_step(session, ctx)


DEMO_STEPS.append(_voting_step)


def _programmes_step(session: Session, ctx: DemoContext) -> None:
    from portal.programmes.demo import programmes_step

    programmes_step(session, ctx)


DEMO_STEPS.append(_programmes_step)


def load_demo(session: Session) -> DemoContext:
    """Run every demo step; the caller commits."""
    ctx = DemoContext()
    for step in DEMO_STEPS:
        step(session, ctx)
        session.flush()
    return ctx
