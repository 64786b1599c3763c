"""Every staff and admin route refuses whoever is not entitled to it, and never shows data."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from werkzeug.routing import Rule

from tests.conftest import csrf_token, login

# Routes open to everyone (residents need no account to read).
PUBLIC = {
    "static",
    "public.home",
    "public.set_language",
    "public.health",
    "public.municipality",
    "public.favicon",
    "accounts.login",
    "accounts.logout",
    "accounts.signup",
    "accounts.forgot_password",
    "accounts.reset_password",
    "accounts.accept",
    "budgeting.list_rounds",
    "budgeting.show_round",
    "budgeting.list_proposals",
    "budgeting.show_proposal",
    "budgeting.media",
    "economy.directory",
    "economy.region_directory",
    "economy.organization",
    "economy.register",
    "economy.fairs",
    "economy.fair",
    "economy.fair_ics",
    "economy.comuna_ics",
    "economy.fairs_today",
    "economy.fairs_week",
    # Voting needs no account: the census check opens a voter session for one round.
    "voting.check",
    "voting.check_account",
    "voting.declare",
    "voting.ballot",
    "voting.confirmation",
    "voting.leave",
    "voting.receipt",
    "voting.results",
    "voting.results_csv",
    "voting.results_pb",
    "programmes.list_programmes",
    "programmes.show_programme",
    "programmes.list_projects",
    "programmes.show_project",
    "programmes.project_json",
    "programmes.project_photo",
    # The open data API reads published data only (tests/api checks that nothing else leaks).
    "api.openapi",
    "api.reference",
    "api.list_regions",
    "api.show_region",
    "api.list_municipalities",
    "api.show_municipality",
    "api.list_rounds",
    "api.show_round",
    "api.list_proposals",
    "api.show_proposal",
    "api.show_results",
    "api.list_programmes",
    "api.show_programme",
    "api.list_projects",
    "api.show_project",
    "api.list_organizations",
    "api.show_organization",
    "api.list_fairs",
    "api.show_fair",
}
SIGNED_IN = {"resident", "organization", "staff_a", "staff_b", "regional_a", "regional_b", "admin"}
STAFF_A_ENDPOINTS = [
    "budgeting.staff_rounds",
    "budgeting.create_round_view",
    "budgeting.staff_round",
    "budgeting.edit_round",
    "budgeting.publish",
    "budgeting.advance",
    "budgeting.edit_rules",
    "budgeting.edit_district",
    "budgeting.remove_district",
    "budgeting.review_list",
    "budgeting.review",
    "budgeting.census",
    "voting.staff_results",
    "voting.staff_paper",
    "voting.enter_paper",
    "voting.import_paper",
]
# Who may open each protected area, by the endpoint's prefix.
AREAS = {
    "admin.": {"admin"},
    "staff.municipality": {"staff_a"},
    "staff.team": {"staff_a"},
    "staff.revoke_team": {"staff_a"},
    "staff.region": {"regional_a"},
    "accounts.account": SIGNED_IN,
    "budgeting.propose": SIGNED_IN,
    "budgeting.my_proposals": SIGNED_IN,
    "budgeting.edit_proposal_view": {"resident"},  # its author only
    **{endpoint: {"staff_a"} for endpoint in STAFF_A_ENDPOINTS},
    "economy.staff_": {"staff_a"},
    "programmes.staff_": {"staff_a"},
    "programmes.region_": {"regional_a", "admin"},
    "programmes.admin_": {"admin"},
    "programmes.follow_project": SIGNED_IN,
    "programmes.my_projects": SIGNED_IN,
}
# "voter_other": no account, but a voter session open for another round (of another comuna).
# "organization": the signed-in representative of a registered organization.
ROLES = [
    "anonymous",
    "voter_other",
    "resident",
    "organization",
    "staff_a",
    "staff_b",
    "regional_a",
    "regional_b",
    "admin",
]
NO_ACCOUNT = {"anonymous", "voter_other"}


def area_of(endpoint: str) -> set[str] | None:
    if endpoint in AREAS:
        return AREAS[endpoint]
    for prefix, allowed in AREAS.items():
        if endpoint.startswith(prefix):
            return allowed
    return None


def protected_rules(app: Any) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if r.endpoint not in PUBLIC]


def test_every_route_is_public_or_in_the_matrix(app: Any) -> None:
    unclassified = [r.endpoint for r in protected_rules(app) if area_of(r.endpoint) is None]
    assert unclassified == []


@pytest.fixture
def world(factory: Any, db: Any) -> dict[str, Any]:
    """Two municipalities in two regions, a person for each role, and an invitation."""
    from portal.accounts.models import Role
    from portal.accounts.services import create_invitation

    a = factory.municipality("05101")  # Valparaíso, region 05
    b = factory.municipality("08101")  # Concepción, region 08
    users = {
        "resident": factory.user("vecina@example.cl"),
        "staff_a": factory.user("staff@valparaiso.cl", role="municipal_staff", municipality=a),
        "staff_b": factory.user("staff@concepcion.cl", role="municipal_staff", municipality=b),
        "regional_a": factory.user("difoi@gore05.cl", role="regional_staff", region="05"),
        "regional_b": factory.user("difoi@gore08.cl", role="regional_staff", region="08"),
        "admin": factory.user("admin@portal.cl", role="admin"),
    }
    users["organization"] = factory.user("coop@example.cl")
    invitation, _ = create_invitation(
        db.session, "x@valparaiso.cl", Role.MUNICIPAL_STAFF, municipality_id=a.id
    )
    db.session.commit()
    from tests.economy.helpers import make_fair, make_organization

    org = make_organization(db, a, name="Cooperativa de Pescadores Artesanales Caleta Portales")
    pending = make_organization(
        db, a, name="Sindicato Feria Libre Playa Ancha", representative=users["organization"]
    )
    fair = make_fair(db, a, organizers=[org])
    from tests.programmes.helpers import make_programme, make_project

    programme = make_programme(db, region="05", code="fndr-05-test")
    project = make_project(db, a, programmes=[(programme, 1_000_000)])
    membership = users["staff_a"].memberships[0]
    round_ = factory.round(a, phase="proposals")
    district = factory.district(round_, "Cerro Alegre", 1_000_000)
    proposal = factory.proposal(round_, users["resident"], district=district)
    # Rounds open for voting: one here (its voting pages are checked) and one in the other
    # comuna, whose voter must not reach this round's ballot.
    from tests.voting.conftest import Resident, add_census, make_rut

    vote_round = factory.round(a, phase="voting", title="Votación Valparaíso")
    factory.proposal(vote_round, None, title="Toldos", status="feasible", final_cost=1_000_000)
    add_census(db, vote_round, [Resident(make_rut(1), date(1980, 1, 1), None)])
    other_round = factory.round(b, phase="voting", title="Votación Concepción")
    factory.proposal(other_round, None, title="Mercado", status="feasible", final_cost=1_000_000)
    other_voter = Resident(make_rut(2), date(1981, 2, 2), None)
    add_census(db, other_round, [other_voter])
    values = {
        "slug": a.slug,
        "region": "05",
        "municipality_id": a.id,
        "membership_id": membership.id,
        "invitation_id": invitation.id,
        "round_id": round_.id,
        "district_id": district.id,
        "proposal_id": proposal.id,
        "filename": "none.jpg",
        "org_id": org.id,
        "organization_id": org.id,
        "cut": "05",
        "fair_id": fair.id,
        "region_slug": "valparaiso",
        "list_key": "comuna",
        "programme_id": programme.id,
        "project_id": project.id,
        "funding_id": project.fundings[0].id,
        "milestone_id": project.milestones[0].id,
        "photo_id": 1,
        "pending_org_id": pending.id,
    }
    voting_values = {**values, "round_id": vote_round.id}
    other = {"slug": b.slug, "round_id": other_round.id, "voter": other_voter}
    return {"users": users, "values": values, "voting_values": voting_values, "other": other}


def sign_in_as(app: Any, world: dict[str, Any], role: str) -> Any:
    """Return a client acting as a role: signed in, or holding another round's voter session."""
    from tests.voting.conftest import check_in

    client = app.test_client()
    if role == "voter_other":
        other = world["other"]

        class _Round:  # the little check_in needs: the round's base path
            base = f"/{other['slug']}/rondas/{other['round_id']}"

        response = check_in(client, _Round(), other["voter"])  # type: ignore[arg-type]
        assert response.status_code == 302 and "/papeleta" in response.headers["Location"]
    elif role != "anonymous":
        login(client, world["users"][role].email)
    return client


def url_for_rule(rule: Rule, values: dict[str, Any]) -> str:
    # Converters may carry arguments, as in <int(min=1, max=99):municipality_id>.
    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", lambda m: str(values[m.group(1)]), rule.rule)


@pytest.mark.parametrize("role", ROLES)
def test_protected_routes_answer_by_role(app: Any, world: dict[str, Any], role: str) -> None:
    client = sign_in_as(app, world, role)
    token = csrf_token(client)
    for rule in protected_rules(app):
        allowed = area_of(rule.endpoint) or set()
        url = url_for_rule(rule, world["values"])
        if "GET" in rule.methods:
            response = client.get(url)
        else:
            if role in allowed:
                continue  # writes by the entitled are covered by the feature tests
            response = client.post(url, data={"csrf_token": token})
        if role in NO_ACCOUNT:
            assert response.status_code == 302, url
            assert response.headers["Location"].startswith("/ingresar?next="), url
        elif role in allowed:
            assert response.status_code == 200, (url, role)
        else:
            assert response.status_code in (403, 404), (url, role, response.status_code)
            body = response.get_data(as_text=True)
            assert "x@valparaiso.cl" not in body and "staff@valparaiso.cl" not in body


def test_unknown_municipality_in_a_staff_route_is_404(app: Any, world: dict[str, Any]) -> None:
    client = app.test_client()
    login(client, "staff@valparaiso.cl")
    assert client.get("/gestion/no-existe/").status_code == 404
    assert client.get("/region/99/").status_code == 404


def test_staff_cannot_revoke_another_municipalitys_invitation(
    app: Any, world: dict[str, Any], factory: Any, db: Any
) -> None:
    from portal.accounts.models import Invitation

    client = app.test_client()
    login(client, "staff@concepcion.cl")
    invitation_id = world["values"]["invitation_id"]
    response = client.post(
        f"/gestion/concepcion/equipo/invitaciones/{invitation_id}/revocar",
        data={"csrf_token": csrf_token(client)},
    )
    assert response.status_code == 404
    assert db.session.get(Invitation, invitation_id).revoked_at is None


# What every role gets from a GET of each public route, in the `world` below: 200 unless listed.
# Voting routes are read on a round open for voting, whose voter session nobody holds.
PUBLIC_NOT_200 = {
    "accounts.accept": 404,  # an unknown token
    "accounts.reset_password": 404,
    "budgeting.media": 404,  # no such file
    "programmes.project_photo": 404,
    "voting.declare": 404,  # the round takes the census only
    "voting.results": 404,  # not published yet
    "voting.results_csv": 404,
    "voting.results_pb": 404,
    "api.show_results": 404,  # the same round: its results are not published
}
SIGNED_IN_REDIRECT = {"accounts.login": "/cuenta", "accounts.signup": "/cuenta"}


def expected_public_answer(endpoint: str, role: str, values: dict[str, Any]) -> tuple[int, str]:
    """Return the status and the start of the Location of a public GET, for a role."""
    round_page = f"/{values['slug']}/rondas/{values['round_id']}"
    if endpoint == "voting.ballot":
        return 302, round_page + "/votar"  # no voter session for this round: check first
    if endpoint == "voting.confirmation":
        return 302, round_page  # no ballot cast here in this browser
    if endpoint in SIGNED_IN_REDIRECT and role not in NO_ACCOUNT:
        return 302, SIGNED_IN_REDIRECT[endpoint]
    return PUBLIC_NOT_200.get(endpoint, 200), ""


@pytest.mark.parametrize("role", ROLES)
def test_public_routes_answer_by_role(app: Any, world: dict[str, Any], role: str) -> None:
    client = sign_in_as(app, world, role)
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in PUBLIC or rule.endpoint == "static" or "GET" not in rule.methods:
            continue
        voting = rule.endpoint.startswith("voting.")
        values = {**(world["voting_values"] if voting else world["values"]), "token": "nope"}
        response = client.get(url_for_rule(rule, values))
        response.close()  # files (favicon, calendars) are streamed
        status, location = expected_public_answer(rule.endpoint, role, values)
        assert response.status_code == status, (rule.endpoint, role, response.status_code)
        assert response.headers.get("Location", "").startswith(location), (rule.endpoint, role)
        checked += 1
    assert checked >= 30


@pytest.mark.parametrize("role", ROLES)
def test_a_pending_organization_is_seen_by_its_representative_and_staff(
    app: Any, world: dict[str, Any], role: str
) -> None:
    client = sign_in_as(app, world, role)
    values = world["values"]
    response = client.get(f"/{values['slug']}/organizaciones/{values['pending_org_id']}")
    expected = 200 if role in {"organization", "staff_a"} else 404
    assert response.status_code == expected, role
