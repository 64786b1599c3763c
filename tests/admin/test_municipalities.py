"""Platform admins create and edit municipalities."""

from __future__ import annotations

from typing import Any

import pytest

from portal.geo.models import Municipality
from tests.conftest import login, post_form


@pytest.fixture
def admin_client(client: Any, factory: Any) -> Any:
    factory.user("admin@portal.cl", role="admin")
    login(client, "admin@portal.cl")
    return client


def test_admin_creates_a_municipality_with_a_public_page(admin_client: Any, db: Any) -> None:
    form = admin_client.get("/admin/municipios/nuevo").get_data(as_text=True)
    assert '<optgroup label="Región de Valparaíso">' in form
    response = post_form(
        admin_client,
        "/admin/municipios/nuevo",
        {"comuna_cut": "13107", "name": "", "email": "fomento@huechuraba.cl", "website": ""},
    )
    assert response.status_code == 302
    municipality = db.session.query(Municipality).filter_by(comuna_cut="13107").one()
    assert (municipality.name, municipality.slug) == ("Municipalidad de Huechuraba", "huechuraba")
    page = admin_client.get("/huechuraba/").get_data(as_text=True)
    assert "Municipalidad de Huechuraba" in page
    assert "Región Metropolitana" in page


def test_a_comuna_already_taken_is_not_offered_and_is_refused(
    admin_client: Any, factory: Any
) -> None:
    factory.municipality("05101")
    form = admin_client.get("/admin/municipios/nuevo").get_data(as_text=True)
    assert 'value="05101"' not in form
    response = post_form(admin_client, "/admin/municipios/nuevo", {"comuna_cut": "05101"})
    assert response.status_code == 200
    assert "Opción inválida." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "data",
    [
        {"comuna_cut": "", "email": ""},
        {"comuna_cut": "99999"},
        {"comuna_cut": "13107", "email": "not-an-email"},
        {"comuna_cut": "13107", "website": "javascript:alert(1)"},
        {"comuna_cut": "13107", "name": "x" * 500},
    ],
)
def test_bad_municipality_input_rerenders(admin_client: Any, db: Any, data: dict[str, str]) -> None:
    response = post_form(admin_client, "/admin/municipios/nuevo", data)
    assert response.status_code == 200
    assert "Corrige los campos marcados" in response.get_data(as_text=True)
    assert db.session.query(Municipality).count() == 0


def test_admin_edits_a_municipality_and_it_is_audited(
    admin_client: Any, factory: Any, db: Any
) -> None:
    from portal.audit.models import AuditEntry

    municipality = factory.municipality("05101")
    url = f"/admin/municipios/{municipality.id}"
    response = post_form(
        admin_client,
        url,
        {
            "comuna_cut": "05101",
            "name": "I. Municipalidad de Valparaíso",
            "email": "",
            "website": "https://valparaiso.cl",
        },
        token_from=url,
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Municipality, municipality.id).website == "https://valparaiso.cl"
    entry = db.session.query(AuditEntry).filter_by(action="municipality.update").one()
    assert entry.before == {"name": "Municipalidad de Valparaíso", "website": None}
    assert entry.after["website"] == "https://valparaiso.cl"
