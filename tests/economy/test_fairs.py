"""Fairs through HTTP: staff forms, public pages, iCalendar feeds, JSON-LD, eligibility."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from portal.economy.models import Fair
from portal.programmes.services import ensure_default_programmes
from tests.conftest import login, post_form
from tests.economy.helpers import make_fair, make_organization

ALL_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def always_open(db: Any, municipality: Any, name: str, **kw: Any) -> Any:
    """A fair open all day every day (00:00 to 00:00 next day): 'today' whatever the clock says."""
    return make_fair(
        db, municipality, name=name, byday=ALL_DAYS, opens=time(0), closes=time(0), **kw
    )


def test_staff_create_a_fair_with_schedule_exceptions_and_one_offs(
    client: Any, db: Any, valpo: Any, staff: Any
) -> None:
    ensure_default_programmes(
        db.session
    )  # seeded by the migration; PostgreSQL runs empty the table between tests
    union = make_organization(
        db,
        valpo,
        name="Sindicato Feria Libre Avenida Argentina",
        rut="70.360.100-6",
        legal_form="independent_union",
        sector="retail",
    )
    login(client, staff.email)
    data = {
        "name": "Feria Libre Avenida Argentina",
        "kind": "feria_libre",
        "place": "Av. Argentina entre Pedro Montt y Chacabuco",
        "latitude": "-33.0472",
        "longitude": "-71.6127",
        "stalls": "600",
        "permit_number": "DOM-114",
        "product_categories": "frutas, verduras",
        "byday": ["WE", "SA", "SU"],
        "opens_at": "07:00",
        "closes_at": "15:00",
        "valid_from": "2026-01-01",
        "exceptions": "18-09-2026, 19-09-2026",
        "one_offs": "24-12-2026 08:00-22:00",
        "organizers": [str(union.id)],
    }
    response = post_form(client, "/gestion/valparaiso/ferias/nueva", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    fair = db.session.scalar(select(Fair))
    assert fair.schedules[0].byday == "WE,SA,SU" and [
        e.day for e in fair.schedules[0].exceptions
    ] == [date(2026, 9, 18), date(2026, 9, 19)]
    assert fair.one_offs[0].day == date(2026, 12, 24) and fair.organizers == [union]
    page = client.get(f"/gestion/valparaiso/ferias/{fair.id}").get_data(as_text=True)
    assert "SERCOTEC" in page and "cumple los requisitos" in page
    # Bad input re-renders with messages.
    bad = post_form(
        client, "/gestion/valparaiso/ferias/nueva", {**data, "one_offs": "mañana", "byday": []}
    )
    assert bad.status_code == 200 and "Escribe cada fecha" in bad.get_data(as_text=True)
    bad = post_form(client, "/gestion/valparaiso/ferias/nueva", {**data, "valid_to": "2025-01-01"})
    assert bad.status_code == 200 and "anterior a su inicio" in bad.get_data(as_text=True)


def test_eligibility_says_what_is_missing(client: Any, db: Any, valpo: Any, staff: Any) -> None:
    ensure_default_programmes(db.session)
    db.session.commit()
    group = make_organization(db, valpo, name="Grupo Informal Persa", legal_form="informal_group")
    fair = make_fair(db, valpo, name="Persa Chico", stalls=10, organizers=[group])
    login(client, staff.email)
    page = client.get(f"/gestion/valparaiso/ferias/{fair.id}").get_data(as_text=True)
    assert "necesita al menos 15 puestos (tiene 10)" in page
    assert "necesita una organización con personalidad jurídica" in page


def test_fairs_today_and_this_week_in_a_comuna_and_near_a_point(
    client: Any, db: Any, valpo: Any, factory: Any
) -> None:
    vina = factory.municipality("05109")
    always_open(db, valpo, "Feria Valparaíso", lat=-33.0472, lon=-71.6127)
    always_open(db, vina, "Feria Viña", lat=-33.0245, lon=-71.5518)
    withdrawn = always_open(db, valpo, "Feria Retirada")
    withdrawn.active = False
    db.session.commit()
    page = client.get("/valparaiso/ferias/").get_data(as_text=True)
    assert "Feria Valparaíso" in page and "Feria Viña" not in page and "Feria Retirada" not in page
    today = client.get("/ferias/hoy?comuna=vina-del-mar").get_data(as_text=True)
    assert "Feria Viña" in today and "Feria Valparaíso" not in today
    near = client.get("/ferias/hoy?lat=-33.025&lon=-71.552").get_data(as_text=True)
    assert near.index("Feria Viña") < near.index("Feria Valparaíso") and "km" in near
    week = client.get("/ferias/semana").get_data(as_text=True)
    assert week.count("Feria Viña</a>") == 7
    assert client.get("/ferias/hoy?lat=abc&lon=999").status_code == 200
    assert client.get(f"/valparaiso/ferias/{withdrawn.id}").status_code == 404


def test_fair_page_has_schema_org_event_markup(client: Any, db: Any, valpo: Any) -> None:
    union = make_organization(
        db,
        valpo,
        name="Sindicato Feria Argentina",
        rut="70.360.100-6",
        legal_form="independent_union",
    )
    fair = make_fair(db, valpo, organizers=[union], exceptions=[date(2026, 9, 19)])
    html = client.get(f"/valparaiso/ferias/{fair.id}").get_data(as_text=True)
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1)
    data = json.loads(block)
    assert data["@type"] == "Event" and data["name"] == "Feria Libre Avenida Argentina"
    schedule = data["eventSchedule"][0]
    assert schedule["byDay"] == [
        "https://schema.org/Wednesday",
        "https://schema.org/Saturday",
        "https://schema.org/Sunday",
    ]
    assert schedule["startTime"] == "07:00:00" and schedule["repeatFrequency"] == "P1W"
    assert (
        schedule["exceptDate"] == ["2026-09-19"]
        and schedule["scheduleTimezone"] == "America/Santiago"
    )
    assert data["location"]["geo"]["latitude"] == -33.0472
    assert data["organizer"][0]["name"] == "Sindicato Feria Argentina"
    assert datetime.fromisoformat(data["startDate"]).astimezone(
        ZoneInfo("America/Santiago")
    ).time() == time(7)


def test_fair_feed_parses_back_with_timezone_rrule_exdate_and_one_offs(
    client: Any, db: Any, valpo: Any
) -> None:
    fair = make_fair(
        db,
        valpo,
        valid_from=date(2026, 3, 1),
        valid_to=date(2026, 12, 31),
        exceptions=[date(2026, 9, 19)],
        one_offs=[(date(2026, 12, 24), time(10), time(22))],
    )
    response = client.get(f"/valparaiso/ferias/{fair.id}.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    cal = Calendar.from_ical(response.data)
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["America/Santiago"]
    events = cal.walk("VEVENT")
    weekly = next(e for e in events if "RRULE" in e)
    start = weekly.decoded("DTSTART")
    assert (
        str(start.tzinfo) == "America/Santiago"
        or getattr(start.tzinfo, "key", "") == "America/Santiago"
    )
    assert start.date() == date(2026, 3, 1) and start.time() == time(7)  # 1 March 2026 is a Sunday
    assert weekly["RRULE"]["FREQ"] == ["WEEKLY"] and weekly["RRULE"]["BYDAY"] == ["WE", "SA", "SU"]
    until = weekly["RRULE"]["UNTIL"][0]
    assert until.astimezone(ZoneInfo("America/Santiago")).date() == date(2026, 12, 31)
    exdates = (
        [d.dt for d in weekly["EXDATE"].dts]
        if not isinstance(weekly["EXDATE"], list)
        else [d.dt for x in weekly["EXDATE"] for d in x.dts]
    )
    assert [(d.date(), d.time()) for d in exdates] == [(date(2026, 9, 19), time(7))]
    assert exdates[0].utcoffset() == timedelta(hours=-3)  # 19 September is summer time
    christmas = next(e for e in events if "RRULE" not in e)
    assert christmas.decoded("DTSTART").time() == time(10) and christmas.decoded(
        "DTEND"
    ).time() == time(22)
    assert len({str(e["UID"]) for e in events}) == 2


def test_comuna_feed_lists_every_active_fair(client: Any, db: Any, valpo: Any) -> None:
    make_fair(db, valpo, name="Feria A")
    make_fair(db, valpo, name="Feria B", byday=("TU",))
    gone = make_fair(db, valpo, name="Feria C")
    gone.active = False
    db.session.commit()
    cal = Calendar.from_ical(client.get("/valparaiso/ferias.ics").data)
    assert sorted(str(e["SUMMARY"]) for e in cal.walk("VEVENT")) == ["Feria A", "Feria B"]
    assert client.get("/no-existe/ferias.ics").status_code == 404


def test_staff_withdraw_and_edit_a_fair_with_audit(
    client: Any, db: Any, valpo: Any, staff: Any
) -> None:
    from portal.audit.models import AuditEntry

    fair = make_fair(db, valpo)
    login(client, staff.email)
    assert post_form(client, f"/gestion/valparaiso/ferias/{fair.id}/publicar").status_code == 302
    assert (
        client.application.test_client().get(f"/valparaiso/ferias/{fair.id}.ics").status_code == 404
    )
    form = client.get(f"/gestion/valparaiso/ferias/{fair.id}").get_data(as_text=True)
    assert 'value="07:00"' in form
    data = {
        "name": fair.name,
        "kind": "feria_libre",
        "place": fair.place,
        "stalls": "620",
        "byday": ["SA", "SU"],
        "opens_at": "07:30",
        "closes_at": "15:00",
    }
    assert post_form(client, f"/gestion/valparaiso/ferias/{fair.id}", data).status_code == 302
    db.session.expire_all()
    fair = db.session.get(Fair, fair.id)
    assert (
        fair.stalls == 620
        and fair.schedules[0].byday == "SA,SU"
        and fair.schedules[0].opens_at == time(7, 30)
    )
    actions = set(
        db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "fair"))
    )
    assert {"fair.create", "fair.deactivate", "fair.update"} <= actions


def test_other_municipality_staff_cannot_touch_a_fair(
    client: Any, db: Any, valpo: Any, factory: Any
) -> None:
    concepcion = factory.municipality("08101")
    factory.user("fomento@concepcion.cl", role="municipal_staff", municipality=concepcion)
    fair = make_fair(db, valpo)
    login(client, "fomento@concepcion.cl")
    assert client.get(f"/gestion/concepcion/ferias/{fair.id}").status_code == 404
    assert post_form(client, f"/gestion/concepcion/ferias/{fair.id}/publicar").status_code == 404
    assert client.get("/gestion/valparaiso/ferias/").status_code == 403


TILES = {
    "MAP_TILE_URL": "https://tiles.example.cl/{z}/{x}/{y}.png",
    "MAP_ATTRIBUTION": "© Tiles Example",
    "CSP_EXTRA_IMG_SRC": ["https://tiles.example.cl"],
}


@pytest.mark.parametrize("app_config", [TILES])
def test_the_map_uses_the_configured_tiles_and_csp_allows_them(
    client: Any, db: Any, valpo: Any
) -> None:
    make_fair(db, valpo)
    response = client.get("/valparaiso/ferias/")
    html = response.get_data(as_text=True)
    assert 'data-tiles="https://tiles.example.cl/{z}/{x}/{y}.png"' in html
    assert "© Tiles Example" in html
    assert (
        "img-src 'self' data: https://tiles.example.cl"
        in response.headers["Content-Security-Policy"]
    )
