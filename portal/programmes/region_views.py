"""The regional view of funded projects, its exports, and the programme catalogue's staff pages."""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal.accounts.auth import admin_required, region_viewer_required
from portal.budgeting.forms import THEME_LABELS
from portal.economy.schedule import local_today
from portal.economy.services import comunas_of_region
from portal.extensions import db
from portal.geo.models import Comuna, Region
from portal.i18n import money
from portal.programmes import bp
from portal.programmes.exchange import oc4ids, projects_csv
from portal.programmes.forms import ProgrammeForm
from portal.programmes.models import PROJECT_STATUSES, FundedProject, Programme
from portal.programmes.public_views import error_text, project_url
from portal.programmes.services import (
    ProgrammeError,
    ProjectFilters,
    create_programme,
    duplicate_warnings,
    late_projects,
    programmes_for_region,
    region_projects_query,
    totals_by_comuna,
    totals_by_programme,
    update_programme,
)
from portal.voting.charts import Bar, bar_chart

MAP_POINTS_LIMIT = 500


def _map_settings() -> dict[str, str]:
    return {
        "tiles": current_app.config["MAP_TILE_URL"],
        "attribution": current_app.config["MAP_ATTRIBUTION"],
    }


def _filters(comunas: set[str], programmes: set[int]) -> tuple[ProjectFilters, dict[str, str]]:
    """Read the filters of the query string; a comuna or programme not offered is ignored."""
    args = request.args
    raw = {
        "comuna": args.get("comuna", "")[:5],
        "programa": args.get("programa", "")[:9],
        "estado": args.get("estado", "")[:20],
        "tema": args.get("tema", "")[:40],
        "anio": args.get("anio", "")[:4],
    }
    programme = int(raw["programa"]) if raw["programa"].isdigit() else None
    year = int(raw["anio"]) if raw["anio"].isdigit() else None
    filters = ProjectFilters(
        comuna=raw["comuna"] if raw["comuna"] in comunas else "",
        programme=programme if programme in programmes else None,
        status=raw["estado"] if raw["estado"] in PROJECT_STATUSES else "",
        theme=raw["tema"] if raw["tema"] in THEME_LABELS else "",
        year=year,
    )
    shown = {
        "comuna": filters.comuna,
        "programa": str(filters.programme or ""),
        "estado": filters.status,
        "tema": filters.theme,
        "anio": str(filters.year or ""),
    }
    return filters, shown


@dataclass
class _RegionView:
    projects: list[FundedProject]
    shown: dict[str, str]
    comunas: list[Comuna]
    programmes: list[Programme]


def _region_projects() -> _RegionView:
    comunas = comunas_of_region(db.session, g.region.cut)
    programmes = programmes_for_region(db.session, g.region.cut)
    filters, shown = _filters({c.cut for c in comunas}, {p.id for p in programmes})
    projects = list(db.session.scalars(region_projects_query(g.region.cut, filters)))
    return _RegionView(projects, shown, comunas, programmes)


@bp.route("/region/<region>/proyectos/")
@region_viewer_required
def region_projects(region: str) -> str:
    """Show every funded project of the region's comunas: totals, map, lateness, duplicates."""
    view = _region_projects()
    projects = view.projects
    today = local_today()
    by_programme = totals_by_programme(projects)
    by_comuna = totals_by_comuna(projects)
    points = [
        {"name": p.title, "url": project_url(p), "lat": p.latitude, "lon": p.longitude}
        for p in projects
        if p.latitude is not None and p.longitude is not None
    ][:MAP_POINTS_LIMIT]
    years = list(
        db.session.scalars(
            region_projects_query(g.region.cut, ProjectFilters())
            .with_only_columns(FundedProject.year)
            .distinct()
            .order_by(None)
            .order_by(FundedProject.year.desc())
        )
    )
    return render_template(
        "programmes/region/projects.html",
        region=g.region,
        projects=projects,
        filters=view.shown,
        comunas=view.comunas,
        programmes=view.programmes,
        years=years,
        by_programme=by_programme,
        by_comuna=by_comuna,
        programme_chart=bar_chart(
            [Bar(t.label, t.amount, money(t.amount)) for t in by_programme],
            _("Contributions by programme"),
            chart_id="chart-programmes",
        )
        if by_programme
        else None,
        comuna_chart=bar_chart(
            [Bar(t.label, t.budget, money(t.budget)) for t in by_comuna],
            _("Budget of funded projects by comuna"),
            chart_id="chart-comunas",
        )
        if by_comuna
        else None,
        late=late_projects(projects, today),
        duplicates=duplicate_warnings(projects),
        points=points,
        map=_map_settings(),
        total_budget=sum(p.budget for p in projects),
        total_funded=sum(p.funded_total for p in projects),
        project_url=project_url,
        today=today,
    )


def _download(body: str, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.route("/region/<region>/proyectos/exportar.csv")
@region_viewer_required
def region_export_csv(region: str) -> Response:
    """Download the region's funded projects (as filtered) as CSV."""
    projects = _region_projects().projects
    body = projects_csv(projects, lambda p: project_url(p, external=True), local_today())
    return _download("\ufeff" + body, "text/csv", f"proyectos-region-{region}.csv")


@bp.route("/region/<region>/proyectos/exportar.json")
@region_viewer_required
def region_export_json(region: str) -> Response:
    """Download the region's funded projects (as filtered) in OC4IDS project fields."""
    projects = _region_projects().projects
    data = {"projects": [oc4ids(p, project_url(p, external=True), public=False) for p in projects]}
    return _download(
        json.dumps(data, ensure_ascii=False, indent=2),
        "application/json",
        f"proyectos-region-{region}.json",
    )


# --- the programme catalogue (regional staff: their region's; admins: every one) ----------------


def _programme_form(form: ProgrammeForm, region: Region | None) -> None:
    if region is not None:
        form.region_cut.choices = [(region.cut, region.name)]
        form.level.choices = [c for c in form.level.choices if c[0] != "national"]  # type: ignore[union-attr]
    else:
        regions = db.session.scalars(select(Region).order_by(Region.cut)).all()
        form.region_cut.choices = [("", _("Whole country")), *((r.cut, r.name) for r in regions)]


def _programme_page(
    form: ProgrammeForm, programme: Programme | None, region: Region | None, back: str
) -> str:
    return render_template(
        "programmes/staff/programme_form.html",
        form=form,
        programme=programme,
        region=region,
        back=back,
    )


def _save_programme(
    form: ProgrammeForm, programme: Programme | None, region: Region | None
) -> Programme | None:
    """Create or update from a validated form; on a refusal, add the message and return None."""
    values = form.values()
    if region is not None:
        values["region_cut"] = region.cut
    try:
        if programme is None:
            programme = create_programme(db.session, values)
            flash(_("%(name)s has been added to the catalogue.", name=programme.name), "success")
        else:
            changed = update_programme(db.session, programme, values)
            flash(
                _("The programme has been saved.") if changed else _("Nothing changed."),
                "success" if changed else "info",
            )
    except ProgrammeError as error:
        db.session.rollback()
        target = form.code if error.code == "code-taken" else form.name
        target.errors.append(error_text(error))  # type: ignore[attr-defined]
        return None
    db.session.commit()
    return programme


def _load_programme(programme: Programme) -> ProgrammeForm:
    form = ProgrammeForm(obj=programme)
    form.region_cut.data = programme.region_cut or ""
    form.fair_kinds.data = programme.fair_kind_list
    return form


@bp.route("/region/<region>/programas/")
@region_viewer_required
def region_programmes(region: str) -> str:
    """List the region's programmes (and the national ones, read only)."""
    programmes = db.session.scalars(
        select(Programme)
        .where((Programme.region_cut == g.region.cut) | Programme.region_cut.is_(None))
        .order_by(Programme.region_cut.is_(None), Programme.name)
    ).all()
    return render_template(
        "programmes/staff/programmes.html", programmes=programmes, region=g.region
    )


@bp.route("/region/<region>/programas/nuevo", methods=["GET", "POST"])
@region_viewer_required
def region_new_programme(region: str) -> str | Response:
    """Add a programme of the region."""
    form = ProgrammeForm()
    _programme_form(form, g.region)
    if not form.is_submitted():
        form.level.data = "regional"
    if form.validate_on_submit():
        programme = _save_programme(form, None, g.region)
        if programme is not None:
            return redirect(
                url_for(
                    "programmes.region_edit_programme", region=region, programme_id=programme.id
                )
            )
    back = url_for("programmes.region_programmes", region=region)
    return _programme_page(form, None, g.region, back)


@bp.route("/region/<region>/programas/<int:programme_id>", methods=["GET", "POST"])
@region_viewer_required
def region_edit_programme(region: str, programme_id: int) -> str | Response:
    """Edit a programme of the region."""
    programme = db.session.get(Programme, programme_id)
    if programme is None or programme.region_cut != g.region.cut:
        abort(404)
    form = _load_programme(programme) if request.method == "GET" else ProgrammeForm()
    _programme_form(form, g.region)
    if form.validate_on_submit() and _save_programme(form, programme, g.region) is not None:
        return redirect(
            url_for("programmes.region_edit_programme", region=region, programme_id=programme.id)
        )
    back = url_for("programmes.region_programmes", region=region)
    return _programme_page(form, programme, g.region, back)


@bp.route("/admin/programas/")
@admin_required
def admin_programmes() -> str:
    """List every programme of the catalogue."""
    programmes = db.session.scalars(
        select(Programme).order_by(
            Programme.region_cut.is_not(None), Programme.region_cut, Programme.name
        )
    ).all()
    return render_template("programmes/staff/programmes.html", programmes=programmes, region=None)


@bp.route("/admin/programas/nuevo", methods=["GET", "POST"])
@admin_required
def admin_new_programme() -> str | Response:
    """Add a programme: national, or of any region."""
    form = ProgrammeForm()
    _programme_form(form, None)
    if not form.is_submitted():
        form.level.data = "national"
    if form.validate_on_submit():
        programme = _save_programme(form, None, None)
        if programme is not None:
            return redirect(url_for("programmes.admin_edit_programme", programme_id=programme.id))
    return _programme_page(form, None, None, url_for("programmes.admin_programmes"))


@bp.route("/admin/programas/<int:programme_id>", methods=["GET", "POST"])
@admin_required
def admin_edit_programme(programme_id: int) -> str | Response:
    """Edit any programme."""
    programme = db.session.get(Programme, programme_id)
    if programme is None:
        abort(404)
    form = _load_programme(programme) if request.method == "GET" else ProgrammeForm()
    _programme_form(form, None)
    if form.validate_on_submit() and _save_programme(form, programme, None) is not None:
        return redirect(url_for("programmes.admin_edit_programme", programme_id=programme.id))
    return _programme_page(form, programme, None, url_for("programmes.admin_programmes"))
