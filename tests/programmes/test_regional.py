"""The regional view, duplicate detection, exports and the programme catalogue."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.programmes.models import Programme
from portal.programmes.services import duplicate_warnings, title_similarity
from tests.conftest import csrf_token, login, post_form
from tests.economy.helpers import make_organization
from tests.programmes.helpers import make_programme, make_project


@pytest.fixture
def world(factory: Any, db: Any) -> dict[str, Any]:
    """Two comunas of Valparaíso (05), one of Biobío (08), programmes and their staff."""
    valpo = factory.municipality("05101")
    vina = factory.municipality("05109")
    conce = factory.municipality("08101")
    fndr = make_programme(db, code="fndr-05", name="FNDR Valparaíso")
    corfo = make_programme(db, code="corfo-red", name="CORFO Red Asociativa", region=None)
    fndr8 = make_programme(db, code="fndr-08", name="FNDR Biobío", region="08")
    return {
        "valpo": valpo,
        "vina": vina,
        "conce": conce,
        "fndr": fndr,
        "corfo": corfo,
        "fndr8": fndr8,
        "regional_05": factory.user("difoi@gore05.cl", role="regional_staff", region="05"),
        "regional_08": factory.user("difoi@gore08.cl", role="regional_staff", region="08"),
        "admin": factory.user("admin@portal.cl", role="admin"),
        "staff_valpo": factory.user("staff@valpo.cl", role="municipal_staff", municipality=valpo),
    }


def test_regional_staff_see_only_their_region(client: Any, db: Any, world: dict[str, Any]) -> None:
    make_project(
        db, world["valpo"], title="Techado Feria Argentina", programmes=[(world["fndr"], 1)]
    )
    make_project(db, world["vina"], title="Mercado de Viña", status="planned")
    make_project(db, world["conce"], title="Centro de negocios de Concepción")
    login(client, world["regional_05"].email)
    page = client.get("/region/05/proyectos/").get_data(as_text=True)
    assert "Techado Feria Argentina" in page and "Mercado de Viña" in page
    assert "Centro de negocios de Concepción" not in page
    assert client.get("/region/08/proyectos/").status_code == 403
    assert client.get("/region/08/proyectos/exportar.csv").status_code == 403
    assert client.get("/region/08/programas/").status_code == 403
    # Municipal staff do not see the regional view; admins see any region.
    municipal = client.application.test_client()
    login(municipal, world["staff_valpo"].email)
    assert municipal.get("/region/05/proyectos/").status_code == 403
    admin = world["admin"]
    other = client.application.test_client()
    login(other, admin.email)
    assert "Centro de negocios de Concepción" in other.get("/region/08/proyectos/").get_data(
        as_text=True
    )


def test_filters_totals_chart_map_and_lateness(client: Any, db: Any, world: dict[str, Any]) -> None:
    fndr, corfo = world["fndr"], world["corfo"]
    make_project(
        db,
        world["valpo"],
        title="Techado Feria Argentina",
        budget=100_000_000,
        programmes=[(fndr, 60_000_000), (corfo, 10_000_000)],
        milestone=("Obra gruesa", date(2020, 5, 1), None),
    )
    make_project(
        db,
        world["vina"],
        title="Mercado de Viña",
        budget=50_000_000,
        year=2025,
        status="completed",
        programmes=[(fndr, 20_000_000)],
        milestone=("Entrega", date(2020, 5, 1), None),  # completed: not late
    )
    login(client, world["regional_05"].email)
    page = client.get("/region/05/proyectos/").get_data(as_text=True)
    # Totals by programme (FNDR 80M over two projects) and by comuna, with SVG charts.
    assert page.count("<svg") == 2 and "$80.000.000" in page and "$10.000.000" in page
    assert "$100.000.000" in page and "$50.000.000" in page
    assert "presupuesto $150.000.000, de los cuales programas $90.000.000" in page
    # The map gets its points; the list works without it.
    assert "data-map-points" in page and "-33.0472" in page
    late = page.split('id="atrasados"')[1].split("<h2")[0]
    assert "Obra gruesa" in late and "Entrega" not in late
    by_comuna = client.get("/region/05/proyectos/?comuna=05109").get_data(as_text=True)
    table = by_comuna.split('id="proyectos"')[1]
    assert "Mercado de Viña" in table and "Techado Feria Argentina" not in table
    for query, shown, hidden in [
        (f"programa={corfo.id}", "Techado Feria Argentina", "Mercado de Viña"),
        ("estado=completed", "Mercado de Viña", "Techado Feria Argentina"),
        ("anio=2025", "Mercado de Viña", "Techado Feria Argentina"),
        ("tema=tourism", None, "Techado Feria Argentina"),
    ]:
        table = (
            client.get(f"/region/05/proyectos/?{query}")
            .get_data(as_text=True)
            .split('id="proyectos"')[1]
        )
        assert hidden not in table, query
        if shown:
            assert shown in table, query
    # Nonsense filters are ignored, never a 500.
    for query in ("comuna=99999", "programa=abc", "estado=<x>", "anio=zz", "programa=999999"):
        assert client.get(f"/region/05/proyectos/?{query}").status_code == 200


def _one_organization_two_programmes(
    db: Any,
    world: dict[str, Any],
    first_dates: tuple[date, date],
    second_dates: tuple[date, date],
    **second: Any,
) -> tuple[Any, Any, Any]:
    """Return an organization, its project funded by FNDR and its project funded by CORFO."""
    org = make_organization(db, world["valpo"], name="Cooperativa Caleta Portales")
    first = make_project(
        db,
        world["valpo"],
        title="Sala de proceso",
        organization=org,
        programmes=[(world["fndr"], 1_000)],
        funding_dates=first_dates,
    )
    other = make_project(
        db,
        world["valpo"],
        title="Cámara de frío",
        organization=org,
        programmes=[(world["corfo"], 1_000)],
        funding_dates=second_dates,
        **second,
    )
    return org, first, other


def test_duplicates_same_organization_two_programmes_overlapping(
    db: Any, world: dict[str, Any]
) -> None:
    _, first, second = _one_organization_two_programmes(
        db,
        world,
        (date(2026, 1, 1), date(2026, 12, 31)),
        (date(2026, 6, 1), date(2027, 5, 31)),
    )
    warnings = duplicate_warnings([first, second])
    assert [(w.kind, w.first, w.second) for w in warnings] == [("organization", first, second)]
    assert {p.code for p in warnings[0].programmes} == {"fndr-05", "corfo-red"}


def test_no_duplicate_when_periods_do_not_overlap_or_one_programme_or_cancelled(
    db: Any, world: dict[str, Any]
) -> None:
    org, first, later = _one_organization_two_programmes(
        db,
        world,
        (date(2025, 1, 1), date(2025, 12, 31)),
        (date(2026, 1, 1), date(2026, 12, 31)),
        year=2026,
    )
    same_programme = make_project(
        db,
        world["valpo"],
        title="Muelle flotante",
        organization=org,
        programmes=[(world["fndr"], 1_000)],
        funding_dates=(date(2025, 3, 1), date(2025, 9, 30)),
    )
    cancelled = make_project(
        db,
        world["valpo"],
        title="Sala de proceso",
        status="cancelled",
        programmes=[(world["corfo"], 1_000)],
        funding_dates=(date(2025, 1, 1), date(2025, 12, 31)),
    )
    unfunded = make_project(db, world["valpo"], title="Sala de proceso")
    assert duplicate_warnings([first, later, same_programme, cancelled, unfunded]) == []


def test_duplicates_by_title_in_one_comuna_and_across_comunas(
    db: Any, world: dict[str, Any]
) -> None:
    fndr, corfo = world["fndr"], world["corfo"]
    roof = make_project(
        db,
        world["valpo"],
        title="Techado de la Feria Libre Avenida Argentina",
        programmes=[(fndr, 1_000)],
    )
    roof_again = make_project(
        db,
        world["valpo"],
        title="Techado Feria Libre Av. Argentina",
        programmes=[(corfo, 1_000)],
    )
    course = make_project(
        db,
        world["valpo"],
        title="Capacitación en comercio electrónico para ferias libres",
        programmes=[(corfo, 1_000)],
    )
    course_vina = make_project(
        db,
        world["vina"],
        title="Capacitación en comercio electrónico para ferias libres de Viña",
        programmes=[(corfo, 2_000)],
    )
    other_programme = make_project(
        db,
        world["vina"],
        title="Capacitación en comercio electrónico para ferias libres",
        programmes=[(fndr, 2_000)],
    )
    found = {
        (w.kind, w.first.id, w.second.id)
        for w in duplicate_warnings([roof, roof_again, course, course_vina, other_programme])
    }
    assert ("title", roof.id, roof_again.id) in found
    assert ("comunas", course.id, course_vina.id) in found
    # Two comunas, similar titles, but different programmes: not the same programme twice.
    assert ("comunas", course_vina.id, other_programme.id) not in found
    assert ("comunas", course.id, other_programme.id) not in found
    assert title_similarity("Techado feria", "Plaza de juegos") < 0.85


def test_duplicate_warnings_appear_in_the_regional_view(
    client: Any, db: Any, world: dict[str, Any]
) -> None:
    corfo = world["corfo"]
    make_project(
        db, world["valpo"], title="Capacitación digital para ferias libres", programmes=[(corfo, 1)]
    )
    make_project(
        db, world["vina"], title="Capacitación digital para ferias libres", programmes=[(corfo, 1)]
    )
    login(client, world["regional_05"].email)
    page = client.get("/region/05/proyectos/").get_data(as_text=True)
    section = page.split('id="duplicados"')[1].split("<h2")[0]
    assert "Dos comunas financian lo mismo con el mismo programa" in section
    assert "CORFO Red Asociativa" in section


OC4IDS_FIELDS = {"id", "title", "status", "period", "locations", "budget", "parties"}


def check_oc4ids(data: dict[str, Any]) -> None:
    """Check a project against the OC4IDS fields the portal promises."""
    assert set(data) >= OC4IDS_FIELDS
    assert isinstance(data["id"], str) and data["id"]
    assert data["status"] in {
        "identification",
        "preparation",
        "implementation",
        "completion",
        "cancelled",
    }
    assert set(data["period"]) <= {"startDate", "endDate"}
    for value in data["period"].values():
        date.fromisoformat(value)
    for location in data["locations"]:
        assert "description" in location and "address" in location
        if "geometry" in location:
            assert location["geometry"]["type"] == "Point"
            lon, lat = location["geometry"]["coordinates"]
            assert -180 <= lon <= 180 and -90 <= lat <= 90
    budget = data["budget"]
    assert budget["amount"]["currency"] == "CLP" and isinstance(budget["amount"]["amount"], int)
    party_ids = {p["id"]: p for p in data["parties"]}
    for part in budget["budgetBreakdown"]:
        assert part["amount"]["currency"] == "CLP"
        assert part["sourceParty"]["id"] in party_ids
    roles = {role for p in data["parties"] for role in p["roles"]}
    assert roles <= {"funder", "publicAuthority", "implementer"}
    assert "publicAuthority" in roles


def test_oc4ids_export_per_project_and_per_region(
    client: Any, db: Any, world: dict[str, Any]
) -> None:
    org = make_organization(db, world["valpo"], rut="70.360.100-6")
    project = make_project(
        db,
        world["valpo"],
        organization=org,
        budget=100_000_000,
        programmes=[(world["fndr"], 60_000_000), (world["corfo"], 15_000_000)],
        funding_dates=(date(2026, 2, 1), date(2026, 11, 30)),
        bip_code="40051234-0",
        start_date=date(2026, 1, 15),
        end_date=date(2026, 12, 20),
    )
    data = client.get(f"/valparaiso/proyectos/{project.id}.json").get_json()
    check_oc4ids(data)
    assert data["id"] == f"CL-PORTAL-05101-{project.id}"
    assert data["status"] == "implementation"
    assert data["period"] == {"startDate": "2026-01-15", "endDate": "2026-12-20"}
    assert data["locations"][0]["geometry"]["coordinates"] == [-71.6127, -33.0472]
    breakdown = {b["description"]: b["amount"]["amount"] for b in data["budget"]["budgetBreakdown"]}
    assert breakdown == {
        "FNDR Valparaíso": 60_000_000,
        "CORFO Red Asociativa": 15_000_000,
        "Municipalidad de Valparaíso": 25_000_000,
    }
    assert sum(breakdown.values()) == data["budget"]["amount"]["amount"] == 100_000_000
    roles = {p["name"]: p["roles"] for p in data["parties"]}
    assert roles["FNDR Valparaíso"] == ["funder"]
    assert roles["Municipalidad de Valparaíso"] == ["publicAuthority"]
    assert roles[org.name] == ["implementer"]
    assert {"scheme": "CL-BIP", "id": "40051234-0"} in data["additionalClassifications"]
    login(client, world["regional_05"].email)
    exported = client.get("/region/05/proyectos/exportar.json")
    assert "attachment" in exported.headers["Content-Disposition"]
    projects = json.loads(exported.get_data(as_text=True))["projects"]
    assert len(projects) == 1
    check_oc4ids(projects[0])


def test_csv_export(client: Any, db: Any, world: dict[str, Any]) -> None:
    make_project(db, world["valpo"], title="=HYPERLINK(1)", programmes=[(world["fndr"], 7)])
    make_project(db, world["conce"], title="De otra región")
    login(client, world["regional_05"].email)
    response = client.get("/region/05/proyectos/exportar.csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 1
    row = rows[0]
    assert row["programmes"] == "fndr-05=7" and row["budget"] == "40000000"
    assert row["comuna"] == "Valparaíso" and row["late_milestones"] == "1"
    assert not row["title"].startswith("=")  # no formula runs when a spreadsheet opens it


def test_regional_staff_keep_their_programmes_admins_national_ones(
    client: Any, db: Any, world: dict[str, Any]
) -> None:
    login(client, world["regional_05"].email)
    data = {
        "name": "Fondo Regional de Ferias",
        "code": "ferias-05",
        "agency": "gore",
        "level": "regional",
        "region_cut": "05",
        "yearly_amount": "300000000",
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
        "axes": "Economía social\nFerias",
        "eligibility_text": "Ferias con permiso municipal.",
        "min_stalls": "20",
        "legal_organization_required": "y",
        "fair_kinds": ["feria_libre"],
        "contact_email": "ferias@gore05.cl",
        "active": "y",
    }
    response = post_form(
        client, "/region/05/programas/nuevo", data, token_from="/region/05/programas/nuevo"
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    programme = db.session.scalar(select(Programme).where(Programme.code == "ferias-05"))
    assert programme.region_cut == "05" and programme.min_stalls == 20
    assert programme.fair_kind_list == ["feria_libre"] and programme.axis_list == [
        "Economía social",
        "Ferias",
    ]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "programme.create"))
    assert entry.region_cut == "05"
    # Bad input re-renders with messages.
    for changes in (
        {"code": "fndr-05"},
        {"period_end": "2025-01-01"},
        {"code": "con espacios"},
        {"yearly_amount": "-1"},
        {"contact_email": "no"},
        {"url": "javascript:x"},
        {"level": "national"},
    ):
        bad = post_form(client, "/region/05/programas/nuevo", {**data, **changes})
        assert bad.status_code == 200 and "error-summary" in bad.get_data(as_text=True), changes
    # Another region's or a national programme cannot be edited here.
    assert client.get(f"/region/05/programas/{world['fndr8'].id}").status_code == 404
    assert client.get(f"/region/05/programas/{world['corfo'].id}").status_code == 404
    assert client.get(f"/admin/programas/{world['corfo'].id}").status_code == 403
    response = post_form(
        client, f"/region/05/programas/{programme.id}", {**data, "name": "Nuevo nombre"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert programme.name == "Nuevo nombre"
    # Admins keep national programmes.
    admin = client.application.test_client()
    login(admin, world["admin"].email)
    national = {
        **data,
        "code": "promdel",
        "name": "PROMDEL",
        "level": "national",
        "agency": "other",
        "region_cut": "",
    }
    response = post_form(
        admin, "/admin/programas/nuevo", national, token_from="/admin/programas/nuevo"
    )
    assert response.status_code == 302
    assert (
        db.session.scalar(select(Programme).where(Programme.code == "promdel")).region_cut is None
    )


def test_public_programme_pages(client: Any, db: Any, world: dict[str, Any]) -> None:
    project = make_project(db, world["valpo"], programmes=[(world["fndr"], 12_000_000)])
    listing = client.get("/programas").get_data(as_text=True)
    assert "FNDR Valparaíso" in listing and "CORFO Red Asociativa" in listing
    only_08 = client.get("/programas?region=08").get_data(as_text=True)
    assert "FNDR Biobío" in only_08 and "FNDR Valparaíso" not in only_08
    page = client.get(f"/programas/{world['fndr'].id}").get_data(as_text=True)
    assert project.title in page and "$12.000.000" in page and "$500.000.000" in page
    assert client.get("/programas/999999").status_code == 404


def test_demo_loads_programmes_projects_and_a_duplicate(app: Any, db: Any) -> None:
    from portal.programmes.models import FundedProject
    from portal.programmes.services import ProjectFilters, region_projects_query

    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    codes = set(db.session.scalars(select(Programme.code)))
    assert {
        "sercotec-ferias-libres",
        "fndr-valparaiso-fomento",
        "fndr-biobio-fomento",
        "corfo-red-asociativa",
        "sernatur-destinos",
        "promdel",
    } <= codes
    for region in ("05", "08"):
        projects = list(db.session.scalars(region_projects_query(region, ProjectFilters())))
        assert len({p.status for p in projects}) >= 2
        assert duplicate_warnings(projects), region
    count = len(db.session.scalars(select(FundedProject)).all())
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    assert len(db.session.scalars(select(FundedProject)).all()) == count
    client = app.test_client()
    login(client, "difoi@gorebiobio.demo", "portal-demo-2026")
    page = client.get("/region/08/proyectos/").get_data(as_text=True)
    assert "La misma organización" in page
    assert csrf_token(client, "/region/08/programas/nuevo")
