"""The round's page starts the eligibility check, and is kept a few seconds for anonymous
visitors: served again without a query, each visitor with their own CSRF token, never a page
made for someone else, never past a change or the next phase."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select

from portal import pagecache
from portal.budgeting.models import Ballot
from portal.database import utcnow
from tests.conftest import CSRF_RE, login
from tests.voting.conftest import vote

FORM_RE = re.compile(r'<form method="post" action="([^"]+/votar)"')


@contextmanager
def statements(app: Any) -> Iterator[list[str]]:
    """Collect the SQL statements run inside the block."""
    from portal.extensions import db

    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(args[2])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def token_of(page: str) -> str:
    match = CSRF_RE.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def post_check(client: Any, vr: Any, page: str, resident: Any) -> Any:
    """Send the eligibility form of ``page`` (its token) for ``resident``."""
    return client.post(
        f"{vr.base}/votar",
        data={
            "csrf_token": token_of(page),
            "rut": resident.rut,
            "birth_date": resident.birth.isoformat(),
        },
    )


def check_from_round_page(client: Any, vr: Any, resident: Any) -> Any:
    """Read the round's page, then send its eligibility form as a browser would."""
    page = client.get(vr.base).get_data(as_text=True)
    action = FORM_RE.search(page)
    assert action and action.group(1) == f"{vr.base}/votar"
    return client.post(
        action.group(1),
        data={
            "csrf_token": token_of(page),
            "rut": resident.rut,
            "birth_date": resident.birth.isoformat(),
        },
    )


def test_the_round_page_starts_the_eligibility_check(voting_round: Any, client: Any) -> None:
    vr = voting_round(method="approval", min_selections=1, max_selections=2)
    page = client.get(vr.base).get_data(as_text=True)
    assert 'id="rut"' in page and 'id="birth_date"' in page
    assert "Seguir a la papeleta" in page
    checked = check_from_round_page(client, vr, vr.residents[0])
    assert checked.status_code == 302 and checked.headers["Location"].endswith("/papeleta")
    # Back on the round's page, the voter is sent on to their ballot, not asked again.
    back = client.get(vr.base).get_data(as_text=True)
    assert "Seguir a tu papeleta" in back and 'id="rut"' not in back


def test_a_wrong_answer_from_the_round_page_gets_the_check_page_with_the_message(
    voting_round: Any, client: Any
) -> None:
    vr = voting_round()
    resident = vr.residents[0]
    page = client.get(vr.base).get_data(as_text=True)
    answer = client.post(
        f"{vr.base}/votar",
        data={"csrf_token": token_of(page), "rut": resident.rut, "birth_date": "1901-01-01"},
    )
    assert answer.status_code == 200
    assert "No pudimos verificar" in answer.get_data(as_text=True)


def test_anonymous_pages_are_served_again_without_a_query_each_with_its_own_token(
    voting_round: Any, app: Any
) -> None:
    vr = voting_round(method="approval", min_selections=1, max_selections=2)
    first, second = app.test_client(), app.test_client()
    for path in ("/", vr.base):
        with statements(app) as made:
            one = first.get(path).get_data(as_text=True)
        assert made, f"{path}: the first visit is made from the database"
        with statements(app) as kept:
            other = second.get(path).get_data(as_text=True)
        assert kept == [], f"{path}: the second visit is served as kept"
        assert token_of(one) != token_of(other)
        assert CSRF_RE.sub("", one) == CSRF_RE.sub("", other)
        assert pagecache.PLACEHOLDER not in other
    # The second visitor's token is theirs: their check goes through.
    checked = check_from_round_page(second, vr, vr.residents[1])
    assert checked.status_code == 302 and checked.headers["Location"].endswith("/papeleta")
    # And a token copied from someone else's page is refused.
    stolen = token_of(first.get(vr.base).get_data(as_text=True))
    third = app.test_client()
    third.get(vr.base)
    refused = third.post(
        f"{vr.base}/votar",
        data={"csrf_token": stolen, "rut": vr.residents[2].rut, "birth_date": "1962-03-03"},
    )
    assert refused.status_code == 400


def test_a_change_shows_at_once_and_a_ballot_changes_nothing(
    voting_round: Any, app: Any, db: Any
) -> None:
    vr = voting_round(method="approval", min_selections=1, max_selections=2)
    visitor = app.test_client()
    assert "Presupuesto participativo 2027" in visitor.get(vr.base).get_data(as_text=True)
    assert "Presupuesto participativo 2027" in visitor.get("/").get_data(as_text=True)
    vr.round.title = "Presupuesto participativo de los cerros"
    db.session.commit()
    assert "Presupuesto participativo de los cerros" in visitor.get(vr.base).get_data(as_text=True)
    assert "Presupuesto participativo de los cerros" in visitor.get("/").get_data(as_text=True)

    voter = app.test_client()
    check_from_round_page(voter, vr, vr.residents[0])
    project = vr.projects["Techado feria Cerro Alegre"].id
    sent = vote(voter, vr, [(f"d{vr.districts[0].id}-p", str(project))])
    assert sent.status_code == 302
    assert db.session.scalar(select(Ballot.id).where(Ballot.round_id == vr.round.id))
    with statements(app) as made:
        app.test_client().get(vr.base)
    assert made == [], "a ballot cast leaves the kept pages as they are"


def test_pages_made_for_one_visitor_are_neither_kept_nor_served_to_them(
    voting_round: Any, app: Any, factory: Any
) -> None:
    vr = voting_round()
    anonymous = app.test_client()
    assert 'id="rut"' in anonymous.get(vr.base).get_data(as_text=True)  # now kept

    resident = app.test_client()
    factory.user("vecina@example.cl")
    login(resident, "vecina@example.cl")
    resident.get("/")  # the welcome message is shown
    signed_in = resident.get(vr.base).get_data(as_text=True)
    assert "Mi cuenta" in signed_in and 'id="rut"' not in signed_in
    assert f'href="{vr.base}/votar"' in signed_in  # the check page offers the account's RUT

    voter = app.test_client()
    check_from_round_page(voter, vr, vr.residents[0])
    waiting = voter.get(vr.base).get_data(as_text=True)
    assert "Seguir a tu papeleta" in waiting
    # Leaving the ballot flashes a message on the round's page: that page is theirs only.
    leave = voter.post(f"{vr.base}/salir", data={"csrf_token": token_of(waiting)})
    assert leave.status_code == 302
    assert "Saliste de la papeleta" in voter.get(vr.base).get_data(as_text=True)

    again = app.test_client().get(vr.base).get_data(as_text=True)
    for private in ("Mi cuenta", "Seguir a tu papeleta", "Saliste de la papeleta"):
        assert private not in again
    assert 'id="rut"' in again


def test_each_language_and_query_gets_its_own_page(voting_round: Any, app: Any) -> None:
    vr = voting_round()
    spanish = app.test_client()
    assert "Seguir a la papeleta" in spanish.get(vr.base).get_data(as_text=True)
    english = app.test_client()
    english.set_cookie("lang", "en")
    page = english.get(vr.base).get_data(as_text=True)
    assert "Continue to the ballot" in page and "Seguir a la papeleta" not in page
    with statements(app) as made:
        queried = app.test_client().get(vr.base + "?x=%3Cb%3E").get_data(as_text=True)
    assert made, "a page with a query string is made for that request"
    assert "<b>" not in queried


def test_one_copy_per_page_whatever_the_spelling_of_its_address(
    voting_round: Any, app: Any
) -> None:
    """/rondas/01 shows round 1 too: made each time, never kept (no memory to fill)."""
    vr = voting_round()
    app.test_client().get(vr.base)
    slug, round_id = vr.municipality.slug, vr.round.id
    for zeros in range(1, 6):
        other = f"/{slug}/rondas/{'0' * zeros}{round_id}"
        with statements(app) as made:
            page = app.test_client().get(other)
        assert page.status_code == 200 and made
    assert list(app.extensions["public_pages"]) == [(vr.base, "es_CL")]


def test_a_kept_page_expires_and_never_outlives_its_phase(
    voting_round: Any, app: Any, db: Any, monkeypatch: Any
) -> None:
    vr = voting_round()
    visitor = app.test_client()
    visitor.get(vr.base)
    seconds = app.config["PUBLIC_PAGE_CACHE_SECONDS"]
    later = time.time() + seconds + 1
    monkeypatch.setattr(pagecache, "clock", lambda: later)
    with statements(app) as made:
        visitor.get(vr.base)
    assert made, "an expired page is made again"
    monkeypatch.undo()

    # Voting closes in a moment: the page kept now says "vote" only until then.
    closes = utcnow() + timedelta(seconds=2)
    vr.round.results_start = closes
    db.session.commit()
    assert 'id="rut"' in visitor.get(vr.base).get_data(as_text=True)
    time.sleep(max(0.0, (closes - utcnow()).total_seconds()) + 0.2)
    closed = visitor.get(vr.base).get_data(as_text=True)
    assert 'id="rut"' not in closed and "Seguir a la papeleta" not in closed


def test_no_page_is_kept_when_the_setting_is_zero(voting_round: Any, app: Any) -> None:
    vr = voting_round()
    app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 0
    app.test_client().get(vr.base)
    with statements(app) as made:
        app.test_client().get(vr.base)
    assert made


def test_the_check_and_the_ballot_read_the_round_with_its_districts_at_once(
    voting_round: Any, app: Any
) -> None:
    """A handful of queries per vote-day page: the districts come with the round."""
    vr = voting_round(method="approval", min_selections=1, max_selections=2)
    voter = app.test_client()
    page = voter.get(vr.base).get_data(as_text=True)
    resident = vr.residents[0]
    with statements(app) as checking:
        post_check(voter, vr, page, resident)
    with statements(app) as showing:
        ballot = voter.get(f"{vr.base}/papeleta").get_data(as_text=True)
    assert "Cerro Alegre" in ballot and "Feria costera Playa Ancha" not in ballot
    project = vr.projects["Techado feria Cerro Alegre"].id
    with statements(app) as casting:
        sent = vote(voter, vr, [(f"d{vr.districts[0].id}-p", str(project))])
    assert sent.status_code == 302
    for name, seen in (("check", checking), ("ballot", showing), ("cast", casting)):
        alone = [s for s in seen if s.lstrip().upper().startswith("SELECT DISTRICTS.")]
        assert alone == [], f"{name}: districts read apart from the round"
    assert len(checking) <= 3 and len(showing) <= 5, (checking, showing)


def test_the_ballot_projects_are_read_once_for_every_voter_until_a_change(
    voting_round: Any, app: Any, db: Any
) -> None:
    """Fixed once voting opens, the ballot's projects are kept like the public pages."""
    vr = voting_round(method="approval", min_selections=1, max_selections=2)
    first, second = app.test_client(), app.test_client()
    check_from_round_page(first, vr, vr.residents[0])
    assert "Taller de oficios" in first.get(f"{vr.base}/papeleta").get_data(as_text=True)
    check_from_round_page(second, vr, vr.residents[2])  # Cerro Alegre too
    with statements(app) as seen:
        page = second.get(f"{vr.base}/papeleta").get_data(as_text=True)
    assert "Techado feria Cerro Alegre" in page and "Feria costera Playa Ancha" not in page
    assert [s for s in seen if "FROM proposals" in s] == []
    taller = vr.projects["Taller de oficios"]
    taller.title = "Taller de oficios del puerto"
    db.session.commit()
    assert "Taller de oficios del puerto" in second.get(f"{vr.base}/papeleta").get_data(
        as_text=True
    )
    # A kept list still decides what may be chosen: another district's project is refused.
    playa = vr.projects["Feria costera Playa Ancha"].id
    refused = vote(second, vr, [(f"d{vr.districts[0].id}-p", str(playa))])
    assert refused.status_code == 422
    sent = vote(second, vr, [(f"d{vr.districts[0].id}-p", str(taller.id))])
    assert sent.status_code == 302


def test_the_vote_pages_read_the_round_once_per_process_until_a_change(
    voting_round: Any, app: Any, db: Any, monkeypatch: Any
) -> None:
    """The check, the ballot and the confirmation find the round without a query once a
    visitor of this process has; a change committed here shows at once."""
    import portal.database

    monkeypatch.setattr(portal.database, "CLOCK_READ_EVERY", 3600.0)  # no reading midway
    vr = voting_round(method="approval", min_selections=1, max_selections=2)
    app.test_client().get(f"{vr.base}/votar")  # the round is now kept
    voter = app.test_client()
    page = voter.get(vr.base).get_data(as_text=True)
    resident = vr.residents[0]
    with statements(app) as checking:
        checked = post_check(voter, vr, page, resident)
    assert checked.status_code == 302
    project = vr.projects["Techado feria Cerro Alegre"].id
    with statements(app) as casting:
        sent = vote(voter, vr, [(f"d{vr.districts[0].id}-p", str(project))])
    assert sent.status_code == 302
    with statements(app) as confirming:
        shown = voter.get(f"{vr.base}/voto-registrado").get_data(as_text=True)
    assert "Presupuesto participativo 2027" in shown
    assert confirming == [], "the confirmation needs no query"
    # (The cast reads the round under its lock, alone: that read decides, see cast_ballot.)
    for name, seen in (("check", checking), ("cast", casting)):
        found = [s for s in seen if "FROM rounds JOIN municipalities" in s]
        assert found == [], f"{name}: the round looked up again"

    vr.round.title = "Presupuesto participativo de los cerros"
    db.session.commit()
    again = app.test_client().get(f"{vr.base}/votar").get_data(as_text=True)
    assert "Presupuesto participativo de los cerros" in again


def test_another_process_sees_a_change_when_its_copies_expire(
    voting_round: Any, app: Any, db: Any, monkeypatch: Any
) -> None:
    """A change made elsewhere (another worker, another instance) reaches no event here: the
    kept round shows it once it expires, and a page made from the kept round expires with it."""
    from sqlalchemy import update

    from portal.budgeting.models import Round

    vr = voting_round()
    start = time.time()
    now = {"t": start}
    monkeypatch.setattr(pagecache, "clock", lambda: now["t"])
    seconds = app.config["PUBLIC_PAGE_CACHE_SECONDS"]
    visitor = app.test_client()
    assert "Presupuesto participativo 2027" in visitor.get(f"{vr.base}/votar").get_data(
        as_text=True
    )
    now["t"] = start + seconds - 1  # the round's page is made from the round kept at start
    assert "Presupuesto participativo 2027" in visitor.get(vr.base).get_data(as_text=True)
    with db.engine.begin() as elsewhere:
        elsewhere.execute(
            update(Round).where(Round.id == vr.round.id).values(title="Presupuesto de los cerros")
        )
    assert "Presupuesto participativo 2027" in visitor.get(f"{vr.base}/votar").get_data(
        as_text=True
    ), "kept until it expires"
    # Pages that are not the vote's own read the round afresh (its proposals, its results).
    listed = visitor.get(f"{vr.base}/propuestas").get_data(as_text=True)
    assert "Presupuesto de los cerros" in listed
    now["t"] = start + seconds + 0.5
    for path in (f"{vr.base}/votar", vr.base):
        assert "Presupuesto de los cerros" in visitor.get(path).get_data(as_text=True), path


def test_a_kept_round_never_overwrites_what_the_request_holds_already(
    voting_round: Any, app: Any, db: Any
) -> None:
    """A request that holds the round's municipality (a staff member editing it) reads the
    round instead of taking the kept copy, whose merge would put the kept values over its own."""
    from portal.budgeting.views import public_round_of

    vr = voting_round(districts=False)
    app.test_client().get(f"{vr.base}/votar")  # the round is now kept
    db.session.expunge(vr.round)  # this session holds the municipality only
    municipality = vr.municipality
    municipality.name = "Valparaíso, while it is being edited"
    with app.test_request_context(f"{vr.base}/votar"):
        found, round_ = public_round_of(municipality.slug, vr.round.id)
    assert found is municipality and round_.municipality is municipality
    assert municipality.name == "Valparaíso, while it is being edited"
    db.session.rollback()


def test_the_check_and_the_ballot_page_read_outside_a_transaction(
    voting_round: Any, app: Any, db: Any
) -> None:
    """On PostgreSQL a page that only reads spares the BEGIN and ROLLBACK round trips (its
    statements run in autocommit); the ballot itself is written in one transaction."""
    import pytest

    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no round trips to spare")
    vr = voting_round(method="approval", min_selections=1, max_selections=2)
    project = vr.projects["Techado feria Cerro Alegre"].id
    district = vr.districts[0].id
    resident = vr.residents[0]
    voter = app.test_client()
    page = voter.get(vr.base).get_data(as_text=True)
    seen: dict[str, list[tuple[str, bool]]] = {}
    step = {"name": ""}

    def note(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        autocommit = conn.connection.dbapi_connection.autocommit
        seen.setdefault(step["name"], []).append((statement.split(None, 1)[0], autocommit))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        step["name"] = "check"
        checked = post_check(voter, vr, page, resident)
        assert checked.status_code == 302
        step["name"] = "ballot page"
        assert voter.get(f"{vr.base}/papeleta").status_code == 200
        step["name"] = "cast"
        assert vote(voter, vr, [(f"d{district}-p", str(project))]).status_code == 302
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    for name in ("check", "ballot page"):
        assert seen[name] and all(autocommit for _s, autocommit in seen[name]), seen
    writes = [autocommit for first, autocommit in seen["cast"] if first == "WITH"]
    assert writes and not any(writes), seen


def test_a_request_reads_the_round_it_keeps_on_its_own_connection(
    voting_round: Any, app: Any, db: Any
) -> None:
    """Reading the round to keep it takes no second connection from the pool: with every
    thread of a worker doing so at once, the pool could run dry."""
    vr = voting_round()
    check = f"{vr.base}/votar"
    app.extensions["public_values"] = {}  # nothing kept yet in this process
    connections: list[int] = []

    def note(conn: Any, *_args: Any) -> None:
        connections.append(id(conn.connection.dbapi_connection))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        page = app.test_client().get(check)
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert page.status_code == 200
    assert connections and len(set(connections)) == 1, connections
