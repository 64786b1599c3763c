"""Public pages: directory of organizations, fairs today and this week, feeds, self-registration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal.accounts.services import AccountError, create_user
from portal.economy import bp
from portal.economy.feeds import calendar, event_jsonld
from portal.economy.forms import RegistrationForm, coordinate
from portal.economy.models import Fair, Organization
from portal.economy.schedule import local_today
from portal.economy.services import (
    LocationData,
    comunas_of_region,
    directory_query,
    fair_days,
    fair_map_points,
    map_points_of_organizations,
    next_dates,
    public_fairs,
    register_organization,
)
from portal.economy.vocab import (
    FAIR_KINDS,
    LEGAL_FORMS,
    QUALIFIERS,
    SECTORS,
    STATUSES,
    WEEKDAY_LABELS,
    choices,
    label,
)
from portal.extensions import db, limiter
from portal.geo.models import Comuna, Municipality, Region
from portal.geo.services import municipality_by_slug
from portal.pagination import paginate

MAP_POINTS_LIMIT = 500


# Globals (not a context processor) so that imported macros see them too.
for _name, _value in {
    "vocab_label": label,
    "LEGAL_FORMS": LEGAL_FORMS,
    "SECTORS": SECTORS,
    "QUALIFIERS": QUALIFIERS,
    "FAIR_KINDS": FAIR_KINDS,
    "STATUSES": STATUSES,
    "WEEKDAY_LABELS": WEEKDAY_LABELS,
}.items():
    bp.add_app_template_global(_value, _name)  # type: ignore[arg-type]


def _municipality(slug: str) -> Municipality:
    municipality = municipality_by_slug(db.session, slug)
    if municipality is None:
        abort(404)
    return municipality


def _map_settings() -> dict[str, str]:
    return {
        "tiles": current_app.config["MAP_TILE_URL"],
        "attribution": current_app.config["MAP_ATTRIBUTION"],
    }


def _filters() -> dict[str, str]:
    args = request.args
    return {
        "q": args.get("q", "").strip()[:100],
        "sector": args.get("sector", "") if args.get("sector") in SECTORS else "",
        "forma": args.get("forma", "") if args.get("forma") in LEGAL_FORMS else "",
        "calificador": args.get("calificador", "") if args.get("calificador") in QUALIFIERS else "",
        "comuna": args.get("comuna", "").strip()[:5],
    }


def organization_url(org: Organization) -> str:
    """Return the public page of an organization."""
    return url_for("economy.organization", slug=org.municipality.slug, org_id=org.id)


def fair_url(fair: Fair, external: bool = False) -> str:
    """Return the public page of a fair."""
    return url_for("economy.fair", slug=fair.municipality.slug, fair_id=fair.id, _external=external)


def _directory(
    municipality_ids: list[int], filters: dict[str, str], comuna_cut: str
) -> tuple[Any, list[dict[str, Any]]]:
    statement = directory_query(
        municipality_ids=municipality_ids,
        q=filters["q"],
        sector=filters["sector"],
        legal_form=filters["forma"],
        qualifier=filters["calificador"],
        comuna_cut=comuna_cut,
    )
    page = paginate(statement, per_page=20)
    orgs = db.session.scalars(statement.limit(MAP_POINTS_LIMIT)).all()
    return page, map_points_of_organizations(orgs, organization_url)


@bp.route("/<slug>/organizaciones/")
def directory(slug: str) -> str:
    """List a municipality's verified organizations, searchable, filterable, with a map."""
    municipality = _municipality(slug)
    filters = _filters()
    page, points = _directory([municipality.id], filters, "")
    return render_template(
        "economy/directory.html",
        municipality=municipality,
        region=None,
        page=page,
        points=points,
        filters=filters,
        sectors=choices(SECTORS),
        forms=choices(LEGAL_FORMS),
        qualifiers=choices(QUALIFIERS),
        comunas=[],
        map=_map_settings(),
    )


@bp.route("/regiones/<region_slug>/organizaciones/")
def region_directory(region_slug: str) -> str:
    """List the verified organizations of every municipality of a region, by comuna."""
    region = db.session.scalar(select(Region).where(Region.slug == region_slug))
    if region is None:
        abort(404)
    municipality_ids = list(
        db.session.scalars(
            select(Municipality.id)
            .join(Municipality.comuna)
            .where(Comuna.region_cut == region.cut, Municipality.active.is_(True))
        )
    )
    filters = _filters()
    comunas = comunas_of_region(db.session, region.cut)
    comuna_cut = filters["comuna"] if filters["comuna"] in {c.cut for c in comunas} else ""
    filters["comuna"] = comuna_cut
    page, points = _directory(municipality_ids, filters, comuna_cut)
    return render_template(
        "economy/directory.html",
        municipality=None,
        region=region,
        page=page,
        points=points,
        filters=filters,
        sectors=choices(SECTORS),
        forms=choices(LEGAL_FORMS),
        qualifiers=choices(QUALIFIERS),
        comunas=[(c.cut, c.name) for c in comunas],
        map=_map_settings(),
    )


def _can_see_unpublished(org: Organization) -> bool:
    if not current_user.is_authenticated:
        return False
    return (
        org.representative_user_id == current_user.id
        or org.municipality_id in current_user.municipality_ids()
    )


@bp.route("/<slug>/organizaciones/<int:org_id>")
def organization(slug: str, org_id: int) -> str | Response:
    """Show an organization's public page (its representative and staff also see it while pending)."""
    municipality = _municipality(slug)
    org = db.session.get(Organization, org_id)
    if org is None or org.municipality_id != municipality.id:
        abort(404)
    if org.status == "merged" and org.merged_into is not None and org.merged_into.is_public:
        return redirect(organization_url(org.merged_into), code=301)
    if not org.is_public and not _can_see_unpublished(org):
        abort(404)
    fairs = db.session.scalars(
        select(Fair)
        .where(
            Fair.active.is_(True),
            Fair.organizers.any(Organization.id == org.id)
            | Fair.vendors.any(Organization.id == org.id),
        )
        .order_by(Fair.name)
    ).all()
    points = map_points_of_organizations([org], organization_url)
    return render_template(
        "economy/organization.html",
        municipality=municipality,
        org=org,
        fairs=fairs,
        points=points,
        map=_map_settings(),
    )


@bp.route("/<slug>/organizaciones/registrar", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register(slug: str) -> str | Response:
    """Let an organization register itself; it stays pending until the municipality verifies it."""
    municipality = _municipality(slug)
    form = RegistrationForm()
    form.needs_account = not current_user.is_authenticated
    form.set_comunas(
        [(c.cut, c.name) for c in comunas_of_region(db.session, municipality.region_cut)]
    )
    if not form.is_submitted():
        for entry in form.locations:
            entry.form.comuna_cut.data = municipality.comuna_cut
    if form.validate_on_submit():
        user = current_user if current_user.is_authenticated else None
        new_account = False
        if user is None:
            try:
                user = create_user(
                    db.session,
                    form.representative_email.data or "",
                    form.representative_name.data or "",
                    form.password.data,
                )
                new_account = True
            except AccountError:
                form.representative_email.errors.append(
                    _(
                        "An account with this email already exists: sign in first, then register the organization."
                    )
                )
        if user is not None:
            org = register_organization(
                db.session, municipality, form.values(), _locations(form), user
            )
            db.session.commit()
            if new_account:
                login_user(user)
            flash(
                _(
                    "Thank you. %(name)s is registered and waits for the municipality to verify it.",
                    name=org.name,
                ),
                "success",
            )
            return redirect(organization_url(org))
    return render_template("economy/register.html", municipality=municipality, form=form)


def _locations(form: Any) -> list[LocationData]:
    found = []
    for entry in form.locations:
        sub = entry.form
        if sub.address.data:
            found.append(
                LocationData(
                    address=sub.address.data,
                    comuna_cut=sub.comuna_cut.data,
                    name=sub.name.data or "",
                    latitude=coordinate(sub.latitude.data),
                    longitude=coordinate(sub.longitude.data),
                )
            )
    return found


# --- fairs ------------------------------------------------------------------------------------


@bp.route("/<slug>/ferias/")
def fairs(slug: str) -> str:
    """List a comuna's fairs: today, the next seven days, and all of them."""
    municipality = _municipality(slug)
    found = public_fairs(db.session, municipality_ids=[municipality.id])
    today = local_today()
    week = fair_days(found, today, today + timedelta(days=6))
    now = datetime.now(UTC)
    return render_template(
        "economy/fairs.html",
        municipality=municipality,
        fairs=found,
        today=today,
        today_days=[d for d in week if d.occurrence.local_date == today and d.occurrence.end > now],
        week_days=[d for d in week if d.occurrence.local_date > today],
        next_of={f.id: next_dates(f, now, 1) for f in found},
        points=fair_map_points(found, fair_url),
        map=_map_settings(),
        kinds=FAIR_KINDS,
    )


@bp.route("/<slug>/ferias/<int:fair_id>")
def fair(slug: str, fair_id: int) -> str:
    """Show a fair: where, when next (Santiago time), who organizes and sells; JSON-LD Event."""
    municipality = _municipality(slug)
    found = db.session.get(Fair, fair_id)
    if found is None or found.municipality_id != municipality.id or not found.active:
        abort(404)
    upcoming = next_dates(found, count=6)
    jsonld = event_jsonld(
        found,
        fair_url(found, external=True),
        upcoming,
        lambda o: url_for("economy.organization", slug=slug, org_id=o.id, _external=True),
    )
    return render_template(
        "economy/fair.html",
        municipality=municipality,
        fair=found,
        upcoming=upcoming,
        jsonld=jsonld,
        points=fair_map_points([found], fair_url),
        map=_map_settings(),
        kinds=FAIR_KINDS,
        vendors=[o for o in found.vendors if o.is_public],
        organizers=[o for o in found.organizers if o.is_public],
    )


def _ics(body: bytes, filename: str) -> Response:
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.route("/<slug>/ferias/<int:fair_id>.ics")
def fair_ics(slug: str, fair_id: int) -> Response:
    """Serve a fair's iCalendar feed."""
    municipality = _municipality(slug)
    found = db.session.get(Fair, fair_id)
    if found is None or found.municipality_id != municipality.id or not found.active:
        abort(404)
    body = calendar(found.name, [found], lambda f: fair_url(f, external=True), request.host)
    return _ics(body, f"feria-{found.id}.ics")


@bp.route("/<slug>/ferias.ics")
def comuna_ics(slug: str) -> Response:
    """Serve the iCalendar feed of every fair of a comuna."""
    municipality = _municipality(slug)
    found = public_fairs(db.session, municipality_ids=[municipality.id])
    name = _("Fairs and markets of %(comuna)s", comuna=municipality.comuna.name)
    body = calendar(name, found, lambda f: fair_url(f, external=True), request.host)
    return _ics(body, f"ferias-{municipality.slug}.ics")


def _point() -> tuple[float, float] | None:
    try:
        lat, lon = float(request.args.get("lat", "")), float(request.args.get("lon", ""))
    except ValueError:
        return None
    if -90 <= lat <= 90 and -180 <= lon <= 180:
        return lat, lon
    return None


def _near(days: int, title: str, endpoint: str) -> str:
    comunas = db.session.execute(
        select(Comuna.slug, Comuna.name, Comuna.cut)
        .join(Municipality, Municipality.comuna_cut == Comuna.cut)
        .join(Fair, Fair.municipality_id == Municipality.id)
        .where(Fair.active.is_(True), Municipality.active.is_(True))
        .distinct()
        .order_by(Comuna.name)
    ).all()
    chosen = request.args.get("comuna", "")
    comuna_cut = next((c.cut for c in comunas if chosen in (c.slug, c.cut)), "")
    point = _point()
    found = public_fairs(db.session, comuna_cut=comuna_cut)
    today = local_today()
    listed = fair_days(found, today, today + timedelta(days=days - 1), near=point)
    now = datetime.now(UTC)
    listed = [d for d in listed if d.occurrence.end > now]
    return render_template(
        "economy/fairs_near.html",
        title=title,
        endpoint=endpoint,
        days=listed,
        comunas=comunas,
        comuna=next((c.slug for c in comunas if c.cut == comuna_cut), ""),
        point=point,
        today=today,
        points=fair_map_points({d.fair.id: d.fair for d in listed}.values(), fair_url),
        map=_map_settings(),
        kinds=FAIR_KINDS,
    )


@bp.route("/ferias/hoy")
def fairs_today() -> str:
    """List the fairs held today across the portal, near a place or in a comuna."""
    return _near(1, _("Fairs today"), "economy.fairs_today")


@bp.route("/ferias/semana")
def fairs_week() -> str:
    """List the fairs of the next seven days, near a place or in a comuna."""
    return _near(7, _("Fairs this week"), "economy.fairs_week")
