"""Staff pages of a municipality's funded projects: record, co-financing, milestones, photos."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal.accounts.auth import municipal_staff_required
from portal.accounts.forms import ConfirmForm
from portal.budgeting.images import ImageRejected, store_image
from portal.budgeting.messages import image_problem_text
from portal.economy.models import Organization
from portal.economy.schedule import local_today
from portal.extensions import db
from portal.pagination import paginate
from portal.programmes import bp
from portal.programmes.forms import (
    FundingForm,
    MilestoneDoneForm,
    MilestoneForm,
    PhotoForm,
    ProjectForm,
)
from portal.programmes.models import FundedProject, Milestone, Programme, ProjectFunding
from portal.programmes.public_views import error_text, photo_folder, project_url
from portal.programmes.services import (
    ProgrammeError,
    add_funding,
    add_milestone,
    add_photo,
    create_project,
    funding_summary,
    programmes_for_region,
    remove_funding,
    remove_milestone,
    remove_photo,
    set_milestone_done,
    update_project,
)

MAX_PHOTOS = 12


def _project(project_id: int) -> FundedProject:
    project = db.session.get(FundedProject, project_id)
    if project is None or project.municipality_id != g.municipality.id:
        abort(404)
    return project


def _project_form(form: ProjectForm) -> None:
    orgs = db.session.scalars(
        select(Organization)
        .where(Organization.municipality_id == g.municipality.id, Organization.status != "merged")
        .order_by(Organization.name)
    ).all()
    form.organization_id.choices = [("", _("None")), *((str(o.id), o.name) for o in orgs)]


def _funding_form(form: FundingForm, project: FundedProject) -> None:
    linked = {f.programme_id for f in project.fundings}
    form.programme_id.choices = [
        (p.id, p.name)
        for p in programmes_for_region(db.session, g.municipality.region_cut)
        if p.id not in linked
    ]


@bp.route("/gestion/<slug>/proyectos/")
@municipal_staff_required
def staff_projects(slug: str) -> str:
    """List the municipality's funded projects."""
    page = paginate(
        select(FundedProject)
        .where(FundedProject.municipality_id == g.municipality.id)
        .order_by(FundedProject.year.desc(), FundedProject.title),
        per_page=25,
    )
    return render_template(
        "programmes/staff/projects.html",
        municipality=g.municipality,
        page=page,
        today=local_today(),
    )


@bp.route("/gestion/<slug>/proyectos/nuevo", methods=["GET", "POST"])
@municipal_staff_required
def staff_new_project(slug: str) -> str | Response:
    """Register a project funded outside the participatory budget."""
    form = ProjectForm()
    _project_form(form)
    if not form.is_submitted():
        form.year.data = local_today().year
    if form.validate_on_submit():
        try:
            project = create_project(db.session, g.municipality, form.values())
        except ProgrammeError as error:
            form.title.errors.append(error_text(error))
        else:
            db.session.commit()
            flash(_("%(title)s has been registered.", title=project.title), "success")
            return redirect(
                url_for("programmes.staff_edit_project", slug=slug, project_id=project.id)
            )
    return render_template(
        "programmes/staff/project_form.html", municipality=g.municipality, form=form, project=None
    )


def _render_project(project: FundedProject, form: ProjectForm | None = None, **forms: Any) -> str:
    if form is None:
        form = ProjectForm(obj=project, formdata=None)
        form.latitude.data = "" if project.latitude is None else str(project.latitude)
        form.longitude.data = "" if project.longitude is None else str(project.longitude)
        form.organization_id.data = str(project.organization_id or "")
        _project_form(form)
    funding = forms.get("funding") or FundingForm(prefix="funding", formdata=None)
    _funding_form(funding, project)
    return render_template(
        "programmes/staff/project_form.html",
        municipality=g.municipality,
        form=form,
        project=project,
        funding=funding,
        milestone=forms.get("milestone") or MilestoneForm(prefix="milestone", formdata=None),
        photo=forms.get("photo") or PhotoForm(prefix="photo", formdata=None),
        done_form=MilestoneDoneForm,
        confirm=ConfirmForm(),
        summary=funding_summary(project),
        today=local_today(),
        public_url=project_url(project),
        max_photos=MAX_PHOTOS,
        remove_funding_url=lambda f: url_for(
            "programmes.staff_remove_funding",
            slug=g.municipality.slug,
            project_id=project.id,
            funding_id=f.id,
        ),
    )


@bp.route("/gestion/<slug>/proyectos/<int:project_id>", methods=["GET", "POST"])
@municipal_staff_required
def staff_edit_project(slug: str, project_id: int) -> str | Response:
    """Edit a funded project; manage its co-financing, milestones and photos."""
    project = _project(project_id)
    if request.method == "GET":
        return _render_project(project)
    form = ProjectForm()
    _project_form(form)
    if form.validate_on_submit():
        try:
            changed = update_project(db.session, project, form.values())
        except ProgrammeError as error:
            db.session.rollback()
            form.title.errors.append(error_text(error))
        else:
            db.session.commit()
            flash(
                _("The project has been saved.") if changed else _("Nothing changed."),
                "success" if changed else "info",
            )
            return redirect(
                url_for("programmes.staff_edit_project", slug=slug, project_id=project.id)
            )
    return _render_project(project, form)


def _back(project: FundedProject, anchor: str) -> Response:
    return redirect(
        url_for(
            "programmes.staff_edit_project",
            slug=g.municipality.slug,
            project_id=project.id,
            _anchor=anchor,
        )
    )


@bp.route("/gestion/<slug>/proyectos/<int:project_id>/financiamiento", methods=["POST"])
@municipal_staff_required
def staff_add_funding(slug: str, project_id: int) -> str | Response:
    """Link a programme to the project, with its contribution."""
    project = _project(project_id)
    form = FundingForm(prefix="funding")
    _funding_form(form, project)
    if form.validate_on_submit():
        programme = db.session.get(Programme, form.programme_id.data)
        if programme is None:
            abort(404)
        try:
            add_funding(
                db.session,
                project,
                programme,
                {
                    "amount": form.amount.data,
                    "agreement_ref": form.agreement_ref.data or "",
                    "agreement_date": form.agreement_date.data,
                    "start_date": form.start_date.data,
                    "end_date": form.end_date.data,
                },
            )
        except ProgrammeError as error:
            db.session.rollback()
            form.programme_id.errors.append(error_text(error))
        else:
            db.session.commit()
            flash(_("%(name)s has been linked.", name=programme.name), "success")
            if project.over_funded:
                flash(
                    _("The programmes' contributions now exceed the project's budget."), "warning"
                )
            return _back(project, "financiamiento")
    return _render_project(project, funding=form)


@bp.route(
    "/gestion/<slug>/proyectos/<int:project_id>/financiamiento/<int:funding_id>/quitar",
    methods=["POST"],
)
@municipal_staff_required
def staff_remove_funding(slug: str, project_id: int, funding_id: int) -> Response:
    """Unlink a programme from the project."""
    project = _project(project_id)
    funding = db.session.get(ProjectFunding, funding_id)
    if funding is None or funding.project_id != project.id:
        abort(404)
    if ConfirmForm().validate_on_submit():
        remove_funding(db.session, project, funding)
        db.session.commit()
        flash(_("The programme has been unlinked."), "success")
    return _back(project, "financiamiento")


@bp.route("/gestion/<slug>/proyectos/<int:project_id>/hitos", methods=["POST"])
@municipal_staff_required
def staff_add_milestone(slug: str, project_id: int) -> str | Response:
    """Add a milestone with its planned date."""
    project = _project(project_id)
    form = MilestoneForm(prefix="milestone")
    if form.validate_on_submit():
        try:
            add_milestone(
                db.session, project, form.title.data or "", form.planned_on.data, form.done_on.data
            )
        except ProgrammeError as error:
            form.title.errors.append(error_text(error))
        else:
            db.session.commit()
            flash(_("The milestone has been added."), "success")
            return _back(project, "hitos")
    return _render_project(project, milestone=form)


def _milestone(project: FundedProject, milestone_id: int) -> Milestone:
    milestone = db.session.get(Milestone, milestone_id)
    if milestone is None or milestone.project_id != project.id:
        abort(404)
    return milestone


@bp.route("/gestion/<slug>/proyectos/<int:project_id>/hitos/<int:milestone_id>", methods=["POST"])
@municipal_staff_required
def staff_milestone_done(slug: str, project_id: int, milestone_id: int) -> Response:
    """Record the date a milestone was reached (an empty date: not yet)."""
    project = _project(project_id)
    milestone = _milestone(project, milestone_id)
    form = MilestoneDoneForm(prefix=f"m{milestone.id}")
    if form.validate_on_submit():
        set_milestone_done(db.session, project, milestone, form.done_on.data)
        db.session.commit()
        flash(_("The milestone has been saved."), "success")
    else:
        flash(_("Write the date as 14-03-2026 or choose it in the calendar."), "error")
    return _back(project, "hitos")


@bp.route(
    "/gestion/<slug>/proyectos/<int:project_id>/hitos/<int:milestone_id>/quitar", methods=["POST"]
)
@municipal_staff_required
def staff_remove_milestone(slug: str, project_id: int, milestone_id: int) -> Response:
    """Remove a milestone."""
    project = _project(project_id)
    milestone = _milestone(project, milestone_id)
    if ConfirmForm().validate_on_submit():
        remove_milestone(db.session, project, milestone)
        db.session.commit()
        flash(_("The milestone has been removed."), "success")
    return _back(project, "hitos")


@bp.route("/gestion/<slug>/proyectos/<int:project_id>/fotos", methods=["POST"])
@municipal_staff_required
def staff_add_photo(slug: str, project_id: int) -> str | Response:
    """Upload a photo of progress (checked and re-encoded; metadata dropped)."""
    project = _project(project_id)
    form = PhotoForm(prefix="photo")
    if form.validate_on_submit():
        if len(project.photos) >= MAX_PHOTOS:
            form.photo.errors.append(_("A project can have at most %(n)d photos.", n=MAX_PHOTOS))
        else:
            upload = form.photo.data
            try:
                stored = store_image(upload.stream, photo_folder())
            except ImageRejected as error:
                form.photo.errors.append(image_problem_text(error.code, upload.filename or ""))
            else:
                add_photo(
                    db.session,
                    project,
                    stored.filename,
                    stored.thumbnail,
                    stored.width,
                    stored.height,
                    form.caption.data or "",
                )
                db.session.commit()
                flash(_("The photo has been added."), "success")
                return _back(project, "fotos")
    return _render_project(project, photo=form)


@bp.route(
    "/gestion/<slug>/proyectos/<int:project_id>/fotos/<int:photo_id>/quitar", methods=["POST"]
)
@municipal_staff_required
def staff_remove_photo(slug: str, project_id: int, photo_id: int) -> Response:
    """Remove a photo and its files."""
    project = _project(project_id)
    photo = next((p for p in project.photos if p.id == photo_id), None)
    if photo is None:
        abort(404)
    if ConfirmForm().validate_on_submit():
        names = (photo.filename, photo.thumbnail)
        remove_photo(db.session, project, photo)
        db.session.commit()
        for name in names:
            (photo_folder() / name).unlink(missing_ok=True)
        flash(_("The photo has been removed."), "success")
    return _back(project, "fotos")
