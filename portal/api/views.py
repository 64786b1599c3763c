"""The API's GET endpoints: published data only, filtered like the public pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import abort, current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.wrappers import Response

from portal.api import bp
from portal.api import serializers as out
from portal.api.http import add_cors, int_arg, iso, json_response, latest, paginate, str_arg
from portal.api.schemas import ref
from portal.api.spec import ID, MAX_ID, Param, operation
from portal.budgeting.models import DATED_PHASES, Phase, Proposal, ProposalStatus, Round
from portal.database import utcnow
from portal.economy.models import Fair, Organization
from portal.economy.schedule import occurrences
from portal.economy.services import directory_query, next_dates, rules_of
from portal.economy.vocab import FAIR_KINDS, LEGAL_FORMS, QUALIFIERS, SECTORS
from portal.extensions import db, limiter
from portal.geo.models import Comuna, Municipality, Region
from portal.programmes.models import (
    AGENCIES,
    LEVELS,
    PROJECT_STATUSES,
    FundedProject,
    Programme,
    ProjectFunding,
)
from portal.voting.services import results_of, turnout

PHASE_VALUES = [p.value for p in Phase]
STATUS_VALUES = [s.value for s in ProposalStatus]
BOOLEAN_VALUES = ["true", "false"]


def _rate_limit() -> str:
    return str(current_app.config["API_RATE_LIMIT"])


# Every API answer is limited per client address, with the configurable default.
limiter.limit(_rate_limit, exempt_when=lambda: _preflight())(bp)


def _preflight() -> bool:
    from flask import request

    return request.method == "OPTIONS"


bp.after_request(add_cors)


def _text(name: str, description: Any, **schema: Any) -> Param:
    return Param(name, description, {"type": "string", "maxLength": 100, **schema})


def _number(name: str, description: Any) -> Param:
    return Param(name, description, {"type": "integer", "minimum": 1, "maximum": MAX_ID})


MUNICIPALITY = _number("municipality", _l("Only those of this municipality (its id)."))
REGION = _text("region", _l("Only those of this region (its two-digit CUT, e.g. 05)."))
COMUNA = _text("comuna", _l("Only those of this comuna (its five-digit CUT)."))


def _in_region(column: Any, cut: str) -> Any:
    """Restrict a municipality id column to a region's municipalities."""
    return column.in_(
        select(Municipality.id)
        .join(Comuna, Comuna.cut == Municipality.comuna_cut)
        .where(Comuna.region_cut == cut)
    )


def _active_municipalities() -> Any:
    return select(Municipality.id).where(Municipality.active.is_(True))


def _place_filters(statement: Any, municipality_id: Any) -> Any:
    """Apply the `municipality` and `region` arguments to a municipality id column."""
    wanted = int_arg("municipality")
    if wanted is not None:
        statement = statement.where(municipality_id == wanted)
    region = str_arg("region", limit=2)
    if region:
        statement = statement.where(_in_region(municipality_id, region))
    return statement


def _found(statement: Any) -> Any:
    """Return the first row a statement selects, or answer 404."""
    found = db.session.scalar(statement)
    if found is None:
        abort(404)
    return found


def _page(
    statement: Any,
    serialize: Callable[[list[Any]], list[Any]],
    changed: Callable[[Any], Any] | None = None,
) -> Response:
    """Answer one page of a statement's rows, serialized, with when the page last changed."""
    items, meta, links = paginate(statement)
    data = serialize(items)
    modified = latest(*(changed(item) for item in items)) if changed else None
    return json_response({"data": data, "meta": meta, "links": links}, modified)


# ----------------------------------------------------------------------------- geography


@operation(
    "/regions",
    tag="geography",
    summary=_l("List the regions"),
    response=ref("RegionPage"),
    paginated=True,
)
def list_regions() -> Response:
    """List Chile's regions by CUT."""
    return _page(select(Region).order_by(Region.cut), lambda items: [out.region(r) for r in items])


@operation(
    "/regions/<cut>",
    tag="geography",
    summary=_l("Show a region and its municipalities on the portal"),
    response=ref("RegionDetail"),
    path_descriptions={"cut": _l("The region's two-digit CUT.")},
)
def show_region(cut: str) -> Response:
    """Show a region with the municipalities that use the portal."""
    found = db.session.get(Region, cut[:2]) if len(cut) == 2 else None
    if found is None:
        abort(404)
    municipalities = db.session.scalars(
        select(Municipality)
        .join(Comuna, Comuna.cut == Municipality.comuna_cut)
        .where(Comuna.region_cut == found.cut, Municipality.active.is_(True))
        .order_by(Municipality.name)
    ).all()
    body = out.region(found) | {"municipalities": [out.municipality(m) for m in municipalities]}
    return json_response(body, latest(*(m.updated_at for m in municipalities)))


def _municipality_statement() -> Any:
    statement = select(Municipality).where(Municipality.active.is_(True))
    region = str_arg("region", limit=2)
    if region:
        statement = statement.where(_in_region(Municipality.id, region))
    return statement.order_by(Municipality.name, Municipality.id)


@operation(
    "/municipalities",
    tag="geography",
    summary=_l("List the municipalities on the portal"),
    params=(REGION,),
    response=ref("MunicipalityPage"),
    paginated=True,
)
def list_municipalities() -> Response:
    """List the active municipalities."""
    return _page(
        _municipality_statement(),
        lambda items: [out.municipality(m) for m in items],
        lambda m: m.updated_at,
    )


@operation(
    f"/municipalities/<{ID}:municipality_id>",
    tag="geography",
    summary=_l("Show a municipality"),
    response=ref("Municipality"),
)
def show_municipality(municipality_id: int) -> Response:
    """Show an active municipality."""
    found = db.session.get(Municipality, municipality_id)
    if found is None or not found.active:
        abort(404)
    return json_response(out.municipality(found), found.updated_at)


# ----------------------------------------------------------------------------- budgeting


def _public_rounds() -> Any:
    return select(Round).where(
        Round.published_at.is_not(None), Round.municipality_id.in_(_active_municipalities())
    )


def _phase_clause(phase: str, now: Any) -> Any:
    """Select the rounds in a phase now, in SQL (phases follow each other in date order)."""
    if phase == Phase.DRAFT.value:
        return Round.proposals_start > now
    index = [p.value for p in DATED_PHASES].index(phase)
    clause = getattr(Round, f"{phase}_start") <= now
    if index + 1 < len(DATED_PHASES):
        clause &= getattr(Round, f"{DATED_PHASES[index + 1].value}_start") > now
    return clause


def _round_changed(round_: Round, now: Any) -> Any:
    started = [round_.phase_start(p) for p in DATED_PHASES if round_.phase_start(p) <= now]
    return latest(round_.updated_at, round_.published_at, round_.results_published_at, *started)


@operation(
    "/rounds",
    tag="budgeting",
    summary=_l("List the published participatory budgeting rounds"),
    params=(
        MUNICIPALITY,
        REGION,
        Param(
            "phase", _l("Only rounds in this phase now."), {"type": "string", "enum": PHASE_VALUES}
        ),
        Param(
            "results",
            _l("Only rounds whose results are published (true) or not yet (false)."),
            {"type": "string", "enum": BOOLEAN_VALUES},
        ),
    ),
    response=ref("RoundPage"),
    paginated=True,
)
def list_rounds() -> Response:
    """List published rounds, newest first."""
    now = utcnow()
    statement = _public_rounds().options(selectinload(Round.districts))
    statement = _place_filters(statement, Round.municipality_id)
    phase = str_arg("phase", choices=PHASE_VALUES)
    if phase:
        statement = statement.where(_phase_clause(phase, now))
    results = str_arg("results", choices=BOOLEAN_VALUES)
    if results == "true":
        statement = statement.where(Round.results_published_at.is_not(None))
    elif results == "false":
        statement = statement.where(Round.results_published_at.is_(None))
    return _page(
        statement.order_by(Round.proposals_start.desc(), Round.id.desc()),
        lambda items: [out.round_(r, now) for r in items],
        lambda r: _round_changed(r, now),
    )


def _round(round_id: int) -> Round:
    return _found(_public_rounds().where(Round.id == round_id))  # type: ignore[no-any-return]


@operation(
    f"/rounds/<{ID}:round_id>",
    tag="budgeting",
    summary=_l("Show a round: phases, districts and rules"),
    response=ref("Round"),
)
def show_round(round_id: int) -> Response:
    """Show a published round."""
    now = utcnow()
    found = _round(round_id)
    return json_response(out.round_(found, now), _round_changed(found, now))


def _proposal_options() -> list[Any]:
    return [
        selectinload(Proposal.images),
        # Only the names are shown: leave the organizations' locations unloaded.
        selectinload(Proposal.organization).lazyload(Organization.locations),
        selectinload(Proposal.implementer).lazyload(Organization.locations),
    ]


def _proposal_changed(p: Proposal) -> Any:
    return latest(
        p.updated_at,
        p.organization.updated_at if p.organization else None,
        p.implementer.updated_at if p.implementer else None,
    )


@operation(
    f"/rounds/<{ID}:round_id>/proposals",
    tag="budgeting",
    summary=_l("List the proposals of a round"),
    params=(
        _text("district", _l("A district's id, or 'comuna' for the comuna-wide list.")),
        Param("theme", _l("Only this theme."), {"type": "string", "maxLength": 40}),
        Param(
            "status",
            _l("Only proposals in this review status."),
            {"type": "string", "enum": STATUS_VALUES},
        ),
        _text("q", _l("Words to find in the title, summary or description.")),
    ),
    response=ref("ProposalPage"),
    paginated=True,
)
def list_proposals(round_id: int) -> Response:
    """List a published round's proposals, newest first, filtered like the public list."""
    found = _round(round_id)
    statement = select(Proposal).where(Proposal.round_id == found.id).options(*_proposal_options())
    district = str_arg("district", limit=12)
    if district == "comuna":
        statement = statement.where(Proposal.district_id.is_(None))
    elif district:
        statement = statement.where(Proposal.district_id == int_arg("district"))
    theme = str_arg("theme", limit=40)
    if theme:
        statement = statement.where(Proposal.theme == theme)
    status = str_arg("status", choices=STATUS_VALUES)
    if status:
        statement = statement.where(Proposal.status == status)
    query = str_arg("q")
    if query:
        statement = statement.where(Proposal.matching(query))
    return _page(
        statement.order_by(Proposal.created_at.desc(), Proposal.id.desc()),
        lambda items: [out.proposal(p) for p in items],
        _proposal_changed,
    )


@operation(
    f"/proposals/<{ID}:proposal_id>",
    tag="budgeting",
    summary=_l("Show a proposal"),
    response=ref("Proposal"),
)
def show_proposal(proposal_id: int) -> Response:
    """Show a proposal of a published round."""
    found = _found(
        select(Proposal)
        .where(
            Proposal.id == proposal_id,
            Proposal.round_id.in_(_public_rounds().with_only_columns(Round.id)),
        )
        .options(*_proposal_options())
    )
    return json_response(out.proposal(found), _proposal_changed(found))


@operation(
    f"/rounds/<{ID}:round_id>/results",
    tag="budgeting",
    summary=_l("Show the published results of a round"),
    description=_l(
        "Each list (a district, or the whole comuna) with every project's votes, score, cost, "
        "whether it was funded and the counting engine's explanation; the winners; turnout. "
        "404 until the municipality publishes the results."
    ),
    response=ref("Results"),
)
def show_results(round_id: int) -> Response:
    """Show the results of a round, once published."""
    found = _round(round_id)
    if found.results_published_at is None:
        abort(404)
    districts = {d.id: d for d in found.districts}  # loads them, so each list finds its own
    stored = results_of(db.session, found)
    counts = turnout(db.session, found)
    lists = [out.list_result(r) for r in stored]
    winners = [
        {
            "proposal_id": line.proposal_id,
            "title": line.proposal.title,
            "list_key": r.list_key,
            "cost": line.cost,
        }
        for r in stored
        for line in sorted(
            (ln for ln in r.lines if ln.selected), key=lambda ln: ln.selected_order or 0
        )
    ]
    body = {
        "round_id": found.id,
        "published_at": iso(found.results_published_at),
        "method": found.method,
        "allocation_rule": found.allocation_rule,
        "lists": lists,
        "winners": winners,
        "turnout": {
            "ballots": counts["total"],
            "online": counts["online"],
            "paper": counts["paper"],
            "census_size": counts["census"],
            "by_district": [
                {"district_id": key if key in districts else None, "ballots": n}
                for key, n in sorted(
                    counts["by_district"].items(), key=lambda kv: (kv[0] is None, kv[0] or 0)
                )
            ],
            "by_age": [{"band": band, "ballots": n} for band, n in counts["by_age"].items()],
        },
        "url": url_for(
            "voting.results", slug=found.municipality.slug, round_id=found.id, _external=True
        ),
    }
    proposals = [line.proposal.updated_at for r in stored for line in r.lines]
    return json_response(body, latest(found.results_published_at, *proposals))


# ----------------------------------------------------------------------------- projects


def _programme_filters(statement: Any) -> Any:
    region = str_arg("region", limit=2)
    if region:
        statement = statement.where(
            (Programme.region_cut == region) | Programme.region_cut.is_(None)
        )
    level = str_arg("level", choices=LEVELS)
    if level:
        statement = statement.where(Programme.level == level)
    agency = str_arg("agency", choices=AGENCIES)
    if agency:
        statement = statement.where(Programme.agency == agency)
    return statement


@operation(
    "/programmes",
    tag="projects",
    summary=_l("List the active programmes"),
    params=(
        _text("region", _l("Programmes of this region (two-digit CUT) and national ones.")),
        Param("level", _l("Only this level."), {"type": "string", "enum": LEVELS}),
        Param("agency", _l("Only this agency."), {"type": "string", "enum": AGENCIES}),
    ),
    response=ref("ProgrammePage"),
    paginated=True,
)
def list_programmes() -> Response:
    """List the active programmes, national first, then by region and name."""
    statement = _programme_filters(select(Programme).where(Programme.active.is_(True)))
    return _page(
        statement.order_by(
            Programme.region_cut.is_not(None), Programme.region_cut, Programme.name, Programme.id
        ),
        lambda items: [out.programme(p) for p in items],
        lambda p: p.updated_at,
    )


@operation(
    f"/programmes/<{ID}:programme_id>",
    tag="projects",
    summary=_l("Show a programme"),
    response=ref("Programme"),
)
def show_programme(programme_id: int) -> Response:
    """Show a programme (as its public page does, also when no longer active)."""
    found = db.session.get(Programme, programme_id)
    if found is None:
        abort(404)
    return json_response(out.programme(found), found.updated_at)


def _project_options() -> list[Any]:
    return [
        selectinload(FundedProject.fundings).joinedload(ProjectFunding.programme),
        selectinload(FundedProject.milestones),
        selectinload(FundedProject.photos),
        joinedload(FundedProject.organization).lazyload(Organization.locations),
    ]


def _published_round_ids(projects: list[FundedProject]) -> set[int]:
    ids = {p.round_id for p in projects if p.round_id is not None}
    return set(
        db.session.scalars(
            select(Round.id).where(Round.id.in_(ids), Round.published_at.is_not(None))
        )
    )


def _project_changed(p: FundedProject) -> Any:
    return latest(
        p.updated_at,
        p.organization.updated_at if p.organization else None,
        *(f.programme.updated_at for f in p.fundings),
        *(photo.created_at for photo in p.photos),
    )


@operation(
    "/projects",
    tag="projects",
    summary=_l("List the funded projects"),
    params=(
        MUNICIPALITY,
        REGION,
        Param(
            "year",
            _l("Only projects of this year."),
            {"type": "integer", "minimum": 1900, "maximum": 2200},
        ),
        Param(
            "status",
            _l("Only projects in this status."),
            {"type": "string", "enum": PROJECT_STATUSES},
        ),
        _number("programme", _l("Only projects co-financed by this programme (its id).")),
        _number("round", _l("Only projects that won in this round (its id).")),
    ),
    response=ref("ProjectPage"),
    paginated=True,
)
def list_projects() -> Response:
    """List the funded projects of active municipalities, newest year first."""
    statement = (
        select(FundedProject)
        .where(FundedProject.municipality_id.in_(_active_municipalities()))
        .options(*_project_options())
    )
    statement = _place_filters(statement, FundedProject.municipality_id)
    year = int_arg("year", low=1900, high=2200)
    if year is not None:
        statement = statement.where(FundedProject.year == year)
    status = str_arg("status", choices=PROJECT_STATUSES)
    if status:
        statement = statement.where(FundedProject.status == status)
    programme_id = int_arg("programme")
    if programme_id is not None:
        statement = statement.where(
            FundedProject.fundings.any(ProjectFunding.programme_id == programme_id)
        )
    round_id = int_arg("round")
    if round_id is not None:
        statement = statement.where(
            FundedProject.round_id == round_id,
            FundedProject.round_id.in_(_public_rounds().with_only_columns(Round.id)),
        )
    return _page(
        statement.order_by(FundedProject.year.desc(), FundedProject.title, FundedProject.id),
        _projects,
        _project_changed,
    )


def _projects(items: list[FundedProject]) -> list[Any]:
    rounds = _published_round_ids(items)
    return [out.project(p, rounds) for p in items]


@operation(
    f"/projects/<{ID}:project_id>",
    tag="projects",
    summary=_l("Show a funded project"),
    response=ref("Project"),
)
def show_project(project_id: int) -> Response:
    """Show a funded project with its co-financing, milestones and photos."""
    found = _found(
        select(FundedProject)
        .where(
            FundedProject.id == project_id,
            FundedProject.municipality_id.in_(_active_municipalities()),
        )
        .options(*_project_options())
    )
    return json_response(out.project(found, _published_round_ids([found])), _project_changed(found))


# ----------------------------------------------------------------------------- economy


@operation(
    "/organizations",
    tag="economy",
    summary=_l("List the verified social-economy organizations"),
    params=(
        MUNICIPALITY,
        REGION,
        COMUNA,
        _text("q", _l("Words to find in the name or products.")),
        Param(
            "sector", _l("Only this economic sector."), {"type": "string", "enum": list(SECTORS)}
        ),
        Param(
            "legal_form", _l("Only this legal form."), {"type": "string", "enum": list(LEGAL_FORMS)}
        ),
        Param(
            "qualifier",
            _l("Only those with this qualifier."),
            {"type": "string", "enum": list(QUALIFIERS)},
        ),
    ),
    response=ref("OrganizationPage"),
    paginated=True,
)
def list_organizations() -> Response:
    """List verified organizations of active municipalities, searched like the directory."""
    ids = _place_filters(_active_municipalities(), Municipality.id)
    statement = directory_query(
        municipality_ids=db.session.scalars(ids).all(),
        q=str_arg("q"),
        sector=str_arg("sector", choices=SECTORS),
        legal_form=str_arg("legal_form", choices=LEGAL_FORMS),
        qualifier=str_arg("qualifier", choices=QUALIFIERS),
        comuna_cut=str_arg("comuna", limit=5),
    )
    return _page(
        statement, lambda items: [out.organization(o) for o in items], lambda o: o.updated_at
    )


@operation(
    f"/organizations/<{ID}:organization_id>",
    tag="economy",
    summary=_l("Show a verified organization"),
    response=ref("Organization"),
)
def show_organization(organization_id: int) -> Response:
    """Show a verified organization of an active municipality."""
    found = _found(
        select(Organization).where(
            Organization.id == organization_id,
            Organization.status == "verified",
            Organization.municipality_id.in_(_active_municipalities()),
        )
    )
    return json_response(out.organization(found), found.updated_at)


def _fair_options() -> list[Any]:
    return [
        selectinload(Fair.organizers).lazyload(Organization.locations),
        selectinload(Fair.vendors).lazyload(Organization.locations),
    ]


def _fair_changed(fair: Fair, now: Any) -> Any:
    """Return when the fair's answer last changed; its next dates move as fair days end."""
    rules, extras = rules_of(fair)
    today = now.date()
    ended = [
        o.end
        for o in occurrences(rules, extras, today - timedelta(days=8), today + timedelta(days=1))
        if o.end <= now
    ]
    # With no fair day over in the last week, a week ago is a safe (late enough) bound.
    return latest(
        fair.updated_at,
        *(o.updated_at for o in (*fair.organizers, *fair.vendors)),
        max(ended) if ended else now - timedelta(days=7),
    )


@operation(
    "/fairs",
    tag="economy",
    summary=_l("List the street fairs and markets"),
    params=(
        MUNICIPALITY,
        REGION,
        COMUNA,
        Param("kind", _l("Only this kind of fair."), {"type": "string", "enum": list(FAIR_KINDS)}),
    ),
    response=ref("FairPage"),
    paginated=True,
)
def list_fairs() -> Response:
    """List the active fairs of active municipalities, with their schedules and next dates."""
    now = utcnow()
    statement = (
        select(Fair)
        .where(Fair.active.is_(True), Fair.municipality_id.in_(_active_municipalities()))
        .options(*_fair_options())
    )
    statement = _place_filters(statement, Fair.municipality_id)
    comuna = str_arg("comuna", limit=5)
    if comuna:
        statement = statement.where(
            Fair.municipality_id.in_(
                select(Municipality.id).where(Municipality.comuna_cut == comuna)
            )
        )
    kind = str_arg("kind", choices=FAIR_KINDS)
    if kind:
        statement = statement.where(Fair.kind == kind)
    return _page(
        statement.order_by(Fair.name, Fair.id),
        lambda items: [out.fair(f, next_dates(f, now, 3)) for f in items],
        lambda f: _fair_changed(f, now),
    )


@operation(
    f"/fairs/<{ID}:fair_id>",
    tag="economy",
    summary=_l("Show a fair with its next dates"),
    response=ref("Fair"),
)
def show_fair(fair_id: int) -> Response:
    """Show an active fair and its next six dates."""
    now = utcnow()
    found = _found(
        select(Fair)
        .where(
            Fair.id == fair_id,
            Fair.active.is_(True),
            Fair.municipality_id.in_(_active_municipalities()),
        )
        .options(*_fair_options())
    )
    return json_response(out.fair(found, next_dates(found, now, 6)), _fair_changed(found, now))
