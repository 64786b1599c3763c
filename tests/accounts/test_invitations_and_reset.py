"""Staff invitations by link and password resets by mailed token."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from portal.accounts.models import Invitation, User
from portal.database import utcnow
from portal.mail import outbox_messages
from tests.conftest import PASSWORD, login, post_form


def last_link(app: Any) -> str:
    with app.app_context():
        body = outbox_messages()[-1].get_content()
    match = re.search(r"https?://[^/\s]+(/\S+)", body)
    assert match, body
    return match.group(1)


def test_admin_invites_municipal_staff_who_accepts_and_works(
    app: Any, client: Any, factory: Any, db: Any
) -> None:
    valparaiso = factory.municipality("05101")
    factory.user("admin@portal.cl", role="admin")
    login(client, "admin@portal.cl")
    response = post_form(
        client,
        "/admin/invitaciones/nueva",
        {
            "email": "Nueva@Valparaiso.cl",
            "role": "municipal_staff",
            "municipality_id": str(valparaiso.id),
            "region_cut": "",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        message = outbox_messages()[-1]
    assert message["To"] == "nueva@valparaiso.cl"
    link = last_link(app)
    assert link.startswith("/invitacion/")
    invitation = db.session.query(Invitation).one()
    assert link.split("/")[-1] not in invitation.token_hash  # only a hash is stored

    newcomer = app.test_client()
    page = newcomer.get(link)
    assert "Municipalidad de Valparaíso" in page.get_data(as_text=True)
    accepted = post_form(
        newcomer,
        link,
        {"name": "Nueva Persona", "password": "clave-segura-1", "confirm": "clave-segura-1"},
        token_from=link,
    )
    assert accepted.status_code == 302
    assert newcomer.get("/gestion/valparaiso/").status_code == 200
    assert newcomer.get(link).status_code == 404  # used once


def test_invitation_with_missing_scope_rerenders(client: Any, factory: Any) -> None:
    factory.user("admin@portal.cl", role="admin")
    login(client, "admin@portal.cl")
    response = post_form(
        client,
        "/admin/invitaciones/nueva",
        {
            "email": "x@example.cl",
            "role": "regional_staff",
            "municipality_id": "",
            "region_cut": "",
        },
    )
    assert response.status_code == 200
    assert "Elige la región." in response.get_data(as_text=True)


def test_expired_invitation_is_refused(app: Any, client: Any, factory: Any, db: Any) -> None:
    factory.user("admin@portal.cl", role="admin")
    login(client, "admin@portal.cl")
    post_form(
        client,
        "/admin/invitaciones/nueva",
        {"email": "r@gore.cl", "role": "regional_staff", "municipality_id": "", "region_cut": "05"},
    )
    link = last_link(app)
    invitation = db.session.query(Invitation).one()
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert app.test_client().get(link).status_code == 404


def test_existing_account_accepts_after_signing_in(
    app: Any, client: Any, factory: Any, db: Any
) -> None:
    factory.user("admin@portal.cl", role="admin")
    factory.user("ana@example.cl")
    login(client, "admin@portal.cl")
    post_form(
        client,
        "/admin/invitaciones/nueva",
        {
            "email": "ana@example.cl",
            "role": "regional_staff",
            "municipality_id": "",
            "region_cut": "08",
        },
    )
    link = last_link(app)
    ana = app.test_client()
    assert ana.get(link).status_code == 302  # must sign in first
    login(ana, "ana@example.cl")
    assert post_form(ana, link, {}, token_from=link).status_code == 302
    assert ana.get("/region/08/").status_code == 200
    assert ana.get("/region/05/").status_code == 403


def test_municipal_staff_invites_a_colleague_to_their_own_municipality(
    app: Any, client: Any, factory: Any, db: Any
) -> None:
    valparaiso = factory.municipality("05101")
    factory.user("camila@valparaiso.cl", role="municipal_staff", municipality=valparaiso)
    login(client, "camila@valparaiso.cl")
    response = post_form(client, "/gestion/valparaiso/equipo", {"email": "colega@valparaiso.cl"})
    assert response.status_code == 302
    invitation = db.session.query(Invitation).one()
    assert (invitation.role, invitation.municipality_id) == ("municipal_staff", valparaiso.id)


def test_password_reset_by_mailed_link(app: Any, client: Any, factory: Any, db: Any) -> None:
    factory.user("ana@example.cl")
    response = post_form(client, "/clave/olvido", {"email": "ana@example.cl"})
    assert response.status_code == 302
    link = last_link(app)
    assert (
        post_form(
            client,
            link,
            {"password": "otra-clave-nueva", "confirm": "otra-clave-nueva"},
            token_from=link,
        ).status_code
        == 302
    )
    assert client.get(link).status_code == 404  # single use: the password changed
    login(client, "ana@example.cl", "otra-clave-nueva")


def test_reset_for_unknown_email_says_the_same_and_sends_nothing(app: Any, client: Any) -> None:
    response = post_form(
        client, "/clave/olvido", {"email": "nobody@example.cl"}, follow_redirects=True
    )
    assert "Si una cuenta usa ese correo" in response.get_data(as_text=True)
    with app.app_context():
        assert outbox_messages() == []


def test_tampered_reset_token_is_refused(client: Any) -> None:
    assert client.get("/clave/nueva/not-a-token").status_code == 404


def test_mail_goes_to_the_outbox_folder(app: Any) -> None:
    from portal.mail import send_mail

    with app.app_context():
        send_mail("a@example.cl", "Asunto", "Cuerpo")
        [message] = outbox_messages()
    assert message["Subject"] == "Asunto"
    assert message.get_content().strip() == "Cuerpo"


def test_user_password_is_never_stored_in_clear(db: Any, factory: Any) -> None:
    user = factory.user("ana@example.cl")
    stored = db.session.get(User, user.id).password_hash
    assert PASSWORD not in stored and stored.startswith("$argon2id$")
