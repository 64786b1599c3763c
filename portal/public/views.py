"""Home page, municipality pages, the language switch and the health check."""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select, text
from sqlalchemy.orm import contains_eager
from werkzeug.wrappers import Response

from portal.accounts.forms import ConfirmForm
from portal.budgeting.models import Round
from portal.budgeting.phases import current_phase, next_step
from portal.database import utcnow
from portal.extensions import db
from portal.geo.models import Comuna, Municipality, Region
from portal.geo.services import municipality_by_slug
from portal.pagecache import cached_public_page, fresh_until
from portal.public import bp
from portal.urls import safe_next


@bp.route("/")
@cached_public_page()
def home() -> str:
    """List the municipalities on the portal, by region from north to south."""
    rows = db.session.execute(
        select(Municipality, Region)
        .join(Municipality.comuna)
        .options(contains_eager(Municipality.comuna))  # the comuna joined once
        .join(Region, Comuna.region_cut == Region.cut)
        .where(Municipality.active.is_(True))
        .order_by(Region.cut, Municipality.name)
    ).all()
    by_region: dict[Region, list[Municipality]] = {}
    for municipality, region in rows:
        by_region.setdefault(region, []).append(municipality)
    active = db.session.scalars(
        select(Round)
        .join(Round.municipality)
        .options(contains_eager(Round.municipality))  # joined once, not again to load it
        .where(
            Round.published_at.is_not(None),
            Round.closed_start > utcnow(),
            Municipality.active.is_(True),
        )
        .order_by(Round.voting_start)
    ).all()
    for round_ in active:  # the page shows each round's phase
        upcoming = next_step(round_)
        fresh_until(upcoming[1] if upcoming else None)
    return render_template(
        "public/home.html", by_region=by_region, active=active, phase_of=current_phase
    )


@bp.route("/idioma", methods=["POST"])
def set_language() -> Response:
    """Remember the visitor's language in the session and a cookie."""
    form = ConfirmForm()
    lang = request.form.get("lang", "")
    target = safe_next(request.form.get("next"), url_for("public.home"))
    if not form.validate_on_submit() or lang not in current_app.config["LANGUAGES"]:
        return redirect(target)
    session["lang"] = lang
    response = make_response(redirect(target))
    response.set_cookie(
        "lang",
        lang,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=current_app.config["HTTPS"],
        httponly=True,
    )
    return response


@bp.route("/salud")
def health() -> tuple[Response, int]:
    """Answer whether the portal and its database respond (for load balancers)."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database failure means unhealthy
        return jsonify(status="unavailable"), 503
    return jsonify(status="ok"), 200


@bp.route("/<slug>/")
def municipality(slug: str) -> str:
    """Show a municipality's public page."""
    found = municipality_by_slug(db.session, slug)
    if found is None:
        abort(404)
    rounds = db.session.scalars(
        select(Round)
        .where(Round.municipality_id == found.id, Round.published_at.is_not(None))
        .order_by(Round.proposals_start.desc())
    ).all()
    return render_template(
        "public/municipality.html", municipality=found, rounds=rounds, phase_of=current_phase
    )


@bp.route("/favicon.ico")
def favicon() -> Response:
    """Serve the icon browsers ask for at the root."""
    return current_app.send_static_file("img/favicon.ico")
