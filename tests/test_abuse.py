"""Abuse and bad input: brute force, hostile query strings, parallel writes, huge bodies."""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token, login
from tests.test_authorization import PUBLIC, area_of, url_for_rule, world  # noqa: F401
from tests.voting.conftest import make_rut

REPO = Path(__file__).resolve().parent.parent
XSS = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
SQL = "' OR '1'='1'; DROP TABLE ballots; --"


def query_parameters() -> set[str]:
    """Every query parameter the portal reads, found in its source."""
    names: set[str] = set()
    for path in (REPO / "portal").rglob("*.py"):
        names.update(re.findall(r"args\.(?:get|getlist)\(\s*\"(\w+)\"", path.read_text()))
    return names


def run_parallel(count: int, target: Any) -> list[Any]:
    """Run target(i) in `count` threads released together; return what each returned."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = target(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# ----------------------------------------------------------------------------- brute force


def test_login_guesses_are_limited_per_account_and_per_address(app: Any, factory: Any) -> None:
    factory.user("victima@example.cl")
    app.config["LOGIN_RATE_LIMIT"] = "3 per 15 minutes"
    statuses = []
    for i in range(5):  # one account, a new address and browser each time
        client = app.test_client()
        token = csrf_token(client, "/ingresar")
        statuses.append(
            client.post(
                "/ingresar",
                data={"csrf_token": token, "email": "victima@example.cl", "password": f"x{i}"},
                environ_base={"REMOTE_ADDR": f"127.0.1.{i}"},
            ).status_code
        )
    assert statuses[-1] == 429
    statuses = []
    for i in range(5):  # one address, a new account each time
        client = app.test_client()
        token = csrf_token(client, "/ingresar")
        statuses.append(
            client.post(
                "/ingresar",
                data={"csrf_token": token, "email": f"nadie{i}@example.cl", "password": "x"},
                environ_base={"REMOTE_ADDR": "127.0.2.1"},
            ).status_code
        )
    assert statuses[-1] == 429


# ----------------------------------------------------------------------------- hostile queries


@pytest.mark.parametrize("role", ["anonymous", "staff_a", "regional_a", "admin"])
@pytest.mark.parametrize("payload", [XSS, SQL])
def test_query_parameters_come_back_escaped_and_harmless(
    app: Any,
    world: dict[str, Any],  # noqa: F811
    role: str,
    payload: str,
) -> None:
    """Every page, with every query parameter the portal reads set to a payload."""
    client = app.test_client()
    if role != "anonymous":
        login(client, world["users"][role].email)
    params = dict.fromkeys(sorted(query_parameters()), payload)
    params["next"] = "/" + payload  # a local path, else login sends it nowhere
    assert {"q", "estado", "codigo", "sector", "comuna", "region"} <= set(params)
    seen = 0
    for rule in app.url_map.iter_rules():
        allowed = area_of(rule.endpoint)
        if rule.endpoint == "static" or "GET" not in rule.methods or "token" in rule.arguments:
            continue
        if allowed is not None and role not in allowed:
            continue
        response = client.get(url_for_rule(rule, world["values"]), query_string=params)
        body = response.get_data().decode("utf-8", "replace")
        response.close()
        assert response.status_code < 500, (rule.endpoint, role)
        assert "<script>alert(1)</script>" not in body, rule.endpoint
        assert "onerror=alert(2)>" not in body, rule.endpoint
        seen += 1
    assert seen > 30
    # The SQL did nothing: the data is still there.
    from portal.budgeting.models import Proposal

    with app.app_context():
        from portal.extensions import db

        assert db.session.scalar(select(func.count()).select_from(Proposal)) >= 1


# ----------------------------------------------------------------------------- parallel writes


def test_parallel_census_uploads_leave_exactly_one_census(app: Any, factory: Any, db: Any) -> None:
    from portal.budgeting.models import CensusEntry

    municipality = factory.municipality("05101")
    round_ = factory.round(municipality, phase="review")
    factory.user("camila@valparaiso.cl", role="municipal_staff", municipality=municipality)
    url = f"/gestion/valparaiso/rondas/{round_.id}/padron"
    files = [
        "rut;fecha_nacimiento\n"
        + "\n".join(f"{make_rut(k * 1000 + i)};01-01-1980" for i in range(50 + 10 * k))
        + "\n"
        for k in range(4)
    ]
    clients = []
    for _ in files:
        client = app.test_client()
        login(client, "camila@valparaiso.cl")
        clients.append((client, csrf_token(client, url)))

    def upload(i: int) -> int:
        client, token = clients[i]
        response = client.post(
            url,
            data={"csrf_token": token, "file": (io.BytesIO(files[i].encode()), "padron.csv")},
            content_type="multipart/form-data",
        )
        return response.status_code

    statuses = run_parallel(len(files), upload)
    assert all(s in (302, 503) for s in statuses), statuses
    assert 302 in statuses
    db.session.expire_all()
    count = db.session.scalar(
        select(func.count()).select_from(CensusEntry).where(CensusEntry.round_id == round_.id)
    )
    assert count in {50 + 10 * k for k in range(4)}, count  # one whole file, never a mix


def test_parallel_edits_of_one_proposal_keep_one_whole_version(
    app: Any, factory: Any, db: Any
) -> None:
    from portal.budgeting.models import Proposal

    municipality = factory.municipality("05101")
    round_ = factory.round(municipality, phase="proposals")
    author = factory.user("autora@example.cl")
    proposal = factory.proposal(round_, author)
    url = f"/valparaiso/propuestas/{proposal.id}/editar"
    clients = []
    for _ in range(4):
        client = app.test_client()
        login(client, "autora@example.cl")
        page = client.get(url).get_data(as_text=True)
        fields = dict(re.findall(r'name="(\w+)"[^>]*value="([^"]*)"', page))
        clients.append((client, fields))

    def edit(i: int) -> int:
        client, fields = clients[i]
        data = {
            **fields,
            "title": f"Versión {i} del techado",
            "summary": f"Resumen {i}",
            "description": f"Descripción número {i} del techado para la feria libre.",
            "theme": "fairs-markets",
            "estimated_cost": str(1_000_000 + i),
        }
        return client.post(url, data=data).status_code

    statuses = run_parallel(4, edit)
    assert all(s in (302, 503) for s in statuses), statuses
    db.session.expire_all()
    stored = db.session.get(Proposal, proposal.id)
    i = int(stored.title.split()[1])
    assert stored.summary == f"Resumen {i}" and stored.estimated_cost == 1_000_000 + i


# ----------------------------------------------------------------------------- big bodies


@pytest.mark.parametrize(("lang", "text"), [("es_CL", "demasiado grande"), ("en", "too large")])
def test_oversized_upload_is_a_translated_413(app: Any, factory: Any, lang: str, text: str) -> None:
    municipality = factory.municipality("05101")
    round_ = factory.round(municipality, phase="review")
    factory.user("camila@valparaiso.cl", role="municipal_staff", municipality=municipality)
    client = app.test_client()
    login(client, "camila@valparaiso.cl")
    client.set_cookie("lang", lang)
    url = f"/gestion/valparaiso/rondas/{round_.id}/padron"
    token = csrf_token(client, url)
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    response = client.post(
        url,
        data={"csrf_token": token, "file": (io.BytesIO(b"x" * 50_000), "padron.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert text in response.get_data(as_text=True)
