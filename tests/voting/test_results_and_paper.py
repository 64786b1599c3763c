"""Paper ballots, counting, publication and exports, through HTTP as staff and residents do."""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from portal.audit.models import AuditEntry
from portal.budgeting.models import Ballot, Participation, Round
from portal.core.cli import pb
from portal.core.pabulib import loads
from portal.core.rules import tally
from portal.database import utcnow
from tests.conftest import csrf_token, login, post_form
from tests.voting.conftest import check_in, vote


def close_voting(db: Any, round_: Any) -> None:
    """Move the round past voting, as its dates would."""
    round_ = db.session.get(Round, round_.id)
    round_.results_start = utcnow() - timedelta(minutes=1)
    db.session.commit()


def staff_client(
    app: Any, factory: Any, municipality: Any, email: str = "camila@valparaiso.cl"
) -> Any:
    factory.user(email, role="municipal_staff", municipality=municipality)
    client = app.test_client()
    login(client, email)
    return client


def cast_many(app: Any, vr: Any, plan: list[tuple[int, list[str]]]) -> None:
    """Let residents (by index) vote for projects (by title) in their district."""
    for index, titles in plan:
        resident = vr.residents[index]
        client = app.test_client()
        assert check_in(client, vr, resident).status_code == 302
        key = f"d{resident.district.id}-p"
        response = vote(client, vr, [(key, str(vr.projects[t].id)) for t in titles])
        assert response.status_code == 302, response.get_data(as_text=True)


def enter_paper(staff: Any, vr: Any, rut: str, fields: list[tuple[str, str]]) -> Any:
    step1 = post_form(
        staff,
        f"{vr.staff_base}/papeletas/ingresar",
        {"rut": rut, "site": ""},
        token_from=f"{vr.staff_base}/papeletas/ingresar",
    )
    assert step1.status_code == 200
    page = step1.get_data(as_text=True)
    token = page.split('name="voter" type="hidden" value="')[1].split('"')[0]
    from werkzeug.datastructures import MultiDict

    data = MultiDict(
        [
            ("csrf_token", csrf_token(staff, f"{vr.staff_base}/papeletas")),
            ("voter", token),
            ("site", ""),
            ("step", "ballot"),
            *fields,
        ]
    )
    return staff.post(f"{vr.staff_base}/papeletas/ingresar", data=data), page


def test_paper_ballots_with_conflicts(voting_round: Any, app: Any, factory: Any, db: Any) -> None:
    vr = voting_round(method="approval", min_selections=1, max_selections=2)
    staff = staff_client(app, factory, vr.municipality)
    assert "Sede vecinal" not in staff.get(f"{vr.staff_base}/papeletas").get_data(as_text=True)
    post_form(
        staff,
        f"{vr.staff_base}/papeletas",
        {"name": "Sede vecinal Cerro Alegre", "address": "Templeman 100"},
        token_from=f"{vr.staff_base}/papeletas",
    )
    assert "Sede vecinal Cerro Alegre" in staff.get(f"{vr.staff_base}/papeletas").get_data(
        as_text=True
    )

    cast_many(app, vr, [(0, ["Techado feria Cerro Alegre"])])  # resident 0 votes online
    d0 = f"d{vr.districts[0].id}-p"
    taller = str(vr.projects["Taller de oficios"].id)

    # Resident 0 brings a paper ballot: the conflict is shown, and the first ballot counts.
    response, step1 = enter_paper(staff, vr, vr.residents[0].rut, [(d0, taller)])
    assert "ya votó en línea" in step1
    assert response.status_code == 302
    assert "cuenta el primer voto" in staff.get(response.headers["Location"]).get_data(as_text=True)

    # Resident 2 opens the ballot online, then votes on paper before sending it.
    r2 = vr.residents[2]
    early = app.test_client()
    check_in(early, vr, r2)
    early_token = csrf_token(early, f"{vr.base}/papeleta")
    # Resident 2 votes on paper; a second paper ballot is refused, and so is voting online.
    response, _ = enter_paper(staff, vr, vr.residents[2].rut, [(d0, taller)])
    assert "Papeleta en papel contada." in staff.get(response.headers["Location"]).get_data(
        as_text=True
    )
    _, step1 = enter_paper(staff, vr, vr.residents[2].rut, [(d0, taller)])
    assert "ya votó en papel" in step1
    online = app.test_client()
    check_in(online, vr, vr.residents[2])
    assert "Votaste en papel" in online.get(f"{vr.base}/papeleta").get_data(as_text=True)
    # the ballot opened before is refused when sent, valid or not (no online ballot: see below)
    mine = next(p for p in vr.projects.values() if p.district_id == r2.district.id)
    for fields in ({f"d{r2.district.id}-p": str(mine.id)}, {}):
        sent = early.post(f"{vr.base}/papeleta", data={"csrf_token": early_token, **fields})
        assert sent.status_code == 200 and "Votaste en papel" in sent.get_data(as_text=True)

    # Invalid choices re-render with a message; unknown RUTs are named.
    response, _ = enter_paper(staff, vr, vr.residents[4].rut, [])
    assert response.status_code == 422
    bad = post_form(
        staff,
        f"{vr.staff_base}/papeletas/ingresar",
        {"rut": "11.111.111-1"},
        token_from=f"{vr.staff_base}/papeletas/ingresar",
    )
    assert "no está en el padrón" in bad.get_data(as_text=True)

    db.session.expire_all()
    channels = dict(
        db.session.execute(select(Ballot.channel, func.count()).group_by(Ballot.channel)).all()
    )
    assert channels == {"online": 1, "paper": 1}
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "paper_ballot.enter")
        )
        == 1
    )


def test_paper_replaces_online_where_the_round_says_so(
    voting_round: Any, app: Any, factory: Any, db: Any
) -> None:
    vr = voting_round(paper_conflict="paper-replaces")
    staff = staff_client(app, factory, vr.municipality)
    cast_many(app, vr, [(0, ["Techado feria Cerro Alegre"])])
    response, _ = enter_paper(
        staff,
        vr,
        vr.residents[0].rut,
        [(f"d{vr.districts[0].id}-p", str(vr.projects["Taller de oficios"].id))],
    )
    assert "reemplaza el voto en línea" in staff.get(response.headers["Location"]).get_data(
        as_text=True
    )
    db.session.expire_all()
    assert db.session.scalar(select(Ballot.channel)) == "paper"
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1


def upload_paper(staff: Any, vr: Any, content: str | bytes) -> Any:
    """Send a paper-ballot CSV file through the staff import form."""
    url = f"{vr.staff_base}/papeletas/importar"
    data = content.encode() if isinstance(content, str) else content
    return staff.post(
        url,
        data={
            "csrf_token": csrf_token(staff, url),
            "file": (io.BytesIO(data), "papeletas.csv"),
            "site": "",
        },
        content_type="multipart/form-data",
    )


def test_paper_import_is_validated_whole(
    voting_round: Any, app: Any, factory: Any, db: Any
) -> None:
    vr = voting_round(method="approval", min_selections=1, max_selections=2)
    staff = staff_client(app, factory, vr.municipality)
    cast_many(app, vr, [(0, ["Techado feria Cerro Alegre"])])
    a, b = vr.projects["Techado feria Cerro Alegre"].id, vr.projects["Taller de oficios"].id
    far = vr.projects["Feria costera Playa Ancha"].id
    r = vr.residents
    bad = (
        "rut;proyectos\n"
        f"{r[2].rut};{a}|{b}\n"  # fine
        f"{r[0].rut};{a}\n"  # voted online: refused
        f"{r[4].rut};{a}|{far}\n"  # another district's project
        "12.345.678-9;1\n"  # bad RUT
        f"{r[2].rut};{a}\n"  # twice in the file
        f"{r[6].rut};x\n"  # not a number
        f"{r[8].rut};{a}|{b}|{vr.projects['Mercado de artesanas'].id}\n"  # too many
    )

    def upload(text: str) -> Any:
        return upload_paper(staff, vr, text)

    page = upload(bad).get_data(as_text=True)
    for line in (3, 4, 5, 6, 7, 8):
        assert f"Línea {line}:" in page
    assert "Línea 2:" not in page
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1  # nothing written

    good = f"rut,proyectos\n{r[2].rut},{a}|{b}\n{r[4].rut},{a}\n"
    response = upload(good)
    assert response.status_code == 302
    db.session.expire_all()
    assert (
        db.session.scalar(select(func.count()).select_from(Ballot).where(Ballot.channel == "paper"))
        == 2
    )


def test_count_publish_and_export_match_the_engine(
    voting_round: Any, app: Any, factory: Any, db: Any, client: Any, tmp_path: Any
) -> None:
    vr = voting_round(
        method="approval", min_selections=1, max_selections=2, allocation_rule="mes-add1"
    )
    plan = [
        (0, ["Techado feria Cerro Alegre"]),
        (2, ["Techado feria Cerro Alegre", "Taller de oficios"]),
        (4, ["Mercado de artesanas", "Taller de oficios"]),
        (6, ["Mercado de artesanas"]),
        (8, ["Techado feria Cerro Alegre"]),
        (1, ["Feria costera Playa Ancha"]),
        (3, ["Capacitación digital"]),
        (5, ["Feria costera Playa Ancha", "Capacitación digital"]),
    ]
    cast_many(app, vr, plan)
    staff = staff_client(app, factory, vr.municipality)
    results_url = f"{vr.staff_base}/resultados"
    early = post_form(staff, results_url, {"action": "compute"}, token_from=results_url)
    assert "se cuentan una vez cerrada" in staff.get(early.headers["Location"]).get_data(
        as_text=True
    )
    assert client.get(f"{vr.base}/resultados").status_code == 404

    close_voting(db, vr.round)
    post_form(staff, results_url, {"action": "compute"}, token_from=results_url)
    preview = staff.get(results_url).get_data(as_text=True)
    assert "Publicar los resultados" in preview
    assert client.get(f"{vr.base}/resultados").status_code == 404  # not before publication
    assert client.get(f"{vr.base}/resultados.csv").status_code == 404

    post_form(staff, results_url, {"action": "publish"}, token_from=results_url)
    page = client.get(f"{vr.base}/resultados")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<svg" in text and "Techado feria Cerro Alegre" in text and "Participación" in text

    db.session.expire_all()
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Participation)
            .where(Participation.ballot_id.is_not(None))
        )
        == 0
    )
    for district in vr.districts:
        exported = client.get(f"{vr.base}/resultados/d{district.id}.pb")
        assert exported.status_code == 200
        instance = loads(exported.get_data(as_text=True))
        assert instance.meta["rule"] == "equalshares/add1"
        assert {"age", "district"} <= set(instance.voter_columns)
        published = [
            p for p, project in instance.projects.items() if project.extra["selected"] == "1"
        ]
        again = tally(instance, "auto")
        assert sorted(again.selected) == sorted(published)
        # The same through the command line anyone can run on the downloaded file.
        path = tmp_path / f"d{district.id}.pb"
        path.write_bytes(exported.get_data())
        cli = CliRunner().invoke(pb, ["tally", str(path), "--rule", "auto", "--json"])
        assert cli.exit_code == 0, cli.output
        assert sorted(json.loads(cli.output)["selected"]) == sorted(published)
        assert published  # something won
    csv_text = client.get(f"{vr.base}/resultados.csv").get_data(as_text=True)
    assert (
        "Techado feria Cerro Alegre" in csv_text.splitlines()[1]
        or "Techado feria Cerro Alegre" in csv_text
    )


def test_publishing_is_refused_twice_and_ballots_stop(
    voting_round: Any, app: Any, factory: Any, db: Any
) -> None:
    vr = voting_round()
    cast_many(app, vr, [(0, ["Taller de oficios"])])
    staff = staff_client(app, factory, vr.municipality)
    close_voting(db, vr.round)
    late = app.test_client()
    check_in(late, vr, vr.residents[2])
    assert "no está abierta" in late.get(f"{vr.base}/papeleta").get_data(as_text=True)
    url = f"{vr.staff_base}/resultados"
    before = staff.get(url).get_data(as_text=True)
    assert "Contar los votos cierra para siempre el ingreso de papeletas" in before
    publish_first = post_form(staff, url, {"action": "publish"}, token_from=url)
    assert "Cuenta los votos antes" in staff.get(publish_first.headers["Location"]).get_data(
        as_text=True
    )
    post_form(staff, url, {"action": "compute"}, token_from=url)
    post_form(staff, url, {"action": "publish"}, token_from=url)
    again = post_form(staff, url, {"action": "compute"}, token_from=url)
    assert "ya están publicados" in staff.get(again.headers["Location"]).get_data(as_text=True)


def test_two_clicks_on_publish_at_once_publish_once(
    voting_round: Any, app: Any, factory: Any, db: Any, monkeypatch: Any
) -> None:
    """Both requests read the round before either writes (made certain by a pause before the
    sealing): the second must wait for the first and then see the round published."""
    import threading
    import time

    import portal.voting.services as services
    from portal.audit.models import AuditEntry
    from portal.budgeting.models import Round

    vr = voting_round()
    cast_many(app, vr, [(0, ["Taller de oficios"])])
    close_voting(db, vr.round)
    round_id = vr.round.id
    services.compute_results(db.session, db.session.get(Round, round_id))
    db.session.commit()
    db.session.remove()
    sealing = services.seal_ballots

    def slow_seal(session: Any, round_: Any) -> None:
        time.sleep(0.4)
        sealing(session, round_)

    monkeypatch.setattr(services, "seal_ballots", slow_seal)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def publish() -> None:
        with app.app_context():
            from portal.extensions import db as database

            r = database.session.get(Round, round_id)
            barrier.wait()
            try:
                services.publish_results(database.session, r)
                database.session.commit()
                outcomes.append("published")
            except services.VoteRefused as refused:
                database.session.rollback()
                outcomes.append(refused.code)
            database.session.remove()

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["already-published", "published"]
    db.session.expire_all()
    entries = db.session.query(AuditEntry).filter_by(action="round.publish_results").count()
    assert entries == 1


@pytest.mark.parametrize("who", ["anonymous", "resident", "other-staff", "regional"])
def test_staff_voting_pages_refuse_others(
    voting_round: Any, app: Any, factory: Any, who: str
) -> None:
    vr = voting_round()
    client = app.test_client()
    if who == "resident":
        factory.user("vecino@example.cl")
        login(client, "vecino@example.cl")
    elif who == "other-staff":
        other = factory.municipality("08101")
        factory.user("staff@concepcion.cl", role="municipal_staff", municipality=other)
        login(client, "staff@concepcion.cl")
    elif who == "regional":
        factory.user("difoi@gore.cl", role="regional_staff", region="05")
        login(client, "difoi@gore.cl")
    for path in ("papeletas", "papeletas/ingresar", "papeletas/importar", "resultados"):
        response = client.get(f"{vr.staff_base}/{path}")
        assert response.status_code in (302, 403, 404), path
        assert "Papeletas" not in response.get_data(as_text=True)


def test_parallel_ballots_of_one_voter_leave_one_ballot(
    voting_round: Any, app: Any, db: Any
) -> None:
    """The same voter sends ballots from several tabs at once: one participation, one ballot."""
    vr = voting_round(method="approval", min_selections=1, max_selections=2)
    resident = vr.residents[0]
    first = app.test_client()
    check_in(first, vr, resident)
    cookie = first.get_cookie("session")
    token = csrf_token(first, f"{vr.base}/papeleta")
    key = f"d{resident.district.id}-p"
    project_ids = [str(p.id) for p in vr.projects.values() if p.district_id == resident.district.id]
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def send(i: int) -> None:
        client = app.test_client()
        client.set_cookie("session", cookie.value, domain=cookie.domain or "localhost")
        barrier.wait()
        response = client.post(
            f"{vr.base}/papeleta",
            data={"csrf_token": token, key: project_ids[i % len(project_ids)]},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [302] * 6
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Participation)) == 1
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1
    participation = db.session.scalar(select(Participation))
    assert participation.ballot_id == db.session.scalar(select(Ballot.id))


def test_a_paper_file_that_is_not_csv_gets_a_message(
    voting_round: Any, app: Any, factory: Any
) -> None:
    vr = voting_round()
    staff = staff_client(app, factory, vr.municipality)
    for content in (b"\xff\xfe\x00garbage", b'rut;proyectos\n"' + b"x" * 200_000 + b'";1\n', b""):
        response = upload_paper(staff, vr, content)
        assert response.status_code == 200
        assert "no se importó" in response.get_data(as_text=True) or "no es" in response.get_data(
            as_text=True
        )


def test_a_busy_database_during_a_paper_import_is_a_message_not_an_error(
    voting_round: Any, app: Any, factory: Any, db: Any, monkeypatch: Any
) -> None:
    """SQLite's writer lock held past its timeout, or a PostgreSQL deadlock between two files:
    the staff member is told to send the file again, and nothing of it is written."""
    from sqlalchemy.exc import OperationalError

    import portal.voting.paper as paper
    import portal.voting.views as views

    vr = voting_round(method="approval", min_selections=1, max_selections=2)
    staff = staff_client(app, factory, vr.municipality)
    a = vr.projects["Techado feria Cerro Alegre"].id
    written = paper.import_paper_ballots

    def busy_after_one(session: Any, round_: Any, lines: Any, site_id: Any) -> int:
        written(session, round_, lines[:1], site_id)  # one ballot in, then the database gives up
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(views, "import_paper_ballots", busy_after_one)
    response = upload_paper(
        staff, vr, f"rut;proyectos\n{vr.residents[2].rut};{a}\n{vr.residents[4].rut};{a}\n"
    )
    assert response.status_code == 200
    assert "no se guardó nada de este archivo" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0


def test_a_paper_token_of_another_round_is_refused(
    voting_round: Any, app: Any, factory: Any, db: Any
) -> None:
    vr = voting_round()
    staff = staff_client(app, factory, vr.municipality)
    step1 = post_form(
        staff,
        f"{vr.staff_base}/papeletas/ingresar",
        {"rut": vr.residents[0].rut, "site": ""},
        token_from=f"{vr.staff_base}/papeletas/ingresar",
    ).get_data(as_text=True)
    token = step1.split('name="voter" type="hidden" value="')[1].split('"')[0]
    other = factory.round(vr.municipality, phase="voting", title="Otra ronda")
    url = f"/gestion/{vr.municipality.slug}/rondas/{other.id}/papeletas/ingresar"
    response = staff.post(
        url,
        data={"csrf_token": csrf_token(staff, url), "voter": token, "step": "ballot", "site": ""},
    )
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0


def test_a_repeated_project_in_a_ranked_line_is_an_error(
    voting_round: Any, app: Any, factory: Any, db: Any
) -> None:
    vr = voting_round(method="ranked", rank_k=3, min_selections=1, max_selections=None)
    staff = staff_client(app, factory, vr.municipality)
    a, b = vr.projects["Techado feria Cerro Alegre"].id, vr.projects["Taller de oficios"].id
    response = upload_paper(staff, vr, f"rut;proyectos\n{vr.residents[0].rut};{a}|{b}|{a}\n")
    assert "Línea 2: El proyecto" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0


def test_a_paper_voter_is_told_so_even_after_the_census_changed(
    voting_round: Any, app: Any, factory: Any, db: Any
) -> None:
    """A ballot opened online before the voter voted on paper and before the census was
    corrected: the paper ballot is what the voter needs to hear about, not the census."""
    from tests.voting.conftest import add_census

    vr = voting_round(method="approval", min_selections=1, max_selections=2)
    resident = vr.residents[0]
    early = app.test_client()
    check_in(early, vr, resident)
    token = csrf_token(early, f"{vr.base}/papeleta")
    staff = staff_client(app, factory, vr.municipality)
    d0 = f"d{vr.districts[0].id}-p"
    taller = str(vr.projects["Taller de oficios"].id)
    response, _ = enter_paper(staff, vr, resident.rut, [(d0, taller)])
    assert response.status_code == 302
    add_census(db, vr.round, vr.residents[1:])
    sent = early.post(f"{vr.base}/papeleta", data={"csrf_token": token, d0: taller})
    assert sent.status_code == 200 and "Votaste en papel" in sent.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(Participation.channel)) == "paper"
