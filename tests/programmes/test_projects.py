"""Funded projects through HTTP: staff scoping, co-financing, milestones, photos, follows."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.programmes.models import FundedProject
from portal.programmes.services import create_from_round_winners
from tests.conftest import csrf_token, login, post_form
from tests.economy.helpers import make_organization
from tests.programmes.helpers import make_programme, make_project


def project_data(**changes: Any) -> dict[str, Any]:
    data = {
        "title": "Mejoramiento del Mercado Cardonal",
        "description": "Techumbre y baños del mercado.",
        "theme": "fairs-markets",
        "year": "2026",
        "status": "in_progress",
        "progress": "25",
        "budget": "90000000",
        "spent": "10000000",
        "bip_code": "40011111-0",
        "start_date": "2026-02-01",
        "end_date": "2026-12-31",
        "district": "Plan",
        "address": "Av. Argentina 1",
        "latitude": "-33.05",
        "longitude": "-71.61",
        "organization_id": "",
    }
    data.update(changes)
    return data


def test_staff_register_a_project_and_every_write_is_audited(
    client: Any, db: Any, valpo: Any, staff: Any
) -> None:
    org = make_organization(db, valpo)
    login(client, staff.email)
    response = post_form(
        client,
        "/gestion/valparaiso/proyectos/nuevo",
        project_data(organization_id=str(org.id)),
        token_from="/gestion/valparaiso/proyectos/nuevo",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    project = db.session.scalar(select(FundedProject))
    assert project.budget == 90_000_000 and project.organization_id == org.id
    assert project.bip_code == "40011111-0" and project.comuna_cut == "05101"
    edit = f"/gestion/valparaiso/proyectos/{project.id}"
    response = post_form(client, edit, project_data(status="completed", progress="40"))
    assert response.status_code == 302
    db.session.expire_all()
    assert project.status == "completed" and project.progress == 100
    actions = db.session.scalars(select(AuditEntry.action)).all()
    assert {"project.create", "project.update"} <= set(actions)
    assert client.get("/gestion/valparaiso/proyectos/").status_code == 200
    assert "Mejoramiento del Mercado Cardonal" in client.get(edit).get_data(as_text=True)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": ""}, "title", ""),
        ({"budget": "-5"}, "budget", ""),
        ({"budget": "abc"}, "budget", ""),
        ({"budget": "99999999999999999999"}, "budget", ""),
        ({"progress": "150"}, "progress", ""),
        ({"end_date": "2025-01-01"}, "end_date", "El término es anterior al inicio"),
        ({"longitude": ""}, "latitude", "Indica latitud y longitud"),
        ({"latitude": "norte"}, "latitude", "Escribe un número en grados decimales"),
        ({"theme": "nope"}, "theme", ""),
        ({"organization_id": "99999"}, "organization_id", ""),
        ({"bip_code": "<script>"}, "bip_code", "Solo dígitos"),
        ({"year": "1800"}, "year", ""),
    ],
)
def test_bad_project_input_re_renders_with_messages(
    client: Any, staff: Any, changes: dict[str, str], field: str, message: str
) -> None:
    login(client, staff.email)
    response = post_form(client, "/gestion/valparaiso/proyectos/nuevo", project_data(**changes))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "error-summary" in body and f'id="{field}-error"' in body
    assert message in body
    assert "<script>" not in body.split("<main", 1)[1]


def test_amounts_beyond_an_integer_column_are_kept(client: Any, db: Any, staff: Any) -> None:
    login(client, staff.email)
    response = post_form(
        client, "/gestion/valparaiso/proyectos/nuevo", project_data(budget="3500000000")
    )
    assert response.status_code == 302
    assert db.session.scalar(select(FundedProject.budget)) == 3_500_000_000


def test_forms_carry_a_csrf_token_and_refuse_without_it(
    client: Any, db: Any, valpo: Any, staff: Any
) -> None:
    make_programme(db)
    project = make_project(db, valpo)
    login(client, staff.email)
    page = client.get(f"/gestion/valparaiso/proyectos/{project.id}").get_data(as_text=True)
    for prefix in ("", "funding-", "milestone-", "photo-"):
        assert f'name="{prefix}csrf_token"' in page
    response = client.post("/gestion/valparaiso/proyectos/nuevo", data=project_data())
    assert response.status_code == 400
    assert db.session.scalar(select(FundedProject.id).where(FundedProject.id != project.id)) is None


def test_co_financing_sums_against_the_budget_and_warns_when_it_exceeds(
    client: Any, db: Any, valpo: Any, staff: Any
) -> None:
    fndr = make_programme(db)
    sercotec = make_programme(db, code="sercotec-x", name="SERCOTEC Ferias", region=None)
    other_region = make_programme(db, code="fndr-08", name="FNDR Biobío", region="08")
    project = make_project(db, valpo, budget=100_000_000)
    login(client, staff.email)
    url = f"/gestion/valparaiso/proyectos/{project.id}"
    page = client.get(url).get_data(as_text=True)
    assert "FNDR Biobío" not in page  # only programmes open to the region are offered
    token = csrf_token(client, url)
    response = client.post(
        f"{url}/financiamiento",
        data={
            "csrf_token": token,
            "funding-csrf_token": token,
            "funding-programme_id": str(fndr.id),
            "funding-amount": "60000000",
            "funding-agreement_ref": "Res. Ex. 1234",
            "funding-agreement_date": "2026-03-01",
        },
    )
    assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "$60.000.000" in page and "$40.000.000" in page  # programmes, and own funds
    response = client.post(
        f"{url}/financiamiento",
        data={
            "csrf_token": token,
            "funding-csrf_token": token,
            "funding-programme_id": str(sercotec.id),
            "funding-amount": "50000000",
        },
        follow_redirects=True,
    )
    body = response.get_data(as_text=True)
    assert "superan el presupuesto" in body and "$110.000.000" in body
    assert "$10.000.000 más que el presupuesto" in body
    db.session.expire_all()
    assert project.funded_total == 110_000_000 and project.over_funded
    # A programme of another region, posted by hand, is refused with a message.
    response = client.post(
        f"{url}/financiamiento",
        data={
            "csrf_token": token,
            "funding-csrf_token": token,
            "funding-programme_id": str(other_region.id),
            "funding-amount": "1",
        },
    )
    assert response.status_code == 200 and "error-summary" in response.get_data(as_text=True)
    # Bad amounts re-render with messages.
    response = client.post(
        f"{url}/financiamiento",
        data={"csrf_token": token, "funding-csrf_token": token, "funding-amount": "-1"},
    )
    assert response.status_code == 200 and "error-summary" in response.get_data(as_text=True)
    # Unlinking is audited too.
    funding_id = project.fundings[0].id
    response = client.post(f"{url}/financiamiento/{funding_id}/quitar", data={"csrf_token": token})
    assert response.status_code == 302
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"project.add_funding", "project.remove_funding"} <= actions


def test_milestones_timeline_and_lateness(client: Any, db: Any, valpo: Any, staff: Any) -> None:
    project = make_project(db, valpo, milestone=("Licitación", date(2020, 1, 31), None))
    login(client, staff.email)
    url = f"/gestion/valparaiso/proyectos/{project.id}"
    token = csrf_token(client, url)
    public = client.get(f"/valparaiso/proyectos/{project.id}").get_data(as_text=True)
    assert "atrasado" in public and "1 hito está atrasado" in public
    milestone = project.milestones[0]
    response = client.post(
        f"{url}/hitos/{milestone.id}",
        data={
            "csrf_token": token,
            f"m{milestone.id}-csrf_token": token,
            f"m{milestone.id}-done_on": "2020-02-10",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert milestone.done_on == date(2020, 2, 10)
    public = client.get(f"/valparaiso/proyectos/{project.id}").get_data(as_text=True)
    assert "realizado el 10-02-2020" in public and "hito está atrasado" not in public
    response = client.post(
        f"{url}/hitos",
        data={
            "csrf_token": token,
            "milestone-csrf_token": token,
            "milestone-title": "Recepción de obras",
            "milestone-planned_on": "2099-12-31",
        },
    )
    assert response.status_code == 302
    bad = client.post(
        f"{url}/hitos",
        data={
            "csrf_token": token,
            "milestone-csrf_token": token,
            "milestone-title": "x",
            "milestone-planned_on": "mañana",
        },
    )
    assert bad.status_code == 200 and "error-summary" in bad.get_data(as_text=True)
    db.session.expire_all()
    assert [m.title for m in project.milestones] == ["Licitación", "Recepción de obras"]


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 100, 0)).save(out, "JPEG")
    return out.getvalue()


def test_photos_are_re_encoded_served_and_bad_files_refused(
    client: Any, db: Any, valpo: Any, staff: Any
) -> None:
    project = make_project(db, valpo)
    login(client, staff.email)
    url = f"/gestion/valparaiso/proyectos/{project.id}"
    token = csrf_token(client, url)
    response = client.post(
        f"{url}/fotos",
        data={
            "csrf_token": token,
            "photo-csrf_token": token,
            "photo-caption": "Estructura del techo",
            "photo-photo": (io.BytesIO(_jpeg()), "obra.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    db.session.expire_all()
    photo = project.photos[0]
    public = client.get(f"/valparaiso/proyectos/{project.id}").get_data(as_text=True)
    assert photo.thumbnail in public and 'alt="Estructura del techo"' in public
    served = client.get(f"/valparaiso/proyectos/{project.id}/fotos/{photo.filename}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    served.close()
    assert client.get(f"/valparaiso/proyectos/{project.id}/fotos/otro.jpg").status_code == 404
    bad = client.post(
        f"{url}/fotos",
        data={
            "csrf_token": token,
            "photo-csrf_token": token,
            "photo-caption": "No es una foto",
            "photo-photo": (io.BytesIO(b"%PDF-1.4 not an image"), "doc.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert bad.status_code == 200 and "no es una imagen JPEG" in bad.get_data(as_text=True)
    response = client.post(f"{url}/fotos/{photo.id}/quitar", data={"csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    assert project.photos == []


def test_staff_of_another_municipality_cannot_see_or_edit(
    client: Any, db: Any, valpo: Any, factory: Any
) -> None:
    conce = factory.municipality("08101")
    project = make_project(db, valpo)
    other = factory.user("staff@concepcion.cl", role="municipal_staff", municipality=conce)
    login(client, other.email)
    assert client.get(f"/gestion/valparaiso/proyectos/{project.id}").status_code == 403
    # Under their own municipality's prefix, another's project is not found.
    assert client.get(f"/gestion/concepcion/proyectos/{project.id}").status_code == 404
    token = csrf_token(client)
    response = client.post(
        f"/gestion/concepcion/proyectos/{project.id}",
        data={"csrf_token": token, **project_data(title="Robado")},
    )
    assert response.status_code == 404
    db.session.expire_all()
    assert project.title != "Robado"
    assert client.get(f"/concepcion/proyectos/{project.id}").status_code == 404


def test_anonymous_and_residents_are_refused_on_staff_pages(
    client: Any, db: Any, valpo: Any, factory: Any
) -> None:
    project = make_project(db, valpo)
    response = client.get("/gestion/valparaiso/proyectos/")
    assert response.status_code == 302 and "/ingresar" in response.headers["Location"]
    resident = factory.user("vecina@example.cl")
    login(client, resident.email)
    assert client.get("/gestion/valparaiso/proyectos/").status_code == 403
    assert client.get(f"/gestion/valparaiso/proyectos/{project.id}").status_code == 403
    assert client.get("/region/05/proyectos/").status_code == 403


def test_residents_follow_a_project(client: Any, db: Any, valpo: Any, factory: Any) -> None:
    project = make_project(db, valpo)
    url = f"/valparaiso/proyectos/{project.id}"
    assert "Ingresa para seguir este proyecto" in client.get(url).get_data(as_text=True)
    assert client.get("/mis-proyectos").status_code == 302
    resident = factory.user("vecina@example.cl")
    login(client, resident.email)
    response = post_form(client, f"{url}/seguir", token_from=url)
    assert response.status_code == 302
    followed = client.get("/mis-proyectos").get_data(as_text=True)
    assert project.title in followed
    assert "Dejar de seguir" in client.get(url).get_data(as_text=True)
    post_form(client, f"{url}/seguir", {"seguir": "no"}, token_from=url)
    assert project.title not in client.get("/mis-proyectos").get_data(as_text=True)


def test_public_list_and_page_show_progress_and_funding(client: Any, db: Any, valpo: Any) -> None:
    fndr = make_programme(db)
    project = make_project(db, valpo, programmes=[(fndr, 30_000_000)])
    listing = client.get("/valparaiso/proyectos/").get_data(as_text=True)
    assert project.title in listing and "30% avance" in listing
    page = client.get(f"/valparaiso/proyectos/{project.id}").get_data(as_text=True)
    assert '<progress id="progress-' in page and 'value="30"' in page
    assert fndr.name in page and "$30.000.000" in page and "Convenio 123" in page


def test_round_winners_become_funded_projects_once(db: Any, factory: Any, valpo: Any) -> None:
    round_ = factory.round(valpo, phase="results")
    district = factory.district(round_, "Cerro Alegre", 5_000_000)
    author = factory.user("vecina@example.cl")
    roof = factory.proposal(
        round_, author, district=district, status="feasible", final_cost=3_200_000
    )
    roof.address, roof.latitude, roof.longitude = "Plaza Bismarck", -33.04, -71.62
    lights = factory.proposal(
        round_, author, title="Luminarias para la feria", status="feasible", cost=1_500_000
    )
    db.session.commit()
    staff = factory.user("fomento@valparaiso.cl", role="municipal_staff", municipality=valpo)
    created = create_from_round_winners(db.session, round_, [roof, lights], staff)
    db.session.commit()
    assert [p.proposal_id for p in created] == [roof.id, lights.id]
    first = created[0]
    assert first.budget == 3_200_000 and first.round_id == round_.id
    assert first.district == "Cerro Alegre" and first.address == "Plaza Bismarck"
    assert first.latitude == -33.04 and first.municipality_id == valpo.id
    assert first.title == roof.title and roof.summary in first.description
    assert first.status == "planned" and first.theme == "fairs-markets"
    assert created[1].budget == 1_500_000  # no final cost: the estimate
    assert create_from_round_winners(db.session, round_, [roof, lights], staff) == []
    assert len(db.session.scalars(select(FundedProject)).all()) == 2
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "project.create"))
    assert entry.actor == staff.email and entry.municipality_id == valpo.id


def test_fair_eligibility_reads_the_programmes(
    client: Any, db: Any, valpo: Any, staff: Any
) -> None:
    from tests.economy.helpers import make_fair

    make_programme(
        db,
        code="fondo-ferias-05",
        name="Fondo Regional de Ferias",
        min_stalls=50,
        fair_kinds="feria_libre",
    )
    make_programme(
        db, code="otra-region", name="Fondo de Ferias del Biobío", region="08", min_stalls=5
    )
    fair = make_fair(db, valpo, name="Feria Chica", stalls=20)
    login(client, staff.email)
    page = client.get(f"/gestion/valparaiso/ferias/{fair.id}").get_data(as_text=True)
    assert "Fondo Regional de Ferias" in page
    assert "necesita al menos 50 puestos (tiene 20)" in page
    assert "Fondo de Ferias del Biobío" not in page
    assert re.search(r"/programas/\d+", page)


def test_round_winners_carried_out_by_a_merged_organization_name_the_survivor(
    db: Any, factory: Any, valpo: Any
) -> None:
    from portal.economy.services import merge_organizations

    round_ = factory.round(valpo, phase="results")
    author = factory.user("vecina@example.cl")
    staff = factory.user("fomento@valparaiso.cl", role="municipal_staff", municipality=valpo)
    survivor = make_organization(db, valpo, name="Cooperativa Caleta Portales")
    duplicate = make_organization(db, valpo, name="COOPERATIVA CALETA PORTALES.")
    stale = make_organization(db, valpo, name="Taller Cerro Alegre")
    merged_later = factory.proposal(round_, author, status="feasible", final_cost=1_000_000)
    merged_before = factory.proposal(
        round_, author, title="Toldos para la feria", status="feasible", final_cost=900_000
    )
    merged_later.implementer_id, merged_before.implementer_id = duplicate.id, stale.id
    # a merge made before merges followed proposals left this one naming the merged record
    stale.status, stale.merged_into_id = "merged", survivor.id
    db.session.commit()
    merge_organizations(db.session, duplicate, survivor)
    db.session.commit()
    assert db.session.get(type(merged_later), merged_later.id).implementer_id == survivor.id
    created = create_from_round_winners(db.session, round_, [merged_later, merged_before], staff)
    db.session.commit()
    assert [p.organization_id for p in created] == [survivor.id, survivor.id]
