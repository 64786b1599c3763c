"""Public pages: the programme catalogue, funded projects with progress, follows."""

from __future__ import annotations

import json
from pathlib import Path

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import contains_eager
from werkzeug.wrappers import Response

from portal.accounts.auth import login_required_view
from portal.accounts.forms import ConfirmForm
from portal.budgeting.forms import THEME_LABELS
from portal.economy.schedule import local_today
from portal.extensions import db
from portal.geo.models import Municipality, Region
from portal.geo.services import municipality_by_slug
from portal.pagination import paginate
from portal.programmes import bp
from portal.programmes.exchange import oc4ids
from portal.programmes.models import FundedProject, Programme, ProjectFunding
from portal.programmes.services import (
    ProgrammeError,
    followed_projects,
    funding_summary,
    is_following,
    set_following,
)
from portal.programmes.vocab import AGENCY_LABELS, LEVEL_LABELS, STATUS_LABELS

for _name, _value in {
    "AGENCY_LABELS": AGENCY_LABELS,
    "LEVEL_LABELS": LEVEL_LABELS,
    "PROJECT_STATUS_LABELS": STATUS_LABELS,
    "THEME_LABELS": THEME_LABELS,
}.items():
    bp.add_app_template_global(_value, _name)  # type: ignore[arg-type]


def photo_folder() -> Path:
    """Return where project photos are kept."""
    return Path(current_app.instance_path) / "uploads" / "projects"


def project_url(project: FundedProject, external: bool = False) -> str:
    """Return the public page of a funded project."""
    return url_for(
        "programmes.show_project",
        slug=project.municipality.slug,
        project_id=project.id,
        _external=external,
    )


def error_text(error: ProgrammeError) -> str:
    """Say why a write was refused."""
    messages = {
        "unknown-agency": _("Choose an agency."),
        "unknown-level": _("Choose a level."),
        "region-required": _("Choose the region of a regional or municipal programme."),
        "end-before-start": _("The end is before the start."),
        "code-taken": _("Another programme has this code."),
        "title-required": _("Write a title."),
        "unknown-theme": _("Choose a theme."),
        "unknown-status": _("Choose a status."),
        "negative-amount": _("Amounts are whole pesos, zero or more."),
        "bad-progress": _("Progress is a percentage from 0 to 100."),
        "other-comuna": _("A municipality registers projects of its own comuna."),
        "unknown-organization": _("Choose an organization of this municipality's registry."),
        "half-coordinates": _("Give both latitude and longitude, or neither."),
        "programme-not-open": _("This programme is not open to projects of this region."),
        "already-linked": _("This programme is already linked to the project."),
    }
    return messages.get(error.code, _("The change could not be saved."))


def _municipality(slug: str) -> Municipality:
    municipality = municipality_by_slug(db.session, slug)
    if municipality is None or not municipality.active:
        abort(404)
    return municipality


def _public_project(slug: str, project_id: int) -> FundedProject:
    municipality = _municipality(slug)
    project = db.session.get(FundedProject, project_id)
    if project is None or project.municipality_id != municipality.id:
        abort(404)
    return project


@bp.route("/programas")
def list_programmes() -> str:
    """List the programmes open to projects, national and by region."""
    regions = db.session.scalars(select(Region).order_by(Region.cut)).all()
    region = request.args.get("region", "")[:2]
    statement = select(Programme).where(Programme.active.is_(True))
    if region in {r.cut for r in regions}:
        statement = statement.where(
            (Programme.region_cut == region) | Programme.region_cut.is_(None)
        )
    else:
        region = ""
    programmes = db.session.scalars(
        statement.order_by(Programme.region_cut.is_not(None), Programme.region_cut, Programme.name)
    ).all()
    return render_template(
        "programmes/programmes.html", programmes=programmes, regions=regions, region=region
    )


@bp.route("/programas/<int:programme_id>")
def show_programme(programme_id: int) -> str:
    """Show a programme: what it funds, its rules, its contact and the projects it supports."""
    programme = db.session.get(Programme, programme_id)
    if programme is None:
        abort(404)
    fundings = db.session.scalars(
        select(ProjectFunding)
        .join(ProjectFunding.project)
        .join(FundedProject.municipality)
        .where(
            ProjectFunding.programme_id == programme.id,
            Municipality.active.is_(True),
        )
        .options(contains_eager(ProjectFunding.project))  # the join above, not a query per row
        .order_by(FundedProject.year.desc(), FundedProject.title)
    ).all()
    return render_template(
        "programmes/programme.html",
        programme=programme,
        fundings=fundings,
        total=sum(f.amount for f in fundings),
        project_url=project_url,
    )


@bp.route("/<slug>/proyectos/")
def list_projects(slug: str) -> str:
    """List a municipality's funded projects."""
    municipality = _municipality(slug)
    page = paginate(
        select(FundedProject)
        .where(FundedProject.municipality_id == municipality.id)
        .order_by(FundedProject.year.desc(), FundedProject.title),
        per_page=20,
    )
    return render_template(
        "programmes/projects.html", municipality=municipality, page=page, project_url=project_url
    )


@bp.route("/<slug>/proyectos/<int:project_id>")
def show_project(slug: str, project_id: int) -> str:
    """Show a funded project: progress, timeline, co-financing, photos."""
    project = _public_project(slug, project_id)
    following = current_user.is_authenticated and is_following(db.session, current_user, project)
    return render_template(
        "programmes/project.html",
        project=project,
        municipality=project.municipality,
        summary=funding_summary(project),
        late=project.late_milestones(local_today()),
        following=following,
        confirm=ConfirmForm(),
        today=local_today(),
    )


@bp.route("/<slug>/proyectos/<int:project_id>.json")
def project_json(slug: str, project_id: int) -> Response:
    """Give a funded project as open data, in OC4IDS project fields."""
    project = _public_project(slug, project_id)
    body = json.dumps(oc4ids(project, project_url(project, external=True)), ensure_ascii=False)
    return Response(body, mimetype="application/json")


@bp.route("/<slug>/proyectos/<int:project_id>/fotos/<filename>")
def project_photo(slug: str, project_id: int, filename: str) -> Response:
    """Serve a photo of a project (names are random; only registered names are served)."""
    project = _public_project(slug, project_id)
    if not any(filename in (p.filename, p.thumbnail) for p in project.photos):
        abort(404)
    response = send_from_directory(photo_folder(), filename, max_age=31536000)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


@bp.route("/<slug>/proyectos/<int:project_id>/seguir", methods=["POST"])
@login_required_view
def follow_project(slug: str, project_id: int) -> Response:
    """Follow a project, or stop following it."""
    project = _public_project(slug, project_id)
    if ConfirmForm().validate_on_submit():
        follow = request.form.get("seguir") != "no"
        set_following(db.session, current_user, project, follow)
        db.session.commit()
        flash(
            _("You follow this project: it is listed under your projects.")
            if follow
            else _("You no longer follow this project."),
            "success",
        )
    return redirect(project_url(project))


@bp.route("/mis-proyectos")
@login_required_view
def my_projects() -> str:
    """List the projects the signed-in person follows."""
    return render_template(
        "programmes/followed.html",
        projects=followed_projects(db.session, current_user),
        project_url=project_url,
    )
