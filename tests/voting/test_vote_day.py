"""Vote day: brute force from one address, closing the count while ballots arrive."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from portal.budgeting.models import Ballot, BallotChoice, Participation
from tests.conftest import csrf_token


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"ELIGIBILITY_IP_RATE_LIMIT": "5 per 15 minutes"}


def test_eligibility_guesses_from_one_address_are_limited_across_sessions_and_ruts(
    voting_round: Any, app: Any
) -> None:
    """A fresh browser and a different RUT each time: the per-address limit still holds."""
    vr = voting_round()
    statuses = []
    for i in range(7):
        client = app.test_client()
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
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
    # From another address the right answer still gets through.
    other = app.test_client()
    resident = vr.residents[10]
    response = other.post(
        f"{vr.base}/votar",
        data={
            "csrf_token": csrf_token(other, f"{vr.base}/votar"),
            "rut": resident.rut,
            "birth_date": resident.birth.isoformat(),
        },
        environ_base={"REMOTE_ADDR": "127.0.0.9"},
    )
    assert response.status_code == 302


def test_counting_is_atomic_with_ballots_in_flight(voting_round: Any, app: Any, db: Any) -> None:
    """Paper ballots arrive while staff count: each is counted, or refused as closed."""
    from datetime import timedelta

    from portal.budgeting.models import Round
    from portal.database import utcnow
    from portal.voting.ballots import Section
    from portal.voting.models import ListResult
    from portal.voting.services import Voter, VoteRefused, cast_ballot, compute_results

    vr = voting_round(method="approval", min_selections=1, max_selections=1, districts=False)
    round_id = vr.round.id
    project_id = next(iter(vr.projects.values())).id
    round_ = db.session.get(Round, round_id)
    round_.results_start = utcnow() - timedelta(minutes=1)  # voting closed; the count is next
    db.session.commit()
    voters = 16
    outcomes: list[str] = []

    def cast(i: int) -> None:
        with app.app_context():
            from portal.extensions import db as database

            r = database.session.get(Round, round_id)
            voter = Voter(round_id, f"hash-{i:03d}", None, "30-44")
            try:
                cast_ballot(
                    database.session,
                    r,
                    voter,
                    {"comuna": Section({project_id: 1})},
                    channel="paper",
                )
                outcomes.append("counted")
            except VoteRefused as refused:
                outcomes.append(refused.code)
            database.session.remove()

    def count() -> None:
        with app.app_context():
            from portal.extensions import db as database

            for _attempt in range(20):
                try:
                    database.session.rollback()
                    compute_results(database.session, database.session.get(Round, round_id))
                    database.session.commit()
                    break
                except OperationalError:  # SQLite: a ballot committed since this began
                    database.session.rollback()
            database.session.remove()

    barrier = threading.Barrier(voters + 1)

    def run(target: Any, *args: Any) -> None:
        barrier.wait()
        target(*args)

    threads = [threading.Thread(target=run, args=(cast, i)) for i in range(voters)]
    threads.insert(voters // 2, threading.Thread(target=run, args=(count,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.session.expire_all()
    assert set(outcomes) <= {"counted", "closed"}, outcomes
    assert len(outcomes) == voters
    counted = outcomes.count("counted")
    ballots = db.session.scalar(select(func.count()).select_from(Ballot))
    participations = db.session.scalar(select(func.count()).select_from(Participation))
    result = db.session.scalar(select(ListResult).where(ListResult.round_id == round_id))
    assert result is not None, "the count never ran"
    assert ballots == participations == counted
    assert result.voters == counted  # no confirmed ballot escaped the count


def test_a_changed_ballot_waiting_for_a_count_does_not_deadlock_it(
    voting_round: Any, app: Any, db: Any
) -> None:
    """A count locks the round, then rewrites every participation (seal_ballots). A voter who
    changes their ballot meanwhile must wait for the round before locking their participation:
    the other way round the two wait for each other, and PostgreSQL aborts the count once it
    has waited longer than deadlock_timeout (1 s). SQLite's single writer cannot interleave."""
    import time

    from portal.budgeting.models import Round
    from portal.voting.ballots import Section
    from portal.voting.services import Voter, cast_ballot, lock_round

    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    vr = voting_round(method="approval", min_selections=1, max_selections=1, districts=False)
    round_id = vr.round.id
    first, second = (p.id for p in list(vr.projects.values())[:2])
    voter = Voter(round_id, "hash-changes-her-mind", None, "30-44", self_declared=True)
    cast_ballot(db.session, db.session.get(Round, round_id), voter, {"comuna": Section({first: 1})})
    db.session.remove()
    changed: list[str] = []

    def change() -> None:
        with app.app_context():
            from portal.extensions import db as database

            r = database.session.get(Round, round_id)
            database.session.rollback()
            cast = cast_ballot(database.session, r, voter, {"comuna": Section({second: 1})})
            changed.append(cast.replaced or "")
            database.session.remove()

    with app.app_context():
        from portal.extensions import db as database

        counting = database.session
        lock_round(counting, round_id)  # FOR UPDATE, as compute_results takes it
        ballot = threading.Thread(target=change)
        ballot.start()
        time.sleep(1.5)  # the ballot is waiting, past its own deadlock check
        # what seal_ballots does to the voter's participation
        counting.execute(
            Participation.__table__.update()
            .where(Participation.round_id == round_id)
            .values(voted_at=None)
        )
        counting.commit()
        counting.remove()
    ballot.join(timeout=30)
    assert changed == ["online"]
    db.session.expire_all()
    chosen = db.session.scalars(select(BallotChoice.proposal_id)).all()
    assert chosen == [second]
    assert db.session.scalar(select(func.count()).select_from(Participation)) == 1


def test_ballots_go_on_while_a_census_upload_is_being_stored(
    voting_round: Any, app: Any, db: Any
) -> None:
    """Storing a large census takes seconds (300,000 rows: about 30 s on PostgreSQL); its round
    lock keeps a second upload and a count waiting, but must not hold up the ballots."""
    from portal.budgeting.census import CensusRow, replace_census
    from portal.budgeting.models import Round
    from portal.voting.ballots import Section
    from portal.voting.services import Voter, cast_ballot

    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's single writer serializes every write")
    vr = voting_round(method="approval", min_selections=1, max_selections=1, districts=False)
    round_id = vr.round.id
    project = next(iter(vr.projects.values())).id
    db.session.remove()
    done = threading.Event()

    def vote() -> None:
        with app.app_context():
            from portal.extensions import db as database

            r = database.session.get(Round, round_id)
            database.session.rollback()
            voter = Voter(round_id, "hash-votes-during-upload", None, "30-44", self_declared=True)
            cast_ballot(database.session, r, voter, {"comuna": Section({project: 1})})
            database.session.remove()
            done.set()

    with app.app_context():
        from portal.extensions import db as database

        uploading = database.session
        row = CensusRow("0" * 64, None, None, None)
        replace_census(uploading, uploading.get(Round, round_id), [row])  # not committed yet
        ballot = threading.Thread(target=vote)
        ballot.start()
        went_through = done.wait(timeout=10)
        uploading.rollback()
        uploading.remove()
    ballot.join(timeout=30)
    assert went_through, "the ballot waited for the census upload"
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Participation)) == 1


@pytest.mark.parametrize(
    ("lang", "text"), [("es_CL", "Servicio no disponible"), ("en", "Service unavailable")]
)
def test_a_lost_database_is_a_translated_503(app: Any, client: Any, lang: str, text: str) -> None:
    from sqlalchemy.exc import DisconnectionError

    @app.route("/_caida")
    def down() -> str:
        raise DisconnectionError("server closed the connection")

    client.set_cookie("lang", lang)
    response = client.get("/_caida")
    assert response.status_code == 503
    assert text in response.get_data(as_text=True)


def test_a_connection_lost_after_the_page_is_answered_is_not_a_500(
    app: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database restart can kill an idle connection: the closing rollback fails, not the page."""
    from sqlalchemy.orm import Session

    from portal.extensions import db

    original = Session.close
    failures = []

    def close(self: Session) -> None:
        if not failures:
            failures.append(1)
            raise OperationalError("ROLLBACK", {}, Exception("terminating connection"))
        original(self)

    @app.route("/_tarde")
    def late() -> str:
        db.session.execute(select(1))
        return "ok"

    monkeypatch.setattr(Session, "close", close)
    response = client.get("/_tarde")
    assert failures and response.status_code == 200
    assert client.get("/salud").status_code == 200


def test_changes_left_in_the_session_never_commit_with_a_ballot(voting_round: Any, db: Any) -> None:
    """cast_ballot commits the ballot, and only the ballot, whatever the request left behind."""
    from portal.budgeting.models import Round
    from portal.voting.ballots import Section
    from portal.voting.services import Voter, cast_ballot

    vr = voting_round(method="approval", min_selections=1, max_selections=1, districts=False)
    project_id = next(iter(vr.projects.values())).id
    round_ = db.session.get(Round, vr.round.id)
    title = round_.title
    before = db.session.scalar(select(func.count()).select_from(Ballot))
    round_.title = "changed in memory, never meant to be saved"
    cast = cast_ballot(
        db.session,
        round_,
        Voter(round_.id, "hash-pending", None, "30-44", self_declared=True),
        {"comuna": Section({project_id: 1})},
    )
    db.session.expire_all()
    assert db.session.get(Round, vr.round.id).title == title
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == before + 1
    assert db.session.scalar(select(Ballot.id).where(Ballot.receipt_code == cast.receipt))


@pytest.mark.parametrize("skew_minutes", [-10, 10])
def test_the_database_clock_closes_voting_for_every_instance(
    voting_round: Any, client: Any, db: Any, monkeypatch: Any, skew_minutes: int
) -> None:
    """Two instances whose clocks differ must close voting at the same instant: the pages, the
    ballot and the count go by the clock of the PostgreSQL they share, not by the instance's."""
    import sys
    from datetime import timedelta

    import portal.database
    from portal.budgeting.models import Round
    from portal.database import utcnow
    from portal.voting.ballots import Section
    from portal.voting.services import Voter, VoteRefused, cast_ballot, compute_results
    from tests.voting.conftest import check_in, vote

    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs on the one machine whose clock every request reads")
    vr = voting_round(method="approval", min_selections=1, max_selections=1, districts=False)
    project = next(iter(vr.projects.values())).id
    round_ = db.session.get(Round, vr.round.id)
    # Voting closes a minute after now (this instance runs ahead) or closed a minute ago (behind).
    round_.results_start = utcnow() + timedelta(minutes=1 if skew_minutes > 0 else -1)
    db.session.commit()
    skewed = utcnow() + timedelta(minutes=skew_minutes)
    real = portal.database.utcnow
    for module in list(sys.modules.values()):  # this instance's clock, wherever it is read
        if getattr(module, "__name__", "").startswith("portal") and (
            getattr(module, "utcnow", None) is real
        ):
            monkeypatch.setattr(module, "utcnow", lambda: skewed)
    resident = vr.residents[0]
    if skew_minutes < 0:  # this instance thinks voting is still open: it has closed
        page = client.get(f"{vr.base}/votar").get_data(as_text=True)
        assert "La votación no está abierta" in page
        assert check_in(client, vr, resident).status_code == 200  # the closed page again
        voter = Voter(round_.id, "hash-at-closing-time", None, "30-44", self_declared=True)
        with pytest.raises(VoteRefused) as refused:
            cast_ballot(db.session, round_, voter, {"comuna": Section({project: 1})})
        assert refused.value.code == "closed"
        assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0
    else:  # this instance thinks voting has closed: it is still open
        assert check_in(client, vr, resident).status_code == 302
        assert client.get(f"{vr.base}/papeleta").status_code == 200
        sent = vote(client, vr, [("comuna-p", str(project))])
        assert sent.status_code == 302 and sent.headers["Location"].endswith("/voto-registrado")
        # Stamped by the database's clock too, not by this instance's (10 minutes ahead).
        changed = vote(client, vr, [("comuna-p", str(project))])
        assert changed.status_code == 302
        database_time = db.session.scalar(select(func.clock_timestamp()))
        stamps = [
            db.session.scalar(select(Ballot.cast_at)),
            db.session.scalar(select(Participation.voted_at)),
        ]
        for stamp in stamps:
            assert abs(stamp - database_time) < timedelta(minutes=1), (stamp, database_time)
        with pytest.raises(VoteRefused) as refused:
            compute_results(db.session, db.session.get(Round, vr.round.id))
        assert refused.value.code == "voting-not-closed"
        db.session.rollback()
        assert db.session.get(Round, vr.round.id).results_computed_at is None
        assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1


def test_each_process_reads_the_database_clock_now_and_then_and_carries_it_forward(
    db: Any, monkeypatch: Any
) -> None:
    """The vote-day pages go by the database's clock without a round trip each: it is read
    every few seconds and carried forward by the monotonic clock, whatever the wall clock says."""
    from datetime import timedelta

    import portal.database
    from portal.database import CLOCK_READ_EVERY, shared_now

    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite goes by this machine's clock")
    ticks = {"now": 1000.0}
    monkeypatch.setattr(portal.database, "monotonic", lambda: ticks["now"])
    monkeypatch.setattr(portal.database, "utcnow", lambda: None)  # never this machine's wall clock
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(args[2])

    from sqlalchemy import event

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        first = shared_now(db.session)
        assert len(seen) == 1, "the first reckoning reads the clock"
        database = db.session.scalar(select(func.clock_timestamp()))
        assert abs(database - first) < timedelta(seconds=5)
        seen.clear()
        ticks["now"] += CLOCK_READ_EVERY / 2
        carried = shared_now(db.session)
        assert seen == [], "within a few seconds, no round trip"
        assert carried - first == timedelta(seconds=CLOCK_READ_EVERY / 2)
        ticks["now"] += CLOCK_READ_EVERY
        shared_now(db.session)
        assert len(seen) == 1, "then it is read again"
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def drop_every_connection(db: Any) -> None:
    """Do what a PostgreSQL restart does to the portal's pool: end every connection to the
    test database but one opened for the purpose (the test's own goes back to the pool first,
    to die there too)."""
    from sqlalchemy import create_engine, text

    db.session.remove()
    killer = create_engine(db.engine.url.render_as_string(hide_password=False))
    with killer.begin() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    killer.dispose()


@pytest.mark.parametrize(
    "app_config",
    [{}, {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True}}],
    ids=["default", "pre-ping"],
)
def test_connections_the_database_dropped_cost_one_503_at_most_then_it_recovers(
    app: Any, db: Any, voting_round: Any, app_config: dict[str, Any]
) -> None:
    """After a database restart every pooled connection is dead. Without the pre-ping (the
    default) the first request that meets one gets the translated 503 page and the pool renews
    every older connection; with it, the request is spared. No restart of the portal either way."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL restart")
    pre_ping = bool(app_config)
    vr = voting_round()
    clients = [app.test_client() for _ in range(3)]
    for client in clients:
        assert client.get(f"{vr.base}/propuestas").status_code == 200
    drop_every_connection(db)
    answers = [client.get(f"{vr.base}/propuestas") for client in clients]
    failed = [a for a in answers if a.status_code != 200]
    assert len(failed) == (0 if pre_ping else 1), [a.status_code for a in answers]
    for answer in failed:
        assert answer.status_code == 503
        assert "Servicio no disponible" in answer.get_data(as_text=True)
    assert all(c.get(f"{vr.base}/propuestas").status_code == 200 for c in clients)


def test_an_error_page_that_meets_a_dropped_connection_is_still_the_page(
    app: Any, db: Any, factory: Any
) -> None:
    """The error page's layout asks who is signed in: after a restart that can be the request's
    first query, on a dead connection. It tries again on a fresh one instead of failing."""
    from tests.conftest import login

    if db.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL restart")
    factory.user("vecina@example.cl")
    resident = app.test_client()
    login(resident, "vecina@example.cl")
    assert resident.get("/no/existe/esta/pagina").status_code == 404
    drop_every_connection(db)
    missing = resident.get("/no/existe/esta/pagina")
    assert missing.status_code == 404
    page = missing.get_data(as_text=True)
    assert "Página no encontrada" in page and "Mi cuenta" in page


def test_an_error_page_without_the_database_says_the_service_is_unavailable(
    app: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the database stays out of reach, the error page is the one that asks it nothing."""
    import portal.errors

    original = portal.errors.render_template

    def unreachable(name: str, **context: Any) -> str:
        if name == "errors/error.html":
            raise OperationalError("SELECT users", {}, Exception("connection refused"))
        return original(name, **context)

    monkeypatch.setattr(portal.errors, "render_template", unreachable)
    missing = client.get("/no/existe/esta/pagina")
    assert missing.status_code == 503
    page = missing.get_data(as_text=True)
    assert "Servicio no disponible" in page and '<html lang="es-CL">' in page
