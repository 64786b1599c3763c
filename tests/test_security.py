"""Security baseline: headers, CSRF, cookies, error pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from portal import create_app
from portal.audit.models import AuditEntry, AuditLogIsAppendOnly
from tests.conftest import base_config, login, post_form


def test_security_headers_on_every_page(client: Any) -> None:
    for path in ["/", "/ingresar", "/no-existe/"]:
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "Strict-Transport-Security" not in headers  # plain HTTP in tests


def test_hsts_behind_https(template_database: str, tmp_path: Any) -> None:
    app = create_app({**base_config(tmp_path, "sqlite://"), "HTTPS": True})
    response = app.test_client().get("/ingresar", base_url="https://portal.test")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_page_has_inline_script(client: Any) -> None:
    for path in ["/", "/ingresar", "/registro", "/clave/olvido"]:
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert " on" + "click=" not in html


def test_form_post_without_csrf_token_is_refused(client: Any, factory: Any) -> None:
    factory.user("ana@example.cl")
    response = client.post("/ingresar", data={"email": "ana@example.cl", "password": "x"})
    assert response.status_code == 400
    assert "El formulario expiró" in response.get_data(as_text=True)


def test_session_cookie_is_httponly_and_samesite(client: Any, factory: Any) -> None:
    factory.user("ana@example.cl")
    response = login(client, "ana@example.cl")
    cookie = next(
        v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_not_found_page_is_in_spanish_and_leaks_nothing(client: Any) -> None:
    response = client.get("/gestion/x/y/z")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "Página no encontrada" in body
    assert "Traceback" not in body and "werkzeug" not in body.lower()


def test_unexpected_error_is_a_plain_500_page(template_database: str, tmp_path: Any) -> None:
    app = create_app(base_config(tmp_path, "sqlite://"))

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("secret detail")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Algo salió mal" in body
    assert "secret detail" not in body


def test_oversized_request_is_413(app: Any, client: Any) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/ingresar", data={"email": "x" * 5000})
    assert response.status_code == 413
    assert "demasiado grande" in response.get_data(as_text=True)


def test_audit_log_is_append_only(db: Any, factory: Any) -> None:
    from portal.audit.services import record

    entry = record(db.session, "test.action", "thing", 1, after={"a": 1}, actor=None)
    db.session.commit()
    entry.action = "changed"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEntry, entry.id))
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    with pytest.raises(DBAPIError):
        db.session.execute(text("UPDATE audit_entries SET action = 'forged'"))
    db.session.rollback()
    assert db.session.get(AuditEntry, entry.id).action == "test.action"


def test_admin_writes_are_audited_and_staff_read_their_log(
    app: Any, client: Any, factory: Any, db: Any
) -> None:
    factory.user("admin@portal.cl", role="admin")
    login(client, "admin@portal.cl")
    response = post_form(
        client,
        "/admin/municipios/nuevo",
        {"comuna_cut": "05109", "name": "", "email": "", "website": ""},
    )
    assert response.status_code == 302
    entry = db.session.query(AuditEntry).filter_by(action="municipality.create").one()
    assert entry.actor == "admin@portal.cl"
    assert entry.after["name"] == "Municipalidad de Viña del Mar"
    assert entry.region_cut == "05"

    vina = entry.municipality_id
    from portal.geo.models import Municipality

    factory.user(
        "staff@vina.cl", role="municipal_staff", municipality=db.session.get(Municipality, vina)
    )
    other = factory.municipality("08101")
    factory.user("staff@concepcion.cl", role="municipal_staff", municipality=other)
    staff = app.test_client()
    login(staff, "staff@vina.cl")
    log = staff.get("/gestion/vina-del-mar/auditoria").get_data(as_text=True)
    assert "municipality.create" in log and "admin@portal.cl" in log
    foreign = app.test_client()
    login(foreign, "staff@concepcion.cl")
    assert "municipality.create" not in foreign.get("/gestion/concepcion/auditoria").get_data(
        as_text=True
    )


def test_nul_bytes_in_input_are_a_bad_request(client: Any) -> None:
    assert client.get("/?q=a%00b").status_code == 400
    response = post_form(client, "/ingresar", {"email": "a\x00@example.cl", "password": "x"})
    assert response.status_code == 400
    assert "Solicitud no válida" in response.get_data(as_text=True)
