"""Staff run a round: create, districts, rules, publish, phases; residents follow it."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from portal.audit.models import AuditEntry
from portal.budgeting.models import Ballot, Round
from portal.database import utcnow
from tests.conftest import login, post_form


@pytest.fixture
def staff(client: Any, factory: Any) -> Any:
    municipality = factory.municipality("05101")
    factory.user("camila@valparaiso.cl", role="municipal_staff", municipality=municipality)
    login(client, "camila@valparaiso.cl")
    client.municipality = municipality
    return client


def round_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "title": "Presupuesto Participativo Valparaíso 2027",
        "description": "Fondos para ferias, comercio de barrio y organizaciones.",
        "total_budget": "60000000",
        "themes": ["fairs-markets", "local-commerce"],
        "proposals_start": "2027-03-01T09:00",
        "review_start": "2027-04-01T09:00",
        "voting_start": "2027-05-10T08:00",
        "results_start": "2027-05-24T20:00",
        "implementation_start": "2027-06-01T09:00",
        "closed_start": "2028-03-01T09:00",
    }
    data.update(overrides)
    return data


def test_staff_create_a_draft_round_in_santiago_time(staff: Any, db: Any) -> None:
    response = post_form(staff, "/gestion/valparaiso/rondas/nueva", round_form())
    assert response.status_code == 302
    round_ = db.session.query(Round).one()
    assert round_.published_at is None
    # 10 May 2027 08:00 in Santiago (UTC-4 in winter) is 12:00 UTC.
    assert round_.voting_start.hour == 12
    assert round_.total_budget == 60_000_000
    assert db.session.query(AuditEntry).filter_by(action="round.create").count() == 1
    assert staff.get(f"/valparaiso/rondas/{round_.id}").status_code == 404  # drafts are not public
    page = staff.get(f"/gestion/valparaiso/rondas/{round_.id}").get_data(as_text=True)
    assert "Borrador" in page and "$60.000.000" in page


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"review_start": "2027-02-01T09:00"}, "Cada etapa debe comenzar después de la anterior."),
        ({"total_budget": "-5"}, "Escribe un número entero de pesos desde 1 hasta 2000000000."),
        ({"total_budget": "mucho"}, "No es un valor entero válido."),
        ({"voting_start": "mañana"}, "No es un valor para la fecha y la hora válido."),
        ({"themes": []}, "Este campo es obligatorio."),
        ({"title": ""}, "Este campo es obligatorio."),
    ],
)
def test_bad_round_input_rerenders_and_saves_nothing(
    staff: Any, db: Any, overrides: dict[str, Any], message: str
) -> None:
    response = post_form(staff, "/gestion/valparaiso/rondas/nueva", round_form(**overrides))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert message in body
    assert "Presupuesto Participativo Valparaíso 2027" in body or overrides.get("title") == ""
    assert db.session.query(Round).count() == 0


def test_districts_must_add_up_before_publishing(staff: Any, factory: Any, db: Any) -> None:
    round_ = factory.round(staff.municipality, phase="draft", total_budget=10_000_000)
    base = f"/gestion/valparaiso/rondas/{round_.id}"
    assert (
        post_form(
            staff,
            f"{base}/sectores",
            {"name": "Cerro Alegre", "code": "UV-12", "budget": "6000000"},
        ).status_code
        == 302
    )
    assert (
        post_form(
            staff, f"{base}/sectores", {"name": "Playa Ancha", "budget": "3000000"}
        ).status_code
        == 302
    )
    duplicate = post_form(staff, f"{base}/sectores", {"name": "cerro alegre", "budget": "1"})
    assert "La ronda ya tiene un sector con ese nombre." in duplicate.get_data(as_text=True)
    refused = post_form(staff, f"{base}/publicar", {}, follow_redirects=True)
    assert "deben sumar el presupuesto total ($10.000.000)" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Round, round_.id).published_at is None
    post_form(staff, f"{base}/sectores", {"name": "Cerro Barón", "budget": "1000000"})
    published = post_form(staff, f"{base}/publicar", {}, follow_redirects=True)
    assert "La ronda está publicada." in published.get_data(as_text=True)
    public = staff.get(f"/valparaiso/rondas/{round_.id}").get_data(as_text=True)
    assert "Cerro Alegre" in public and "$6.000.000" in public


def test_public_round_page_says_where_it_stands_and_what_comes_next(
    client: Any, factory: Any
) -> None:
    municipality = factory.municipality("05101")
    round_ = factory.round(municipality, phase="proposals")
    page = client.get(f"/valparaiso/rondas/{round_.id}").get_data(as_text=True)
    assert '<span class="badge">Propuestas</span>' in page
    assert "Próxima etapa: Evaluación técnica, desde el" in page
    assert "Proponer un proyecto" in page
    assert 'aria-current="step"' in page
    assert round_.title in client.get("/").get_data(as_text=True)  # listed among rounds under way
    assert round_.title in client.get("/valparaiso/").get_data(as_text=True)


def _advance_url(staff: Any, round_id: int) -> str:
    """The action of the staff page's "start the next phase now" button, as the page gives it."""
    page = staff.get(f"/gestion/valparaiso/rondas/{round_id}").get_data(as_text=True)
    found = re.search(r'action="([^"]*/avanzar[^"]*)"', page)
    assert found, "no button to start the next phase"
    return html.unescape(found.group(1))


def test_staff_move_the_round_on_early_and_it_is_audited(staff: Any, factory: Any, db: Any) -> None:
    round_ = factory.round(staff.municipality, phase="proposals")
    url = _advance_url(staff, round_.id)
    assert url.endswith("?fase=review")
    response = post_form(staff, url, {}, follow_redirects=True)
    assert "La ronda pasó a la siguiente etapa." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Round, round_.id).review_start <= utcnow()
    entry = db.session.query(AuditEntry).filter_by(action="round.advance").one()
    assert entry.before["phase"] == "proposals"


def test_a_second_click_or_a_stale_page_does_not_start_the_phase_after(
    staff: Any, factory: Any, db: Any
) -> None:
    """The button names the phase it starts: clicked twice during voting, it closes voting once
    and does not go on to implementation; a page left open across a phase change does nothing."""
    round_ = factory.round(staff.municipality, phase="voting")
    url = _advance_url(staff, round_.id)
    assert url.endswith("?fase=results")
    first = post_form(staff, url, {}, follow_redirects=True)
    assert "La ronda pasó a la siguiente etapa." in first.get_data(as_text=True)
    db.session.expire_all()
    results_start = db.session.get(Round, round_.id).results_start
    second = post_form(staff, url, {}, follow_redirects=True)
    assert "Nada cambió: la ronda ya había avanzado." in second.get_data(as_text=True)
    db.session.expire_all()
    moved = db.session.get(Round, round_.id)
    assert moved.results_start == results_start
    assert moved.implementation_start > utcnow()  # still in the future: counting goes on
    assert db.session.query(AuditEntry).filter_by(action="round.advance").count() == 1
    # a request without the phase (an old page) changes nothing either
    bare = post_form(staff, f"/gestion/valparaiso/rondas/{round_.id}/avanzar", {})
    assert bare.status_code == 302
    db.session.expire_all()
    assert db.session.get(Round, round_.id).implementation_start > utcnow()


def rules_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "method": "approval",
        "min_selections": "1",
        "max_selections": "3",
        "points_total": "",
        "points_cap": "",
        "rank_k": "",
        "allocation_rule": "greedy",
        "threshold_votes": "",
        "district_mode": "district",
        "comuna_wide_budget": "",
        "min_age": "14",
        "age_reference_date": "",
        "eligibility": "census",
    }
    data.update(overrides)
    return data


def test_rules_can_change_before_voting(staff: Any, factory: Any, db: Any) -> None:
    round_ = factory.round(staff.municipality, phase="review")
    url = f"/gestion/valparaiso/rondas/{round_.id}/reglas"
    response = post_form(
        staff,
        url,
        rules_form(method="cumulative", points_total="7", points_cap="3", max_selections=""),
    )
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Round, round_.id)
    assert (saved.method, saved.points_total, saved.points_cap) == ("cumulative", 7, 3)
    missing = post_form(staff, url, rules_form(method="ranked", rank_k=""))
    assert "Indica el largo máximo del ranking." in missing.get_data(as_text=True)


def test_rules_freeze_when_voting_opens(staff: Any, factory: Any, db: Any) -> None:
    round_ = factory.round(staff.municipality, phase="voting")
    response = post_form(
        staff, f"/gestion/valparaiso/rondas/{round_.id}/reglas", rules_form(max_selections="5")
    )
    assert response.status_code == 200
    assert "las reglas y los presupuestos ya no pueden cambiar" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Round, round_.id).max_selections == 3


def test_rules_budget_and_districts_freeze_once_a_ballot_exists(
    staff: Any, factory: Any, db: Any
) -> None:
    round_ = factory.round(staff.municipality, phase="review", total_budget=5_000_000)
    district = factory.district(round_, "Cerro Alegre", 5_000_000)
    db.session.add(Ballot(round_id=round_.id, district_id=district.id, receipt_code="TEST-0001"))
    db.session.commit()
    base = f"/gestion/valparaiso/rondas/{round_.id}"
    assert "ya no pueden cambiar" in post_form(
        staff, f"{base}/reglas", rules_form(max_selections="5")
    ).get_data(as_text=True)
    assert "ya no pueden cambiar" in post_form(
        staff, f"{base}/sectores/{district.id}", {"name": "Cerro Alegre", "budget": "1"}
    ).get_data(as_text=True)
    edit = round_form(total_budget="9000000")
    assert "ya no pueden cambiar" in post_form(staff, f"{base}/editar", edit).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Round, round_.id).total_budget == 5_000_000


def test_past_phase_dates_cannot_be_rewritten(staff: Any, factory: Any, db: Any) -> None:
    round_ = factory.round(staff.municipality, phase="review")
    data = round_form(total_budget=str(round_.total_budget))
    santiago = ZoneInfo("America/Santiago")

    def local(moment: Any) -> str:
        return moment.astimezone(santiago).strftime("%Y-%m-%dT%H:%M")

    for key in (
        "proposals_start",
        "review_start",
        "voting_start",
        "results_start",
        "implementation_start",
        "closed_start",
    ):
        data[key] = local(getattr(round_, key))
    data["proposals_start"] = local(round_.proposals_start - timedelta(days=3))
    response = post_form(staff, f"/gestion/valparaiso/rondas/{round_.id}/editar", data)
    assert "Las etapas que ya comenzaron mantienen sus fechas." in response.get_data(as_text=True)


def test_staff_of_another_municipality_cannot_touch_the_round(app: Any, factory: Any) -> None:
    valparaiso = factory.municipality("05101")
    concepcion = factory.municipality("08101")
    round_ = factory.round(valparaiso, phase="draft")
    factory.user("staff@concepcion.cl", role="municipal_staff", municipality=concepcion)
    other = app.test_client()
    login(other, "staff@concepcion.cl")
    assert other.get(f"/gestion/valparaiso/rondas/{round_.id}").status_code == 403
    # Through their own desk the round of another municipality does not exist.
    assert other.get(f"/gestion/concepcion/rondas/{round_.id}").status_code == 404
    assert (
        post_form(other, f"/gestion/concepcion/rondas/{round_.id}/publicar", {}).status_code == 404
    )


def test_round_pages_answer_only_under_their_own_active_municipality(
    client: Any, db: Any, factory: Any
) -> None:
    """The public round pages find the round and its municipality in one query: same 404s."""
    valparaiso = factory.municipality("05101")
    concepcion = factory.municipality("08101")
    voting = factory.round(valparaiso, phase="voting")
    draft = factory.round(valparaiso, phase="draft", title="Borrador")
    pages = ["", "/votar", "/papeleta", "/voto-registrado", "/comprobante"]
    for page in pages:
        assert client.get(f"/valparaiso/rondas/{voting.id}{page}").status_code in (200, 302), page
        assert client.get(f"/{concepcion.slug}/rondas/{voting.id}{page}").status_code == 404, page
        assert client.get(f"/valparaiso/rondas/{draft.id}{page}").status_code == 404, page
        assert client.get(f"/no-existe/rondas/{voting.id}{page}").status_code == 404, page
    valparaiso.active = False
    db.session.commit()
    for page in pages:
        assert client.get(f"/valparaiso/rondas/{voting.id}{page}").status_code == 404, page
