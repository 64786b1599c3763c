"""The open data API: nothing unpublished, pages and filters, caching, CORS, limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portal.api.spec import OPERATIONS
from tests.api.conftest import SECRET

API = "/api/v1"
DETAIL = {
    "municipality": "/municipalities/{}",
    "round": "/rounds/{}",
    "results": "/rounds/{}/results",
    "proposal": "/proposals/{}",
    "organization": "/organizations/{}",
    "fair": "/fairs/{}",
    "programme": "/programmes/{}",
    "project": "/projects/{}",
}


def walk(client: Any, path: str) -> list[Any]:
    """GET a path and, for a list, every following page; return the JSON bodies."""
    bodies = []
    url: str | None = path
    while url:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_json()
        bodies.append(body)
        url = body.get("links", {}).get("next") if isinstance(body, dict) else None
    return bodies


def test_nothing_unpublished_appears_anywhere(client: Any, world: Any) -> None:
    """Walk every operation as anonymous, all pages, every visible id: no secret shows."""
    texts = []
    for op in OPERATIONS:
        if op.media_type != "application/json" or op.endpoint == "api.openapi":
            continue
        if "<" not in op.rule:
            bodies = walk(client, f"{API}{op.rule}?per_page=2")
        elif "<cut>" in op.rule:
            bodies = walk(client, f"{API}/regions/05") + walk(client, f"{API}/regions/08")
        else:
            kind = "results" if op.rule.endswith("results") else op.rule.split("/")[1]
            kind = {"rounds": "round", "municipalities": "municipality", "results": "results"}.get(
                kind, kind.rstrip("s")
            )
            ids = world.visible[kind]
            bodies = []
            for id_ in ids:
                path = API + op.rule.split("<")[0] + str(id_) + op.rule.split(">")[1]
                bodies += walk(client, path)
        texts.append(json.dumps(bodies, ensure_ascii=False))
    everything = "\n".join(texts)
    assert SECRET not in everything
    assert SECRET.lower() not in everything
    assert "@" not in everything  # no email of anyone
    assert "12.345.678-5" not in everything  # an informal group's RUT may be a person's
    assert "+56 9" not in everything
    for word in ("voter_hash", "receipt", "rut_hash", "author", "census_entries", "email"):
        assert word not in everything


def test_hidden_records_answer_404_and_visible_ones_200(client: Any, world: Any) -> None:
    for kind, template in DETAIL.items():
        for id_ in world.visible.get(kind, []):
            assert client.get(API + template.format(id_)).status_code == 200, (kind, id_)
        for id_ in world.hidden.get(kind, []):
            response = client.get(API + template.format(id_))
            assert response.status_code == 404, (kind, id_)
            assert response.get_json()["error"]["status"] == 404


def test_the_api_shows_what_the_public_pages_show(client: Any, world: Any) -> None:
    slug = world.municipality.slug
    pages = {
        "round": f"/{slug}/rondas/{{}}",
        "results": f"/{slug}/rondas/{{}}/resultados",
        "proposal": f"/{slug}/propuestas/{{}}",
        "organization": f"/{slug}/organizaciones/{{}}",
        "fair": f"/{slug}/ferias/{{}}",
        "project": f"/{slug}/proyectos/{{}}",
    }
    for kind, page in pages.items():
        for id_ in world.visible[kind] + world.hidden.get(kind, []):
            api = client.get(API + DETAIL[kind].format(id_)).status_code
            html = client.get(page.format(id_)).status_code
            assert api == html, (kind, id_, api, html)
    listed = {o["id"] for o in client.get(f"{API}/organizations?per_page=100").get_json()["data"]}
    assert listed == set(world.visible["organization"])
    directory = client.get(f"/{slug}/organizaciones/").get_data(as_text=True)
    for org in client.get(f"{API}/organizations").get_json()["data"]:
        assert org["name"] in directory


def test_results_give_votes_winners_explanation_and_turnout(client: Any, world: Any) -> None:
    body = client.get(f"{API}/rounds/{world.visible['results'][0]}/results").get_json()
    (only,) = body["lists"]
    assert only["voters"] == 9 and only["district_name"] == "Cerro Alegre"
    assert [ln["votes"] for ln in only["lines"]] and sum(ln["votes"] for ln in only["lines"]) == 18
    assert {w["proposal_id"] for w in body["winners"]} == {
        ln["proposal_id"] for ln in only["lines"] if ln["selected"]
    }
    assert set(only["detail"]["projects"]) == {str(ln["proposal_id"]) for ln in only["lines"]}
    assert body["turnout"]["ballots"] == 9 and body["turnout"]["census_size"] == 12
    assert body["turnout"]["online"] + body["turnout"]["paper"] == 9
    rounds = client.get(f"{API}/rounds?results=true").get_json()["data"]
    assert [r["id"] for r in rounds] == [world.visible["results"][0]]


def test_pages_have_totals_and_links(client: Any, world: Any) -> None:
    first = client.get(f"{API}/regions?per_page=5").get_json()
    assert first["meta"] == {"page": 1, "per_page": 5, "total": 16, "pages": 4}
    assert len(first["data"]) == 5 and first["links"]["prev"] is None
    second = client.get(first["links"]["next"]).get_json()
    assert second["meta"]["page"] == 2 and second["data"][0]["cut"] != first["data"][0]["cut"]
    last = client.get(first["links"]["last"]).get_json()
    assert last["links"]["next"] is None and len(last["data"]) == 1
    assert client.get(f"{API}/regions?per_page=101").status_code == 400
    assert client.get(f"{API}/regions?page=0").status_code == 400
    assert client.get(f"{API}/regions?page=x").status_code == 400
    assert client.get(f"{API}/regions?page=99").get_json()["data"] == []
    assert client.get(f"{API}/regions?page=" + "9" * 5000).status_code == 400
    # url_for's own keywords and names the path fills are not carried into the links
    for query in ("_external=1", "_method=POST", "_anchor=x&_scheme=ftp"):
        sent = client.get(f"{API}/regions?per_page=5&{query}")
        assert sent.status_code == 200
        for link in filter(None, sent.get_json()["links"].values()):
            assert link.startswith("http://") and "#" not in link and "=_" not in link
            assert not any(k in link for k in ("_external", "_method", "_anchor", "_scheme"))
    round_id = world.visible["round"][2]
    sent = client.get(f"{API}/rounds/{round_id}/proposals?round_id=1")
    assert sent.status_code == 200 and f"/rounds/{round_id}/" in sent.get_json()["links"]["self"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("phase=proposals", ["Ronda en postulación"]),
        ("phase=voting", []),
        ("region=08", []),
        ("results=false", ["Ronda en postulación", "Presupuesto contado, sin publicar"]),
    ],
)
def test_round_filters(client: Any, world: Any, query: str, expected: list[str]) -> None:
    found = [r["title"] for r in client.get(f"{API}/rounds?{query}").get_json()["data"]]
    assert sorted(found) == sorted(expected)


def test_proposal_filters_match_the_public_list(client: Any, world: Any) -> None:
    round_id = world.visible["round"][2]
    base = f"{API}/rounds/{round_id}/proposals"
    titles = lambda q: [p["title"] for p in client.get(f"{base}?{q}").get_json()["data"]]  # noqa: E731
    assert titles("district=comuna") == ["Ferias en toda la comuna"]
    assert titles("theme=training") == ["Ferias en toda la comuna"]
    assert titles("q=playa") == ["Mercado de Playa Ancha"]
    assert titles("status=feasible") == []
    assert client.get(f"{base}?district=abc").status_code == 400
    assert client.get(f"{base}?status=nope").status_code == 400


def test_other_filters(client: Any, world: Any) -> None:
    years = {p["year"] for p in client.get(f"{API}/projects?year=2025").get_json()["data"]}
    assert years == {2025}
    regional = client.get(f"{API}/programmes?region=05").get_json()["data"]
    assert {p["region_cut"] for p in regional} <= {"05", None} and len(regional) >= 2
    national = client.get(f"{API}/programmes?level=national").get_json()["data"]
    assert national and {p["level"] for p in national} == {"national"}
    assert client.get(f"{API}/organizations?q=caleta").get_json()["meta"]["total"] == 1
    assert client.get(f"{API}/organizations?region=08").get_json()["meta"]["total"] == 0
    fairs = client.get(f"{API}/fairs?comuna=05101").get_json()["data"]
    assert [f["organizers"] for f in fairs] == [
        [{"id": world.visible["organization"][0], "name": "Cooperativa Caleta Portales"}]
    ]
    assert len(fairs[0]["next_dates"]) == 3 and fairs[0]["next_dates"][0]["start"].endswith(
        ("-03:00", "-04:00")
    )


def test_conditional_requests(client: Any, world: Any) -> None:
    path = f"{API}/rounds/{world.visible['results'][0]}"
    first = client.get(path)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    again = client.get(path, headers={"If-Modified-Since": modified})
    assert again.status_code == 304 and again.data == b""
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert client.get(path, headers={"If-Modified-Since": old}).status_code == 200
    # An ETag that no longer matches wins over a date that would.
    both = {"If-None-Match": '"stale"', "If-Modified-Since": modified}
    assert client.get(path, headers=both).status_code == 200


def test_a_change_changes_the_etag(client: Any, world: Any, db: Any) -> None:
    from portal.budgeting.models import Round

    path = f"{API}/rounds/{world.visible['round'][2]}"
    etag = client.get(path).headers["ETag"]
    db.session.get(Round, world.visible["round"][2]).title = "Otro título"
    db.session.commit()
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 200


def test_cors_on_answers_and_preflight(client: Any) -> None:
    response = client.get(f"{API}/regions")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    preflight = client.options(
        f"{API}/rounds",
        headers={
            "Origin": "https://datos.example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "If-None-Match",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert "If-None-Match" in preflight.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Origin" not in client.get("/").headers


@pytest.mark.parametrize("app_config", [{"API_RATE_LIMIT": "3 per minute"}])
def test_requests_are_rate_limited_per_address(client: Any) -> None:
    statuses = [client.get(f"{API}/regions").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get(f"{API}/regions")
    assert limited.get_json()["error"]["status"] == 429 and "Retry-After" in limited.headers
    other = client.get(f"{API}/regions", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200


def test_reference_page_is_translated_and_has_no_script(client: Any) -> None:
    page = client.get(f"{API}/docs").get_data(as_text=True)
    assert "<script" not in page and "cdn" not in page.lower()
    assert "/api/v1/rounds/{round_id}/results" in page
    assert "Datos abiertos" in page or "API de datos abiertos" in page
    client.set_cookie("lang", "en")
    assert "Open data API" in client.get(f"{API}/docs").get_data(as_text=True)


def test_lists_need_a_fixed_number_of_queries(app: Any, client: Any, world: Any) -> None:
    """No query per item: a page of 2 and a page of all cost the same number of queries."""
    from sqlalchemy import event

    from portal.extensions import db

    for path in (
        "/projects",
        "/fairs",
        "/rounds",
        "/organizations",
        f"/rounds/{world.visible['round'][0]}/proposals",
    ):
        counts = []
        for per_page in (1, 100):
            seen: list[str] = []
            with app.app_context():
                engine = db.engine

            def count(*_args: Any, seen: list[str] = seen) -> None:
                seen.append("q")

            event.listen(engine, "before_cursor_execute", count)
            try:
                assert client.get(f"{API}{path}?per_page={per_page}").status_code == 200
            finally:
                event.remove(engine, "before_cursor_execute", count)
            counts.append(len(seen))
        assert counts[0] == counts[1], (path, counts)
