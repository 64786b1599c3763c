"""Staff pages of a municipality's registry: organizations, fairs, duplicates, imports, exports."""

from __future__ import annotations

import json
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from portal.accounts.auth import municipal_staff_required
from portal.accounts.forms import ConfirmForm
from portal.economy import bp, exchange
from portal.economy.forms import (
    FairForm,
    ImportForm,
    MergeForm,
    OrganizationForm,
    SuspendForm,
    coordinate,
)
from portal.economy.models import Fair, Organization
from portal.economy.public_views import _locations, fair_url, organization_url
from portal.economy.services import (
    RegistryError,
    ScheduleData,
    comunas_of_region,
    create_fair,
    create_organization,
    directory_query,
    duplicate_suggestions,
    format_one_offs,
    merge_organizations,
    next_dates,
    parse_dates,
    parse_one_offs,
    set_fair_active,
    suspend_organization,
    update_fair,
    update_organization,
    verify_organization,
)
from portal.economy.vocab import FAIR_KINDS, STATUSES
from portal.extensions import db
from portal.pagination import paginate
from portal.programmes.services import fair_eligibility


def _organization(org_id: int) -> Organization:
    org = db.session.get(Organization, org_id)
    if org is None or org.municipality_id != g.municipality.id:
        abort(404)
    return org


def _fair(fair_id: int) -> Fair:
    fair = db.session.get(Fair, fair_id)
    if fair is None or fair.municipality_id != g.municipality.id:
        abort(404)
    return fair


def _registry_error(error: RegistryError) -> str:
    messages = {
        "rut-taken": _("Another record of this municipality has this RUT."),
        "women-exceed-total": _("There cannot be more women members than members in total."),
        "merged": _("This record was merged into another one."),
        "merge-self": _("A record cannot be merged into itself."),
        "merge-other-municipality": _("Records of another municipality cannot be merged."),
        "unknown-organization": _("Choose organizations of this registry."),
        "valid-to-before-from": _("The end of validity is before its start."),
        "unknown-kind": _("Choose a kind of fair."),
    }
    return messages.get(error.code, _("The change could not be saved."))


# --- organizations ----------------------------------------------------------------------------


@bp.route("/gestion/<slug>/organizaciones/")
@municipal_staff_required
def staff_organizations(slug: str) -> str:
    """List every record of the registry, pending first, with search and a status filter."""
    status = request.args.get("estado", "")
    statuses = [status] if status in STATUSES else ["pending", "verified", "suspended"]
    statement = directory_query(
        municipality_ids=[g.municipality.id], q=request.args.get("q", "")[:100], statuses=statuses
    )
    page = paginate(statement, per_page=25)
    counts = dict(
        db.session.execute(
            select(Organization.status, func.count())
            .where(Organization.municipality_id == g.municipality.id)
            .group_by(Organization.status)
        ).all()
    )
    return render_template(
        "economy/staff/organizations.html",
        municipality=g.municipality,
        page=page,
        status=status,
        statuses=STATUSES,
        counts=counts,
        q=request.args.get("q", ""),
    )


def _organization_form(form: OrganizationForm) -> None:
    form.set_comunas(
        [(c.cut, c.name) for c in comunas_of_region(db.session, g.municipality.region_cut)]
    )


@bp.route("/gestion/<slug>/organizaciones/nueva", methods=["GET", "POST"])
@municipal_staff_required
def staff_new_organization(slug: str) -> str | Response:
    """Add an organization to the registry (verified, since staff enter it)."""
    form = OrganizationForm()
    _organization_form(form)
    if not form.is_submitted():
        form.locations[0].form.comuna_cut.data = g.municipality.comuna_cut
    if form.validate_on_submit():
        try:
            org = create_organization(db.session, g.municipality, form.values(), _locations(form))
        except RegistryError as error:
            form.rut.errors.append(_registry_error(error))
        else:
            db.session.commit()
            flash(_("%(name)s has been added to the registry.", name=org.name), "success")
            return redirect(url_for("economy.staff_edit_organization", slug=slug, org_id=org.id))
    return render_template(
        "economy/staff/organization_form.html", municipality=g.municipality, form=form, org=None
    )


@bp.route("/gestion/<slug>/organizaciones/<int:org_id>", methods=["GET", "POST"])
@municipal_staff_required
def staff_edit_organization(slug: str, org_id: int) -> str | Response:
    """Edit a record; verify, suspend or merge it."""
    org = _organization(org_id)
    if request.method == "GET":
        form = OrganizationForm(obj=org)
        while len(form.locations) < len(org.locations) + 1 and len(form.locations) < 5:
            form.locations.append_entry()
        for entry, loc in zip(form.locations, org.locations, strict=False):
            entry.form.name.data, entry.form.address.data = loc.name, loc.address
            entry.form.comuna_cut.data = loc.comuna_cut
            entry.form.latitude.data = "" if loc.latitude is None else str(loc.latitude)
            entry.form.longitude.data = "" if loc.longitude is None else str(loc.longitude)
    else:
        form = OrganizationForm()
    _organization_form(form)
    if org.status != "merged" and form.validate_on_submit():
        try:
            changed = update_organization(db.session, org, form.values(), _locations(form))
        except RegistryError as error:
            form.rut.errors.append(_registry_error(error))
        else:
            db.session.commit()
            flash(
                _("The record has been saved.") if changed else _("Nothing changed."),
                "success" if changed else "info",
            )
            return redirect(url_for("economy.staff_edit_organization", slug=slug, org_id=org.id))
    merge = MergeForm(prefix="merge")
    merge.survivor.choices = _merge_choices(org)
    return render_template(
        "economy/staff/organization_form.html",
        municipality=g.municipality,
        form=form,
        org=org,
        confirm=ConfirmForm(),
        suspend=SuspendForm(prefix="suspend"),
        merge=merge,
        statuses=STATUSES,
        fairs=db.session.scalars(
            select(Fair)
            .where(
                Fair.organizers.any(Organization.id == org.id)
                | Fair.vendors.any(Organization.id == org.id)
            )
            .order_by(Fair.name)
        ).all(),
        public_url=organization_url(org),
    )


def _merge_choices(org: Organization) -> list[tuple[int, str]]:
    others = db.session.scalars(
        select(Organization)
        .where(
            Organization.municipality_id == org.municipality_id,
            Organization.id != org.id,
            Organization.status != "merged",
        )
        .order_by(Organization.name)
    ).all()
    return [(o.id, f"{o.name}{' · ' + o.rut if o.rut else ''} (#{o.id})") for o in others]


@bp.route("/gestion/<slug>/organizaciones/<int:org_id>/verificar", methods=["POST"])
@municipal_staff_required
def staff_verify_organization(slug: str, org_id: int) -> Response:
    """Verify a record: it appears in the public directory, checked today."""
    org = _organization(org_id)
    if ConfirmForm().validate_on_submit():
        try:
            verify_organization(db.session, org)
        except RegistryError as error:
            flash(_registry_error(error), "error")
        else:
            db.session.commit()
            flash(
                _("%(name)s is verified and appears in the public directory.", name=org.name),
                "success",
            )
    return redirect(url_for("economy.staff_edit_organization", slug=slug, org_id=org.id))


@bp.route("/gestion/<slug>/organizaciones/<int:org_id>/suspender", methods=["POST"])
@municipal_staff_required
def staff_suspend_organization(slug: str, org_id: int) -> str | Response:
    """Suspend a record, with the reason."""
    org = _organization(org_id)
    form = SuspendForm(prefix="suspend")
    if form.validate_on_submit():
        try:
            suspend_organization(db.session, org, form.note.data or "")
        except RegistryError as error:
            flash(_registry_error(error), "error")
        else:
            db.session.commit()
            flash(_("%(name)s is suspended and no longer public.", name=org.name), "success")
    else:
        flash(_("Write the reason for the suspension."), "error")
    return redirect(url_for("economy.staff_edit_organization", slug=slug, org_id=org.id))


@bp.route("/gestion/<slug>/organizaciones/<int:org_id>/fusionar", methods=["POST"])
@municipal_staff_required
def staff_merge_organization(slug: str, org_id: int) -> Response:
    """Merge this record (a duplicate) into the chosen one."""
    org = _organization(org_id)
    form = MergeForm(prefix="merge")
    form.survivor.choices = _merge_choices(org)
    if form.validate_on_submit():
        survivor = _organization(form.survivor.data)
        try:
            merge_organizations(db.session, org, survivor)
        except RegistryError as error:
            flash(_registry_error(error), "error")
        else:
            db.session.commit()
            flash(
                _(
                    "%(duplicate)s has been merged into %(survivor)s.",
                    duplicate=org.name,
                    survivor=survivor.name,
                ),
                "success",
            )
            return redirect(
                url_for("economy.staff_edit_organization", slug=slug, org_id=survivor.id)
            )
    else:
        flash(_("Choose the record that stays."), "error")
    return redirect(
        request.referrer
        if request.referrer and request.referrer.startswith(request.host_url)
        else url_for("economy.staff_edit_organization", slug=slug, org_id=org.id)
    )


@bp.route("/gestion/<slug>/organizaciones/duplicados")
@municipal_staff_required
def staff_duplicates(slug: str) -> str:
    """Suggest records that look like the same organization (same RUT, or near-identical name)."""
    pairs = duplicate_suggestions(db.session, g.municipality.id)
    return render_template(
        "economy/staff/duplicates.html",
        municipality=g.municipality,
        pairs=pairs,
        token_form=ConfirmForm(),
    )


def _import_page(
    kind: str, validate: Any, write: Any, template_columns: list[str]
) -> str | Response:
    form = ImportForm()
    errors = None
    if form.validate_on_submit():
        text = exchange.decode(form.file.data.read())
        parsed = validate(db.session, g.municipality, text)
        if parsed.errors:
            errors = parsed.errors
        else:
            created = write(db.session, g.municipality, parsed)
            db.session.commit()
            flash(_("%(count)d records have been imported.", count=len(created)), "success")
            return redirect(url_for(f"economy.staff_{kind}", slug=g.municipality.slug))
    return render_template(
        "economy/staff/import.html",
        municipality=g.municipality,
        form=form,
        errors=errors,
        kind=kind,
        columns=template_columns,
    )


@bp.route("/gestion/<slug>/organizaciones/importar", methods=["GET", "POST"])
@municipal_staff_required
def staff_import_organizations(slug: str) -> str | Response:
    """Import organizations from a CSV: checked whole, nothing written unless every line is right."""
    return _import_page(
        "organizations",
        exchange.validate_organizations,
        exchange.write_organizations,
        exchange.ORGANIZATION_COLUMNS,
    )


def _download(body: str, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _staff_organizations() -> list[Organization]:
    return list(
        db.session.scalars(
            select(Organization)
            .where(Organization.municipality_id == g.municipality.id)
            .order_by(Organization.name, Organization.id)
        )
    )


@bp.route("/gestion/<slug>/organizaciones/exportar.csv")
@municipal_staff_required
def staff_export_organizations_csv(slug: str) -> Response:
    """Download the registry as CSV (HSDS field names)."""
    return _download(
        "\ufeff" + exchange.organizations_csv(_staff_organizations()),
        "text/csv",
        f"organizaciones-{slug}.csv",
    )


@bp.route("/gestion/<slug>/organizaciones/exportar.json")
@municipal_staff_required
def staff_export_organizations_json(slug: str) -> Response:
    """Download the registry as JSON (HSDS organizations with locations)."""
    data = {
        "organizations": [
            exchange.organization_hsds(o, organization_url(o)) for o in _staff_organizations()
        ]
    }
    return _download(
        json.dumps(data, ensure_ascii=False, indent=2),
        "application/json",
        f"organizaciones-{slug}.json",
    )


# --- fairs ------------------------------------------------------------------------------------


@bp.route("/gestion/<slug>/ferias/")
@municipal_staff_required
def staff_fairs(slug: str) -> str:
    """List the municipality's fairs and markets."""
    page = paginate(
        select(Fair).where(Fair.municipality_id == g.municipality.id).order_by(Fair.name),
        per_page=25,
    )
    return render_template(
        "economy/staff/fairs.html",
        municipality=g.municipality,
        page=page,
        kinds=FAIR_KINDS,
        next_of={f.id: next_dates(f, count=1) for f in page.items},
    )


def _fair_form(form: FairForm) -> None:
    orgs = db.session.scalars(
        select(Organization)
        .where(Organization.municipality_id == g.municipality.id, Organization.status != "merged")
        .order_by(Organization.name)
    ).all()
    form.organizers.choices = [(o.id, o.name) for o in orgs]
    form.vendors.choices = [(o.id, o.name) for o in orgs]


def _fair_values(form: FairForm) -> tuple[dict[str, Any], list[ScheduleData], list[Any]]:
    values = {
        "name": form.name.data,
        "kind": form.kind.data,
        "place": form.place.data,
        "latitude": coordinate(form.latitude.data),
        "longitude": coordinate(form.longitude.data),
        "stalls": form.stalls.data,
        "permit_number": form.permit_number.data or "",
        "product_categories": form.product_categories.data or "",
        "description": form.description.data or "",
    }
    schedules = []
    if form.byday.data:
        schedules.append(
            ScheduleData(
                byday=tuple(form.byday.data),
                opens_at=form.opens_at.data,
                closes_at=form.closes_at.data,
                valid_from=form.valid_from.data,
                valid_to=form.valid_to.data,
                exceptions=parse_dates(form.exceptions.data or ""),
            )
        )
    return values, schedules, parse_one_offs(form.one_offs.data or "")


@bp.route("/gestion/<slug>/ferias/nueva", methods=["GET", "POST"])
@municipal_staff_required
def staff_new_fair(slug: str) -> str | Response:
    """Add a fair or market with its schedule."""
    form = FairForm()
    _fair_form(form)
    if form.validate_on_submit():
        values, schedules, one_offs = _fair_values(form)
        try:
            fair = create_fair(
                db.session,
                g.municipality,
                values,
                schedules,
                one_offs,
                form.organizers.data or [],
                form.vendors.data or [],
            )
        except RegistryError as error:
            form.name.errors.append(_registry_error(error))
        else:
            db.session.commit()
            flash(_("%(name)s has been added.", name=fair.name), "success")
            return redirect(url_for("economy.staff_edit_fair", slug=slug, fair_id=fair.id))
    return render_template(
        "economy/staff/fair_form.html", municipality=g.municipality, form=form, fair=None
    )


@bp.route("/gestion/<slug>/ferias/<int:fair_id>", methods=["GET", "POST"])
@municipal_staff_required
def staff_edit_fair(slug: str, fair_id: int) -> str | Response:
    """Edit a fair and its schedule; see which programmes it could apply to."""
    fair = _fair(fair_id)
    if request.method == "GET":
        form = FairForm(obj=fair)
        form.latitude.data = "" if fair.latitude is None else str(fair.latitude)
        form.longitude.data = "" if fair.longitude is None else str(fair.longitude)
        if fair.schedules:
            s = fair.schedules[0]
            form.byday.data, form.opens_at.data, form.closes_at.data = (
                s.days,
                s.opens_at,
                s.closes_at,
            )
            form.valid_from.data, form.valid_to.data = s.valid_from, s.valid_to
            form.exceptions.data = "\n".join(e.day.strftime("%d-%m-%Y") for e in s.exceptions)
        else:
            form.byday.data = []
        form.one_offs.data = format_one_offs(fair)
        form.organizers.data = [o.id for o in fair.organizers]
        form.vendors.data = [o.id for o in fair.vendors]
    else:
        form = FairForm()
    _fair_form(form)
    if form.validate_on_submit():
        values, schedules, one_offs = _fair_values(form)
        # The form edits the first weekly schedule; further ones (from imports) are kept.
        schedules += [
            ScheduleData(
                tuple(s.days),
                s.opens_at,
                s.closes_at,
                s.valid_from,
                s.valid_to,
                [e.day for e in s.exceptions],
            )
            for s in fair.schedules[1:]
        ]
        try:
            changed = update_fair(
                db.session,
                fair,
                values,
                schedules,
                one_offs,
                form.organizers.data or [],
                form.vendors.data or [],
            )
        except RegistryError as error:
            form.name.errors.append(_registry_error(error))
        else:
            db.session.commit()
            flash(
                _("The fair has been saved.") if changed else _("Nothing changed."),
                "success" if changed else "info",
            )
            return redirect(url_for("economy.staff_edit_fair", slug=slug, fair_id=fair.id))
    return render_template(
        "economy/staff/fair_form.html",
        municipality=g.municipality,
        form=form,
        fair=fair,
        eligibility=fair_eligibility(db.session, fair),
        upcoming=next_dates(fair, count=5),
        confirm=ConfirmForm(),
        public_url=fair_url(fair),
        kinds=FAIR_KINDS,
    )


@bp.route("/gestion/<slug>/ferias/<int:fair_id>/publicar", methods=["POST"])
@municipal_staff_required
def staff_toggle_fair(slug: str, fair_id: int) -> Response:
    """Withdraw a fair from the public pages and feeds, or publish it again."""
    fair = _fair(fair_id)
    if ConfirmForm().validate_on_submit():
        set_fair_active(db.session, fair, not fair.active)
        db.session.commit()
        flash(
            _("The fair is public.")
            if fair.active
            else _("The fair has been withdrawn from the public pages."),
            "success",
        )
    return redirect(url_for("economy.staff_edit_fair", slug=slug, fair_id=fair.id))


@bp.route("/gestion/<slug>/ferias/importar", methods=["GET", "POST"])
@municipal_staff_required
def staff_import_fairs(slug: str) -> str | Response:
    """Import fairs from a CSV: checked whole, nothing written unless every line is right."""
    return _import_page(
        "fairs", exchange.validate_fairs, exchange.write_fairs, exchange.FAIR_COLUMNS
    )


def _staff_fairs() -> list[Fair]:
    return list(
        db.session.scalars(
            select(Fair).where(Fair.municipality_id == g.municipality.id).order_by(Fair.name)
        )
    )


@bp.route("/gestion/<slug>/ferias/exportar.csv")
@municipal_staff_required
def staff_export_fairs_csv(slug: str) -> Response:
    """Download the fairs as CSV (HSDS location and schedule fields)."""
    return _download(
        "\ufeff" + exchange.fairs_csv(_staff_fairs()), "text/csv", f"ferias-{slug}.csv"
    )


@bp.route("/gestion/<slug>/ferias/exportar.json")
@municipal_staff_required
def staff_export_fairs_json(slug: str) -> Response:
    """Download the fairs as JSON (HSDS location and schedules)."""
    data = {"fairs": [exchange.fair_hsds(f, fair_url(f)) for f in _staff_fairs()]}
    return _download(
        json.dumps(data, ensure_ascii=False, indent=2), "application/json", f"ferias-{slug}.json"
    )
