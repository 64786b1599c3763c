"""The SSE registry through HTTP: residents, representatives, staff of this and another municipality."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.economy.models import Organization
from tests.conftest import PASSWORD, login, post_form
from tests.economy.helpers import make_fair, make_organization


def registration(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Cooperativa de Pescadores Artesanales Caleta Portales",
        "rut": "65.123.456-1",
        "legal_form": "cooperative",
        "sector": "fishing",
        "products": "Merluza, reineta, jibia",
        "members_total": "40",
        "members_women": "12",
        "email": "contacto@caletaportales.cl",
        "locations-0-address": "Av. Altamirano 1480",
        "locations-0-comuna_cut": "05101",
        "locations-0-latitude": "-33.0284",
        "locations-0-longitude": "-71.5886",
        "representative_name": "Rosa Tapia",
        "representative_email": "rosa@example.cl",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "consent": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def valid_rut() -> str:
    from stdnum.cl import rut

    return rut.format("65123456" + rut.calc_check_digit("65123456"))


def test_directory_shows_only_verified_organizations(client: Any, db: Any, valpo: Any) -> None:
    make_organization(db, valpo, name="Cooperativa Caleta Portales")
    make_organization(db, valpo, name="Taller Textil Pendiente", status="pending")
    make_organization(db, valpo, name="Agrupación Suspendida", status="suspended")
    html = client.get("/valparaiso/organizaciones/").get_data(as_text=True)
    assert "Cooperativa Caleta Portales" in html
    assert "Taller Textil Pendiente" not in html and "Agrupación Suspendida" not in html
    assert 'data-map-points="' in html and "vendor/leaflet/" in html
    assert "<script>" not in html  # CSP: no inline script


def test_directory_search_by_name_or_product_folds_accents(
    client: Any, db: Any, valpo: Any
) -> None:
    make_organization(db, valpo, name="Cooperativa Caleta Portales", products="pescado, mariscos")
    make_organization(
        db,
        valpo,
        name="Huerta Comunitaria Playa Ancha",
        sector="agriculture",
        legal_form="informal_group",
        products="Hortalizas orgánicas",
        organic=True,
    )
    assert "Playa Ancha" in client.get("/valparaiso/organizaciones/?q=ORGANICAS").get_data(
        as_text=True
    )
    page = client.get("/valparaiso/organizaciones/?q=pescado").get_data(as_text=True)
    assert "Caleta Portales" in page and "Playa Ancha" not in page
    page = client.get("/valparaiso/organizaciones/?calificador=organic").get_data(as_text=True)
    assert "Playa Ancha" in page and "Caleta Portales" not in page
    page = client.get("/valparaiso/organizaciones/?forma=cooperative&sector=fishing").get_data(
        as_text=True
    )
    assert "Caleta Portales" in page and "Playa Ancha" not in page
    assert client.get("/valparaiso/organizaciones/?sector=bogus&q=%25").status_code == 200


def test_directory_is_paginated(client: Any, db: Any, valpo: Any) -> None:
    for n in range(25):
        make_organization(db, valpo, name=f"Organización {n:02d}", lat=None, lon=None)
    first = client.get("/valparaiso/organizaciones/").get_data(as_text=True)
    assert "Organización 00" in first and "Organización 24" not in first and 'rel="next"' in first
    second = client.get("/valparaiso/organizaciones/?pagina=2").get_data(as_text=True)
    assert "Organización 24" in second


def test_regional_directory_lists_every_municipality_and_filters_by_comuna(
    client: Any, db: Any, factory: Any, valpo: Any
) -> None:
    vina = factory.municipality("05109")
    concepcion = factory.municipality("08101")
    make_organization(db, valpo, name="Cooperativa Caleta Portales")
    make_organization(
        db, vina, name="Sindicato Feria Viña", legal_form="independent_union", sector="retail"
    )
    make_organization(db, concepcion, name="Cooperativa Biobío")
    html = client.get("/regiones/valparaiso/organizaciones/").get_data(as_text=True)
    assert "Caleta Portales" in html and "Sindicato Feria Viña" in html and "Biobío" not in html
    html = client.get("/regiones/valparaiso/organizaciones/?comuna=05109").get_data(as_text=True)
    assert "Sindicato Feria Viña" in html and "Caleta Portales" not in html
    assert client.get("/regiones/no-existe/organizaciones/").status_code == 404


def test_a_resident_registers_an_organization_and_an_account(
    client: Any, db: Any, valpo: Any, staff: Any
) -> None:
    form = client.get("/valparaiso/organizaciones/registrar").get_data(as_text=True)
    assert 'name="representative_email"' in form
    response = post_form(
        client,
        "/valparaiso/organizaciones/registrar",
        registration(rut=valid_rut()),
        token_from="/valparaiso/organizaciones/registrar",
    )
    assert response.status_code == 302
    org = db.session.scalar(select(Organization))
    assert org.status == "pending" and org.rut == valid_rut()
    assert org.representative.email == "rosa@example.cl"
    # The representative (now signed in) sees the pending page; the public does not.
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and "Pendiente" in page.get_data(as_text=True)
    assert (
        db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "organization.register")
        ).actor
        == "rosa@example.cl"
    )
    anonymous = client.application.test_client()
    assert anonymous.get(f"/valparaiso/organizaciones/{org.id}").status_code == 404
    assert "Caleta Portales" not in anonymous.get("/valparaiso/organizaciones/").get_data(
        as_text=True
    )
    # Staff verify it: it becomes public, without the representative's private email.
    login(anonymous, "fomento@valparaiso.cl")
    assert "Caleta Portales" in anonymous.get(
        "/gestion/valparaiso/organizaciones/?estado=pending"
    ).get_data(as_text=True)
    post_form(anonymous, f"/gestion/valparaiso/organizaciones/{org.id}/verificar")
    public = (
        client.application.test_client()
        .get(f"/valparaiso/organizaciones/{org.id}")
        .get_data(as_text=True)
    )
    assert "Caleta Portales" in public and "contacto@caletaportales.cl" in public
    assert "rosa@example.cl" not in public


def test_a_signed_in_user_registers_without_a_new_account(
    client: Any, db: Any, valpo: Any, factory: Any
) -> None:
    user = factory.user("dirigenta@example.cl")
    login(client, user.email)
    form = client.get("/valparaiso/organizaciones/registrar").get_data(as_text=True)
    assert 'name="representative_email"' not in form
    data = registration(
        rut="",
        legal_form="informal_group",
        representative_email=None,
        password=None,
        confirm=None,
        representative_name=None,
    )
    assert post_form(client, "/valparaiso/organizaciones/registrar", data).status_code == 302
    org = db.session.scalar(select(Organization))
    assert org.representative_user_id == user.id and org.rut is None
    from portal.economy.services import organizations_represented_by

    assert organizations_represented_by(db.session, user) == [org]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rut": "65.123.456-0" if valid_rut()[-1] != "0" else "65.123.456-1"}, "RUT no es válido"),
        ({"members_women": "50"}, "más mujeres"),
        ({"name": ""}, "obligatorio"),
        ({"locations-0-latitude": "-200"}, "entre"),
        ({"consent": None}, "obligatorio"),
        ({"password": "short", "confirm": "short"}, "al menos"),
    ],
)
def test_bad_registrations_re_render_with_messages(
    client: Any, db: Any, valpo: Any, overrides: dict[str, Any], message: str
) -> None:
    response = post_form(
        client,
        "/valparaiso/organizaciones/registrar",
        registration(**{"rut": valid_rut(), **overrides}),
    )
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(Organization)) is None


def test_registering_with_an_existing_email_asks_to_sign_in(
    client: Any, db: Any, valpo: Any, factory: Any
) -> None:
    factory.user("rosa@example.cl")
    response = post_form(
        client, "/valparaiso/organizaciones/registrar", registration(rut=valid_rut())
    )
    assert response.status_code == 200 and "Ya existe" in response.get_data(as_text=True)


def test_staff_create_edit_suspend_and_audit(client: Any, db: Any, valpo: Any, staff: Any) -> None:
    login(client, staff.email)
    data = registration(rut=valid_rut())
    response = post_form(client, "/gestion/valparaiso/organizaciones/nueva", data)
    assert response.status_code == 302
    org = db.session.scalar(select(Organization))
    assert org.status == "verified" and org.last_verified_on is not None
    # The same RUT again is refused with a message.
    again = post_form(client, "/gestion/valparaiso/organizaciones/nueva", {**data, "name": "Otra"})
    assert again.status_code == 200 and "Otro registro" in again.get_data(as_text=True)
    edit = post_form(
        client,
        f"/gestion/valparaiso/organizaciones/{org.id}",
        {**data, "products": "Merluza y congrio"},
    )
    assert edit.status_code == 302
    db.session.expire_all()
    assert db.session.get(Organization, org.id).products == "Merluza y congrio"
    assert (
        post_form(
            client,
            f"/gestion/valparaiso/organizaciones/{org.id}/suspender",
            {"suspend-note": "Sin actividad"},
        ).status_code
        == 302
    )
    db.session.expire_all()
    assert db.session.get(Organization, org.id).status == "suspended"
    assert (
        client.application.test_client().get(f"/valparaiso/organizaciones/{org.id}").status_code
        == 404
    )
    actions = set(
        db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(org.id)))
    )
    assert {"organization.create", "organization.update", "organization.suspend"} <= actions


def test_duplicates_are_suggested_and_merged(client: Any, db: Any, valpo: Any, staff: Any) -> None:
    first = make_organization(db, valpo, name="Cooperativa Caleta Portales", rut=valid_rut())
    second = make_organization(
        db, valpo, name="COOPERATIVA CALETA PORTALES.", status="pending", email="c@portales.cl"
    )
    third = make_organization(
        db,
        valpo,
        name="Sindicato Feria Libre Avenida Argentina",
        rut="70.360.100-6",
        legal_form="independent_union",
        sector="retail",
    )
    fourth = make_organization(db, valpo, name="Otro nombre", rut=valid_rut())
    fair = make_fair(db, valpo, organizers=[second])
    login(client, staff.email)
    page = client.get("/gestion/valparaiso/organizaciones/duplicados").get_data(as_text=True)
    assert "Mismo RUT" in page and "Nombres parecidos" in page
    assert third.name not in page
    response = post_form(
        client,
        f"/gestion/valparaiso/organizaciones/{second.id}/fusionar",
        {"merge-survivor": first.id},
    )
    assert response.status_code == 302
    db.session.expire_all()
    merged, survivor = (
        db.session.get(Organization, second.id),
        db.session.get(Organization, first.id),
    )
    assert merged.status == "merged" and merged.merged_into_id == first.id
    assert survivor.email == "c@portales.cl"  # the gap was filled
    from portal.economy.models import Fair

    assert [o.id for o in db.session.get(Fair, fair.id).organizers] == [first.id]
    # The merged record's public page redirects to the survivor.
    moved = client.application.test_client().get(f"/valparaiso/organizaciones/{second.id}")
    assert moved.status_code == 301 and moved.headers["Location"].endswith(
        f"/organizaciones/{first.id}"
    )
    assert fourth.id in {
        p.second.id
        for p in __import__("portal.economy.services", fromlist=["x"]).duplicate_suggestions(
            db.session, valpo.id
        )
    }


def test_staff_of_another_municipality_get_403_and_foreign_records_404(
    client: Any, db: Any, valpo: Any, factory: Any, staff: Any
) -> None:
    concepcion = factory.municipality("08101")
    factory.user("fomento@concepcion.cl", role="municipal_staff", municipality=concepcion)
    org = make_organization(db, valpo)
    login(client, "fomento@concepcion.cl")
    assert client.get(f"/gestion/valparaiso/organizaciones/{org.id}").status_code == 403
    assert client.get(f"/gestion/concepcion/organizaciones/{org.id}").status_code == 404
    assert (
        post_form(client, f"/gestion/concepcion/organizaciones/{org.id}/verificar").status_code
        == 404
    )
    regional = factory.user("difoi@gore05.cl", role="regional_staff", region="05")
    other = client.application.test_client()
    login(other, regional.email)
    assert other.get("/gestion/valparaiso/organizaciones/").status_code == 403


def test_public_pages_are_light(client: Any, db: Any, valpo: Any) -> None:
    for n in range(20):
        make_organization(
            db, valpo, name=f"Organización {n:02d}", products="pan amasado, empanadas " * 5
        )
    response = client.get("/valparaiso/organizaciones/")
    assert len(response.data) < 60_000
