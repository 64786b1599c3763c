"""Voting through HTTP: eligibility, each method, invalid ballots, changes, receipts, secrecy."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select, text

from portal.budgeting.models import Ballot, BallotChoice, Participation
from tests.conftest import csrf_token, login, post_form
from tests.voting.conftest import Resident, add_census, check_in, vote

RECEIPT_RE = re.compile(r"[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}")


def receipt_of(response: Any) -> str:
    match = RECEIPT_RE.search(response.get_data(as_text=True))
    assert match, "no receipt on the page"
    return match.group(0)


def test_eligibility_needs_the_census_second_fact(voting_round: Any, client: Any) -> None:
    vr = voting_round()
    resident = vr.residents[0]
    wrong = client.post(
        f"{vr.base}/votar",
        data={
            "csrf_token": csrf_token(client, f"{vr.base}/votar"),
            "rut": resident.rut,
            "birth_date": "1999-01-01",
        },
    )
    assert wrong.status_code == 200
    page = wrong.get_data(as_text=True)
    assert "No pudimos verificar" in page
    # Not in the census at all: the very same message.
    nobody = client.post(
        f"{vr.base}/votar",
        data={
            "csrf_token": csrf_token(client, f"{vr.base}/votar"),
            "rut": "11.111.111-1",
            "birth_date": "1999-01-01",
        },
    )
    assert "No pudimos verificar" in nobody.get_data(as_text=True)
    assert client.get(f"{vr.base}/papeleta").status_code == 302
    ok = check_in(client, vr, resident)
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/papeleta")


def test_too_young_is_told_after_a_right_answer(voting_round: Any, client: Any) -> None:
    vr = voting_round()
    child = vr.residents[-1]
    response = check_in(client, vr, child)
    assert response.status_code == 200
    assert "Puedes votar desde los 14 años" in response.get_data(as_text=True)


def test_the_voter_session_is_for_that_round_only(
    voting_round: Any, client: Any, factory: Any
) -> None:
    vr = voting_round()
    other = factory.round(vr.municipality, phase="voting", title="Otra ronda")
    check_in(client, vr, vr.residents[0])
    assert client.get(f"{vr.base}/papeleta").status_code == 200
    assert client.get(f"/{vr.municipality.slug}/rondas/{other.id}/papeleta").status_code == 302


def test_approval_vote_end_to_end_and_change(voting_round: Any, client: Any, db: Any) -> None:
    vr = voting_round(method="approval", min_selections=1, max_selections=2)
    resident = vr.residents[0]  # Cerro Alegre
    check_in(client, vr, resident)
    page = client.get(f"{vr.base}/papeleta").get_data(as_text=True)
    assert "Techado feria Cerro Alegre" in page
    assert "Feria costera Playa Ancha" not in page  # another district's project
    techado = vr.projects["Techado feria Cerro Alegre"].id
    taller = vr.projects["Taller de oficios"].id
    sent = vote(client, vr, [(f"d{vr.districts[0].id}-p", str(techado))])
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/voto-registrado")
    done = client.get(f"{vr.base}/voto-registrado")
    assert "Tu voto está registrado" in done.get_data(as_text=True)
    first_receipt = receipt_of(done)

    # Change the vote: the ballot page shows the choice, the last ballot counts.
    again = client.get(f"{vr.base}/papeleta").get_data(as_text=True)
    assert f'value="{techado}" id=' in again and "checked" in again
    vote(client, vr, [(f"d{vr.districts[0].id}-p", str(taller))])
    second_receipt = receipt_of(client.get(f"{vr.base}/voto-registrado"))
    assert second_receipt != first_receipt
    db.session.expire_all()
    ballots = db.session.scalars(select(Ballot).where(Ballot.round_id == vr.round.id)).all()
    assert len(ballots) == 1
    assert [c.proposal_id for c in ballots[0].choices] == [taller]
    assert db.session.scalar(select(Participation.id).where(Participation.round_id == vr.round.id))

    check = client.get(f"{vr.base}/comprobante?codigo={second_receipt.lower().replace('-', '')}")
    assert "está en el conteo" in check.get_data(as_text=True)
    stale = client.get(f"{vr.base}/comprobante?codigo={first_receipt}")
    assert "Ninguna papeleta" in stale.get_data(as_text=True)


@pytest.mark.parametrize(
    ("rules", "fields", "message"),
    [
        (
            {"method": "approval", "min_selections": 1, "max_selections": 1},
            ["A", "B"],
            "como máximo 1",
        ),
        ({"method": "approval", "min_selections": 2, "max_selections": 3}, ["A"], "al menos 2"),
        (
            {"method": "knapsack", "min_selections": 1, "max_selections": None},
            ["A", "B", "C"],
            "más que el presupuesto",
        ),
        (
            {"method": "approval", "min_selections": 1, "max_selections": 3},
            ["X"],
            "no está en esta papeleta",
        ),
        ({"method": "approval", "min_selections": 1, "max_selections": 3}, [], "al menos 1"),
    ],
)
def test_invalid_ballots_are_refused_with_choices_kept(
    voting_round: Any, client: Any, db: Any, rules: dict[str, Any], fields: list[str], message: str
) -> None:
    vr = voting_round(**rules)
    check_in(client, vr, vr.residents[0])
    names = {
        "A": "Techado feria Cerro Alegre",
        "B": "Taller de oficios",
        "C": "Mercado de artesanas",
    }
    key = f"d{vr.districts[0].id}-p"
    data = [
        (
            key,
            str(vr.projects[names[f]].id)
            if f in names
            else str(vr.projects["Feria costera Playa Ancha"].id),
        )
        for f in fields
    ]
    response = vote(client, vr, data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    for f in fields:
        if f in names:
            assert (
                f'value="{vr.projects[names[f]].id}" id="c-d{vr.districts[0].id}-{vr.projects[names[f]].id}" checked'
                in page
            )
    db.session.expire_all()
    assert db.session.scalar(select(Ballot.id).where(Ballot.round_id == vr.round.id)) is None


def test_knapsack_within_the_district_budget(voting_round: Any, client: Any, db: Any) -> None:
    vr = voting_round(method="knapsack", min_selections=1, max_selections=None)
    check_in(client, vr, vr.residents[0])
    d = vr.districts[0].id
    fields = [
        (f"d{d}-p", str(vr.projects[t].id))
        for t in ("Techado feria Cerro Alegre", "Taller de oficios")
    ]
    assert vote(client, vr, fields).status_code == 302


def test_cumulative_points_and_cap(voting_round: Any, client: Any, db: Any) -> None:
    vr = voting_round(
        method="cumulative", points_total=5, points_cap=3, min_selections=1, max_selections=None
    )
    check_in(client, vr, vr.residents[0])
    d = vr.districts[0].id
    techado = vr.projects["Techado feria Cerro Alegre"].id
    taller = vr.projects["Taller de oficios"].id
    over_cap = vote(client, vr, [(f"d{d}-points-{techado}", "4")])
    assert over_cap.status_code == 422 and "como máximo 3 puntos" in over_cap.get_data(as_text=True)
    too_many = vote(client, vr, [(f"d{d}-points-{techado}", "3"), (f"d{d}-points-{taller}", "3")])
    assert too_many.status_code == 422 and "Diste 6 puntos; tienes 5" in too_many.get_data(
        as_text=True
    )
    assert 'value="3"' in too_many.get_data(as_text=True)
    ok = vote(client, vr, [(f"d{d}-points-{techado}", "3"), (f"d{d}-points-{taller}", "2")])
    assert ok.status_code == 302
    db.session.expire_all()
    points = dict(db.session.execute(select(BallotChoice.proposal_id, BallotChoice.points)).all())
    assert points == {techado: 3, taller: 2}


def test_ranked_order(voting_round: Any, client: Any, db: Any) -> None:
    vr = voting_round(method="ranked", rank_k=2, min_selections=1, max_selections=None)
    check_in(client, vr, vr.residents[0])
    d = vr.districts[0].id
    a, b, c = (
        vr.projects[t].id
        for t in ("Techado feria Cerro Alegre", "Taller de oficios", "Mercado de artesanas")
    )
    gap = vote(client, vr, [(f"d{d}-rank-{a}", "1"), (f"d{d}-rank-{b}", "3")])
    assert gap.status_code == 422 and "sin repetir" in gap.get_data(as_text=True)
    too_long = vote(
        client, vr, [(f"d{d}-rank-{a}", "1"), (f"d{d}-rank-{b}", "2"), (f"d{d}-rank-{c}", "3")]
    )
    assert too_long.status_code == 422
    ok = vote(client, vr, [(f"d{d}-rank-{b}", "1"), (f"d{d}-rank-{a}", "2")])
    assert ok.status_code == 302
    db.session.expire_all()
    ranks = dict(db.session.execute(select(BallotChoice.proposal_id, BallotChoice.rank)).all())
    assert ranks == {b: 1, a: 2}


def test_district_and_comuna_lists(voting_round: Any, client: Any, factory: Any, db: Any) -> None:
    vr = voting_round(
        method="approval",
        min_selections=1,
        max_selections=2,
        district_mode="district-and-comuna",
        comuna_wide_budget=0,
    )
    author = factory.user()
    wide = factory.proposal(
        vr.round, author, title="Ruta gastronómica comunal", status="feasible", final_cost=2_000_000
    )
    check_in(client, vr, vr.residents[1])  # Playa Ancha
    page = client.get(f"{vr.base}/papeleta").get_data(as_text=True)
    assert "Ruta gastronómica comunal" in page and "Feria costera Playa Ancha" in page
    d = vr.districts[1].id
    ok = vote(
        client,
        vr,
        [(f"d{d}-p", str(vr.projects["Feria costera Playa Ancha"].id)), ("comuna-p", str(wide.id))],
    )
    assert ok.status_code == 302


def test_no_voting_outside_the_voting_phase(app: Any, client: Any, factory: Any) -> None:
    municipality = factory.municipality("05101")
    round_ = factory.round(municipality, phase="review")
    page = client.get(f"/{municipality.slug}/rondas/{round_.id}/votar")
    assert "La votación no está abierta" in page.get_data(as_text=True)


def test_failed_checks_are_rate_limited_per_rut(voting_round: Any, app: Any) -> None:
    vr = voting_round()
    target = vr.residents[0].rut
    for attempt in range(9):
        client = app.test_client()  # a new session each time: the RUT limit still counts
        response = client.post(
            f"{vr.base}/votar",
            data={
                "csrf_token": csrf_token(client, f"{vr.base}/votar"),
                "rut": target,
                "birth_date": f"1990-01-{attempt + 1:02d}",
            },
        )
    assert response.status_code == 429


def test_failed_checks_are_rate_limited_per_session(voting_round: Any, client: Any) -> None:
    vr = voting_round()
    statuses = []
    for i in range(9):
        statuses.append(
            client.post(
                f"{vr.base}/votar",
                data={
                    "csrf_token": csrf_token(client, f"{vr.base}/votar"),
                    "rut": vr.residents[i].rut,
                    "birth_date": "1900-01-01",
                },
            ).status_code
        )
    assert statuses[:8] == [200] * 8 and statuses[8] == 429


def test_sworn_declaration_where_the_round_allows_it(
    voting_round: Any, client: Any, db: Any
) -> None:
    vr = voting_round(eligibility="census-or-declared")
    page = client.get(f"{vr.base}/declarar")
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_token(client, f"{vr.base}/declarar"),
        "rut": "22.222.222-2",
        "birth_date": "1990-02-02",
        "district": str(vr.districts[1].id),
    }
    unsworn = client.post(f"{vr.base}/declarar", data=data)
    assert "Marca la declaración" in unsworn.get_data(as_text=True)
    sworn = client.post(f"{vr.base}/declarar", data={**data, "sworn": "y"})
    assert sworn.status_code == 302
    assert "Feria costera Playa Ancha" in client.get(f"{vr.base}/papeleta").get_data(as_text=True)
    vote(client, vr, [(f"d{vr.districts[1].id}-p", str(vr.projects["Capacitación digital"].id))])
    db.session.expire_all()
    assert db.session.scalar(select(Participation.self_declared)) is True


def test_a_voter_taken_off_the_census_after_checking_in_cannot_vote(
    voting_round: Any, client: Any, db: Any
) -> None:
    """A voter session lasts hours; the municipality may correct the census meanwhile. The
    ballot is judged against the census as it is when it arrives."""
    vr = voting_round(method="approval", min_selections=1, max_selections=2)
    resident = vr.residents[0]  # Cerro Alegre
    check_in(client, vr, resident)
    assert client.get(f"{vr.base}/papeleta").status_code == 200
    add_census(db, vr.round, vr.residents[1:])  # a corrected census, without them

    techado = vr.projects["Techado feria Cerro Alegre"].id
    sent = vote(client, vr, [(f"d{vr.districts[0].id}-p", str(techado))])
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/votar")
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "actualizó el padrón" in page
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0
    assert db.session.scalar(select(func.count()).select_from(Participation)) == 0
    # the voter session is over: the ballot page asks for the check again, which now fails
    assert client.get(f"{vr.base}/papeleta").headers["Location"].endswith("/votar")
    again = check_in(client, vr, resident)
    assert again.status_code == 200 and "No pudimos verificar" in again.get_data(as_text=True)


def test_a_voter_moved_to_another_district_votes_on_that_districts_ballot(
    voting_round: Any, client: Any, db: Any
) -> None:
    vr = voting_round(method="approval", min_selections=1, max_selections=2)
    resident = vr.residents[0]  # Cerro Alegre
    check_in(client, vr, resident)
    vote(client, vr, [(f"d{vr.districts[0].id}-p", str(vr.projects["Taller de oficios"].id))])
    moved = Resident(resident.rut, resident.birth, vr.districts[1])
    add_census(db, vr.round, [moved, *vr.residents[1:]])

    # changing the Cerro Alegre ballot is refused, and the first one stays as it was
    techado = vr.projects["Techado feria Cerro Alegre"].id
    sent = vote(client, vr, [(f"d{vr.districts[0].id}-p", str(techado))])
    assert sent.headers["Location"].endswith("/votar")
    db.session.expire_all()
    choices = db.session.scalars(select(BallotChoice.proposal_id)).all()
    assert choices == [vr.projects["Taller de oficios"].id]

    check_in(client, vr, resident)
    page = client.get(f"{vr.base}/papeleta").get_data(as_text=True)
    assert "Feria costera Playa Ancha" in page and "Techado feria Cerro Alegre" not in page
    feria = vr.projects["Feria costera Playa Ancha"].id
    assert vote(client, vr, [(f"d{vr.districts[1].id}-p", str(feria))]).status_code == 302
    db.session.expire_all()
    ballot = db.session.scalars(select(Ballot)).one()
    assert ballot.district_id == vr.districts[1].id
    assert [c.proposal_id for c in ballot.choices] == [feria]


def test_a_declared_voter_now_in_the_census_checks_against_it(
    voting_round: Any, client: Any, db: Any
) -> None:
    vr = voting_round(eligibility="census-or-declared")
    newcomer = Resident("22.222.222-2", date(1990, 2, 2), vr.districts[0])
    data = {
        "csrf_token": csrf_token(client, f"{vr.base}/declarar"),
        "rut": newcomer.rut,
        "birth_date": "1990-02-02",
        "district": str(vr.districts[1].id),
        "sworn": "y",
    }
    assert client.post(f"{vr.base}/declarar", data=data).status_code == 302
    add_census(db, vr.round, [*vr.residents, newcomer])  # the census now has them, elsewhere
    feria = vr.projects["Feria costera Playa Ancha"].id
    sent = vote(client, vr, [(f"d{vr.districts[1].id}-p", str(feria))])
    assert sent.headers["Location"].endswith("/votar")
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Participation)) == 0
    check_in(client, vr, newcomer)
    techado = vr.projects["Techado feria Cerro Alegre"].id
    assert vote(client, vr, [(f"d{vr.districts[0].id}-p", str(techado))]).status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(Participation.self_declared)) is False


def test_declaration_is_not_offered_in_census_only_rounds(voting_round: Any, client: Any) -> None:
    vr = voting_round()
    assert client.get(f"{vr.base}/declarar").status_code == 404


def test_an_account_holder_links_their_rut(voting_round: Any, app: Any, factory: Any) -> None:
    vr = voting_round()
    factory.user("vecina@example.cl")
    client = app.test_client()
    login(client, "vecina@example.cl")
    resident = vr.residents[0]
    client.post(
        f"{vr.base}/votar",
        data={
            "csrf_token": csrf_token(client, f"{vr.base}/votar"),
            "rut": resident.rut,
            "birth_date": resident.birth.isoformat(),
            "link": "y",
        },
    )
    # A new device: signed in, one button, no RUT typed.
    other = app.test_client()
    login(other, "vecina@example.cl")
    page = other.get(f"{vr.base}/votar").get_data(as_text=True)
    assert "Votar con el RUT de mi cuenta" in page
    response = post_form(other, f"{vr.base}/votar/cuenta", token_from=f"{vr.base}/votar")
    assert response.status_code == 302 and response.headers["Location"].endswith("/papeleta")


def test_staff_cannot_read_a_voters_choices_after_publication(
    voting_round: Any, client: Any, db: Any
) -> None:
    """After publication nothing in the database joins a voter to a ballot."""
    from portal.voting.services import publish_results

    vr = voting_round()
    for resident in vr.residents[:6]:
        c = client.application.test_client()
        check_in(c, vr, resident)
        d = resident.district
        project = next(p for p in vr.projects.values() if p.district_id == d.id)
        vote(c, vr, [(f"d{d.id}-p", str(project.id))])
    db.session.expire_all()
    assert db.session.scalar(select(Participation.ballot_id).limit(1)) is not None
    round_ = vr.round
    db.session.execute(text("UPDATE rounds SET results_computed_at = CURRENT_TIMESTAMP"))
    db.session.commit()
    db.session.refresh(round_)
    publish_results(db.session, round_)
    db.session.commit()
    participations = (
        db.session.execute(
            text("SELECT * FROM participations WHERE round_id = :r"), {"r": round_.id}
        )
        .mappings()
        .all()
    )
    ballots = (
        db.session.execute(text("SELECT * FROM ballots WHERE round_id = :r"), {"r": round_.id})
        .mappings()
        .all()
    )
    assert len(participations) == len(ballots) == 6
    assert all(p["ballot_id"] is None and p["voted_at"] is None for p in participations)
    assert all(b["cast_at"] is None for b in ballots)
    # No column that could join the two tables is left: no shared id, time or voter column.
    ballot_columns = set(ballots[0].keys())
    assert not ballot_columns & {"voter_hash", "participation_id", "voted_at"}
    # Ballot ids are random, so their order says nothing about the order of voting.
    ids = [b["id"] for b in ballots]
    assert max(ids) > 10**9
    # Participation ids are random too, so neither side keeps the order of voting...
    assert max(p["id"] for p in participations) > 10**9
    # ...and on SQLite no hidden rowid of the choices does either.
    if db.engine.dialect.name == "sqlite":
        with pytest.raises(Exception, match="rowid"):
            db.session.execute(text("SELECT rowid FROM ballot_choices")).all()
        db.session.rollback()
    # Six voters in two districts: every age band is a group under five, so none is left.
    assert all(b["age_band"] is None for b in ballots)
    assert any(p["age_band"] for p in participations)  # turnout by age keeps it


def test_odd_digits_in_the_declaration_are_a_message_not_an_error(
    voting_round: Any, client: Any
) -> None:
    vr = voting_round(eligibility="census-or-declared")
    response = client.post(
        f"{vr.base}/declarar",
        data={
            "csrf_token": csrf_token(client, f"{vr.base}/declarar"),
            "rut": "22.222.222-2",
            "birth_date": "1990-02-02",
            "district": "²",
            "sworn": "y",
        },
    )
    assert response.status_code == 200
    assert "Elige tu sector" in response.get_data(as_text=True)
