"""Fixtures: an app on a freshly migrated database per test, clients, factories, login helpers.

The suite runs on SQLite by default. With PORTAL_TEST_BACKEND=postgresql it runs on the server
named by PORTAL_TEST_DATABASE_URL (`make test` does both when that variable is set).
SQLite: the schema is migrated once into a template file that each test copies.
PostgreSQL: the schema is migrated once; after each test every table but the geography is
truncated.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, inspect, text

from portal import create_app

BACKEND = os.environ.get("PORTAL_TEST_BACKEND", "sqlite")
PG_URL = os.environ.get("PORTAL_TEST_DATABASE_URL", "")
REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PORTAL_SHARED_DIR", REPO.parent / "shared"))
KEEP_TABLES = {"regions", "comunas", "alembic_version"}
PASSWORD = "correct horse battery"

if BACKEND == "postgresql" and not PG_URL:
    raise pytest.UsageError("PORTAL_TEST_BACKEND=postgresql needs PORTAL_TEST_DATABASE_URL")


def base_config(tmp_path: Path, database_url: str) -> dict[str, Any]:
    """Return the config every test app uses."""
    return {
        "PORTAL_ENV": "testing",
        "SECRET_KEY": "test-secret-key",
        "RUT_HASH_KEY": "test-rut-key",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 64,
        "RATELIMIT_STORAGE_URI": "memory://",
    }


def migrate_fresh(database_url: str, tmp_path: Path) -> None:
    """Migrate an empty database to head and load the geography."""
    from flask_migrate import upgrade

    from portal.extensions import db
    from portal.geo.services import load_geography

    app = create_app(base_config(tmp_path, database_url))
    with app.app_context():
        upgrade()
        load_geography(db.session)
        db.session.commit()
        db.engine.dispose()


def reset_postgresql_schema(url: str) -> None:
    """Drop everything in the test database."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate the schema once for the whole session; return the URL or template path."""
    tmp = tmp_path_factory.mktemp("template")
    if BACKEND == "postgresql":
        reset_postgresql_schema(PG_URL)
        migrate_fresh(PG_URL, tmp)
        return PG_URL
    path = tmp / "template.sqlite3"
    migrate_fresh(f"sqlite:///{path}", tmp)
    return str(path)


def truncate_postgresql(app: Flask) -> None:
    """Empty every table but the geography (TRUNCATE fires no row trigger)."""
    from portal.extensions import db

    with app.app_context():
        db.session.remove()
        tables = [t for t in inspect(db.engine).get_table_names() if t not in KEEP_TABLES]
        if tables:
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


class IsolatedClient(FlaskClient):
    """A test client whose every request gets a fresh app context, as on a real server.

    Without this, a request made while the test holds an app context (pytest-flask pushes
    one) would share `g` with the test and with earlier requests, and leak the signed-in user.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        ctx = self.application.app_context()
        ctx.push()
        try:
            return super().open(*args, **kwargs)
        finally:
            ctx.pop()


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Let a test module or test change the config before the app is built."""
    return {}


@pytest.fixture
def app(template_database: str, tmp_path: Path, app_config: dict[str, Any]) -> Iterator[Flask]:
    """Build an app on a database of its own (migrated, geography loaded, nothing else)."""
    if BACKEND == "postgresql":
        url = PG_URL
    else:
        db_file = tmp_path / "test.sqlite3"
        shutil.copyfile(template_database, db_file)
        url = f"sqlite:///{db_file}"
    config = base_config(tmp_path, url)
    config.update(app_config)
    application = create_app(config)
    application.test_client_class = IsolatedClient
    yield application
    from portal.extensions import db

    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    if BACKEND == "postgresql":
        truncate_postgresql(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A client that, like a browser, keeps no server context between requests."""
    return app.test_client()


@pytest.fixture
def db(app: Flask) -> Iterator[Any]:
    """Give a test the database session inside an app context."""
    from portal.extensions import db as database

    with app.app_context():
        yield database


CSRF_RE = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/") -> str:
    """Fetch a page and return the CSRF token of the client's session."""
    response = client.get(path)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({response.status_code})"
    return match.group(1)


def post_form(
    client: FlaskClient,
    path: str,
    data: dict[str, Any] | None = None,
    *,
    token_from: str | None = None,
    **kwargs: Any,
) -> Any:
    """POST a form the way a browser would: with the session's CSRF token."""
    payload = dict(data or {})
    payload.setdefault("csrf_token", csrf_token(client, token_from or "/"))
    return client.post(path, data=payload, **kwargs)


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    """Sign a client in through the login form."""
    response = post_form(
        client, "/ingresar", {"email": email, "password": password}, token_from="/ingresar"
    )
    assert response.status_code == 302, f"login failed for {email}"
    return response


class Factory:
    """Build test data through the same services the app uses."""

    def __init__(self, database: Any) -> None:
        self.db = database
        self._n = 0

    def municipality(self, comuna_cut: str = "05101", slug: str | None = None) -> Any:
        """Create (or return) the municipality of a comuna."""
        from sqlalchemy import select

        from portal.geo.models import Comuna, Municipality

        existing = self.db.session.scalar(
            select(Municipality).where(Municipality.comuna_cut == comuna_cut)
        )
        if existing:
            return existing
        comuna = self.db.session.get(Comuna, comuna_cut)
        municipality = Municipality(
            comuna_cut=comuna_cut, name=f"Municipalidad de {comuna.name}", slug=slug or comuna.slug
        )
        self.db.session.add(municipality)
        self.db.session.commit()
        return municipality

    def user(
        self,
        email: str | None = None,
        *,
        role: str | None = None,
        municipality: Any = None,
        region: str | None = None,
        name: str = "Test Person",
    ) -> Any:
        """Create a user, optionally with a role."""
        from portal.accounts.services import add_membership, create_user

        self._n += 1
        user = create_user(self.db.session, email or f"person{self._n}@example.cl", name, PASSWORD)
        if role == "municipal_staff":
            add_membership(self.db.session, user, role, municipality.id, None)
        elif role == "regional_staff":
            add_membership(self.db.session, user, role, None, region)
        elif role == "admin":
            add_membership(self.db.session, user, role, None, None)
        self.db.session.commit()
        return user

    def round(
        self,
        municipality: Any,
        *,
        phase: str = "proposals",
        title: str = "Presupuesto participativo 2027",
        total_budget: int = 10_000_000,
        **rules: Any,
    ) -> Any:
        """Create a round whose dates put it in the given phase now ('draft': unpublished)."""
        from datetime import timedelta

        from portal.budgeting.models import DATED_PHASES, Round
        from portal.database import utcnow

        now = utcnow()
        order = [p.value for p in DATED_PHASES]
        current = order.index(phase) if phase in order else 0
        starts = {}
        for i, name in enumerate(order):
            # Phases up to the current one started in the past, the rest start 10 days apart.
            days = -((current - i) * 10 + 1) if i <= current else (i - current) * 10
            starts[f"{name}_start"] = now + timedelta(days=days)
        round_ = Round(
            municipality_id=municipality.id,
            title=title,
            description="Fondos para la economía local.",
            total_budget=total_budget,
            themes=["fairs-markets", "local-commerce", "training"],
            published_at=None if phase == "draft" else now - timedelta(days=60),
            **starts,
        )
        for key, value in rules.items():
            setattr(round_, key, value)
        self.db.session.add(round_)
        self.db.session.commit()
        return round_

    def district(self, round_: Any, name: str, budget: int, code: str | None = None) -> Any:
        """Add a district to a round."""
        from portal.budgeting.models import District

        district = District(round_id=round_.id, name=name, budget=budget, code=code)
        self.db.session.add(district)
        self.db.session.commit()
        return district

    def proposal(
        self,
        round_: Any,
        author: Any,
        *,
        district: Any = None,
        title: str = "Techado para la feria libre",
        cost: int = 3_000_000,
        status: str = "submitted",
        final_cost: int | None = None,
        theme: str = "fairs-markets",
    ) -> Any:
        """File a proposal directly (tests of the proposal form go through HTTP)."""
        from portal.budgeting.models import Proposal

        proposal = Proposal(
            round_id=round_.id,
            author_id=author.id if author else None,
            district_id=district.id if district else None,
            title=title,
            summary="Un techo para los puestos de la feria.",
            description="Cubrir los puestos de la feria para que trabajen con lluvia y sol.",
            theme=theme,
            estimated_cost=cost,
            status=status,
            final_cost=final_cost,
        )
        self.db.session.add(proposal)
        self.db.session.commit()
        return proposal


@pytest.fixture
def factory(db: Any) -> Factory:
    """Give a test the data factory."""
    return Factory(db)


@pytest.fixture
def valpo(factory: Factory) -> Any:
    """Give a test the municipality of Valparaíso (05101)."""
    return factory.municipality("05101")


@pytest.fixture
def staff(factory: Factory, valpo: Any) -> Any:
    """Give a test a member of Valparaíso's staff (a module may define its own `staff`)."""
    return factory.user("fomento@valparaiso.cl", role="municipal_staff", municipality=valpo)


@pytest.fixture
def shared_dir() -> Path:
    """Return ../shared, skipping when it is not beside the repository."""
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is not there")
    return SHARED
