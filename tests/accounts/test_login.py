"""Signing in and out, signing up, and the login rate limit."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PASSWORD, csrf_token, login, post_form


def test_staff_signs_in_and_sees_their_municipality(client: Any, factory: Any) -> None:
    valparaiso = factory.municipality("05101")
    factory.user("camila@valparaiso.cl", role="municipal_staff", municipality=valparaiso)
    response = login(client, "Camila@Valparaiso.cl")
    assert response.headers["Location"].endswith("/cuenta")
    page = client.get("/cuenta").get_data(as_text=True)
    assert "Municipalidad de Valparaíso" in page
    assert "/gestion/valparaiso/" in page


def test_wrong_password_and_unknown_email_get_the_same_message(client: Any, factory: Any) -> None:
    factory.user("ana@example.cl")
    wrong = post_form(client, "/ingresar", {"email": "ana@example.cl", "password": "nope"})
    unknown = post_form(client, "/ingresar", {"email": "nobody@example.cl", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 200
    message = "El correo o la contraseña no son correctos."
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)
    assert "ana@example.cl" in wrong.get_data(as_text=True)  # the form keeps what was typed


def test_inactive_account_cannot_sign_in(client: Any, factory: Any, db: Any) -> None:
    user = factory.user("old@example.cl")
    user.active = False
    db.session.commit()
    response = post_form(client, "/ingresar", {"email": "old@example.cl", "password": PASSWORD})
    assert response.status_code == 200


def test_login_redirects_only_to_local_pages(client: Any, factory: Any) -> None:
    factory.user("ana@example.cl")
    token = csrf_token(client, "/ingresar")
    response = client.post(
        "/ingresar?next=https://evil.example/x",
        data={"csrf_token": token, "email": "ana@example.cl", "password": PASSWORD},
    )
    assert response.headers["Location"] == "/cuenta"


def test_sign_out_needs_a_post_with_csrf(client: Any, factory: Any) -> None:
    factory.user("ana@example.cl")
    login(client, "ana@example.cl")
    assert client.get("/salir").status_code != 200  # a link cannot sign anyone out
    assert client.post("/salir").status_code == 400  # no token
    assert client.get("/cuenta").status_code == 200
    post_form(client, "/salir")
    assert client.get("/cuenta").status_code == 302


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "", "password": ""}, "Este campo es obligatorio."),
        ({"email": "not-an-email", "password": "x"}, "Email inválido."),
    ],
)
def test_bad_login_input_rerenders_with_messages(
    client: Any, data: dict[str, str], message: str
) -> None:
    response = post_form(client, "/ingresar", data)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"LOGIN_RATE_LIMIT": "3 per minute"}


def test_the_fourth_failed_login_answers_429(client: Any, factory: Any) -> None:
    factory.user("ana@example.cl")
    for _ in range(3):
        assert (
            post_form(
                client, "/ingresar", {"email": "ana@example.cl", "password": "bad"}
            ).status_code
            == 200
        )
    blocked = post_form(client, "/ingresar", {"email": "ana@example.cl", "password": PASSWORD})
    assert blocked.status_code == 429
    assert "Demasiados intentos" in blocked.get_data(as_text=True)


def test_successful_logins_do_not_count_against_the_limit(client: Any, factory: Any) -> None:
    factory.user("ana@example.cl")
    for _ in range(5):
        login(client, "ana@example.cl")
        post_form(client, "/salir")


def test_failed_logins_for_one_account_are_limited_from_any_address(app: Any, factory: Any) -> None:
    factory.user("ana@example.cl")
    for n in range(3):
        c = app.test_client()
        r = post_form(
            c,
            "/ingresar",
            {"email": "ana@example.cl", "password": "bad"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{n}"},
        )
        assert r.status_code == 200
    c = app.test_client()
    r = post_form(
        c,
        "/ingresar",
        {"email": "ana@example.cl", "password": "bad"},
        environ_base={"REMOTE_ADDR": "10.0.0.99"},
    )
    assert r.status_code == 429


def test_resident_signs_up_and_is_signed_in(client: Any, db: Any) -> None:
    response = post_form(
        client,
        "/registro",
        {
            "name": "María González",
            "email": "maria@example.cl",
            "password": "una clave larga",
            "confirm": "una clave larga",
        },
    )
    assert response.status_code == 302
    page = client.get("/cuenta").get_data(as_text=True)
    assert "María González" in page
    from portal.accounts.models import User

    user = db.session.query(User).filter_by(email="maria@example.cl").one()
    assert user.password_hash.startswith("$argon2id$")
    assert "una clave larga" not in user.password_hash
    assert user.memberships == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"name": "", "email": "a@example.cl", "password": "x" * 12, "confirm": "x" * 12},
            "Este campo es obligatorio.",
        ),
        (
            {"name": "A", "email": "a@example.cl", "password": "short", "confirm": "short"},
            "Usa al menos 10 caracteres.",
        ),
        (
            {"name": "A", "email": "a@example.cl", "password": "x" * 12, "confirm": "y" * 12},
            "Las contraseñas no coinciden.",
        ),
        (
            {"name": "A", "email": "taken@example.cl", "password": "x" * 12, "confirm": "x" * 12},
            "Ya existe una cuenta con este correo.",
        ),
    ],
)
def test_bad_signup_rerenders_with_messages_and_keeps_input(
    client: Any, factory: Any, data: dict[str, str], message: str
) -> None:
    factory.user("taken@example.cl")
    response = post_form(client, "/registro", data)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert message in body
    assert data["email"] in body
