"""Public pages and the commands a newcomer runs."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from sqlalchemy import func, select

from portal.accounts.models import Membership, User
from portal.geo.models import Municipality
from tests.conftest import REPO


def test_home_lists_municipalities_by_region(client: Any, factory: Any) -> None:
    factory.municipality("05101")
    factory.municipality("08101")
    html = client.get("/").get_data(as_text=True)
    assert html.index("Región de Valparaíso") < html.index("Municipalidad de Valparaíso")
    assert (
        html.index("Municipalidad de Valparaíso")
        < html.index("Región del Biobío")
        < html.index("Municipalidad de Concepción")
    )
    assert 'href="/valparaiso/"' in html


def test_municipality_has_a_stable_public_page(client: Any, factory: Any) -> None:
    factory.municipality("05109")
    page = client.get("/vina-del-mar/")
    assert page.status_code == 200
    assert "Municipalidad de Viña del Mar" in page.get_data(as_text=True)
    assert client.get("/no-existe/").status_code == 404


def test_pages_are_accessible_by_construction(client: Any) -> None:
    html = client.get("/ingresar").get_data(as_text=True)
    assert '<meta name="viewport"' in html
    assert 'class="skip-link" href="#main"' in html
    assert '<main id="main"' in html
    assert '<label for="email">' in html and '<label for="password">' in html
    assert 'rel="icon"' in html


def test_health_check(client: Any) -> None:
    assert client.get("/salud").get_json() == {"status": "ok"}


def test_demo_is_idempotent(app: Any, db: Any) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "admin@portal.demo" in first.output
    counts = [
        db.session.scalar(select(func.count()).select_from(m))
        for m in (User, Membership, Municipality)
    ]
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0, second.output
    db.session.expire_all()
    assert [
        db.session.scalar(select(func.count()).select_from(m))
        for m in (User, Membership, Municipality)
    ] == counts
    assert counts[2] == 4


def test_demo_accounts_can_sign_in(app: Any) -> None:
    from portal.demo import DEMO_PASSWORD
    from tests.conftest import login

    app.config["ARGON2_TIME_COST"] = 1
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    client = app.test_client()
    login(client, "fomento@valparaiso.demo", DEMO_PASSWORD)
    assert client.get("/gestion/valparaiso/").status_code == 200


def test_console_script_and_wsgi_entry_point() -> None:
    portal = REPO / ".venv" / "bin" / "portal"
    exe = [str(portal)] if portal.exists() else [sys.executable, "-m", "flask", "--app", "portal"]
    result = subprocess.run([*exe, "--help"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    for command in ("db", "demo", "geo", "run"):
        assert command in result.stdout
    source = (REPO / "wsgi.py").read_text()
    assert "app = create_app()" in source


def test_create_admin_command(app: Any, db: Any) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-admin", "jefa@portal.cl", "--name", "Jefa", "--password", "una-clave-segura"]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "jefa@portal.cl"))
    assert user.is_admin
    short = runner.invoke(args=["create-admin", "otra@portal.cl", "--password", "corta"])
    assert short.exit_code != 0
    assert db.session.scalar(select(User).where(User.email == "otra@portal.cl")) is None


def test_readme_documents_every_setting() -> None:
    from portal.config import SETTINGS

    readme = (REPO / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in readme]
    assert missing == []
