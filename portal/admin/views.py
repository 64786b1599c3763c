"""Platform admin pages."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal.accounts.auth import admin_required
from portal.accounts.forms import ConfirmForm
from portal.accounts.models import Invitation, Membership, Role
from portal.accounts.services import (
    create_invitation,
    municipal_team,
    revoke_invitation,
    revoke_membership,
)
from portal.admin import bp
from portal.admin.forms import InvitationForm, MunicipalityForm
from portal.admin.services import MunicipalityError, create_municipality, update_municipality
from portal.audit.services import all_entries
from portal.extensions import db
from portal.geo.models import Comuna, Municipality, Region
from portal.mail import send_mail
from portal.pagination import paginate
from portal.urls import external_url


def comuna_choices() -> list[tuple[str, str]] | dict[str, list[tuple[str, str]]]:
    """Group comunas without a municipality by region, for a select with optgroups."""
    taken = set(db.session.scalars(select(Municipality.comuna_cut)))
    grouped: dict[str, list[tuple[str, str]]] = {}
    rows = db.session.execute(
        select(Comuna.cut, Comuna.name, Region.name)
        .join(Region, Comuna.region_cut == Region.cut)
        .order_by(Region.cut, Comuna.name)
    )
    for cut, name, region in rows:
        if cut not in taken:
            grouped.setdefault(region, []).append((cut, f"{name} ({cut})"))
    return grouped


def municipality_choices() -> list[tuple[str, str]]:
    """List municipalities for a select."""
    rows = db.session.scalars(select(Municipality).order_by(Municipality.name))
    return [("", "—")] + [(str(m.id), m.name) for m in rows]


def region_choices() -> list[tuple[str, str]]:
    """List regions for a select."""
    rows = db.session.scalars(select(Region).order_by(Region.cut))
    return [("", "—")] + [(r.cut, r.name) for r in rows]


def send_invitation(invitation: Invitation, token: str) -> None:
    """Mail an invitation link."""
    link = external_url("accounts.accept", token=token)
    send_mail(
        invitation.email,
        _("You are invited to Portal"),
        _(
            "%(inviter)s invites you to work on Portal.\n\n"
            "Open this link within %(days)d days to accept:\n%(link)s",
            inviter=current_user.name,
            days=current_app.config["INVITATION_DAYS"],
            link=link,
        ),
    )


@bp.route("/")
@admin_required
def dashboard() -> str:
    """List municipalities, regional staff and pending invitations."""
    municipalities = db.session.scalars(select(Municipality).order_by(Municipality.name)).all()
    regional = db.session.scalars(
        select(Membership)
        .where(Membership.role == Role.REGIONAL_STAFF.value)
        .order_by(Membership.region_cut)
    ).all()
    admins = db.session.scalars(select(Membership).where(Membership.role == Role.ADMIN.value)).all()
    invitations = [
        i
        for i in db.session.scalars(select(Invitation).order_by(Invitation.created_at.desc()))
        if i.pending
    ]
    return render_template(
        "admin/dashboard.html",
        municipalities=municipalities,
        regional=regional,
        admins=admins,
        invitations=invitations,
        confirm=ConfirmForm(),
        revoke_url=lambda i: url_for("admin.revoke_invitation_view", invitation_id=i.id),
    )


@bp.route("/municipios/nuevo", methods=["GET", "POST"])
@admin_required
def create_municipality_view() -> str | Response:
    """Create a municipality for a comuna."""
    form = MunicipalityForm()
    form.comuna_cut.choices = comuna_choices()  # type: ignore[assignment]
    if form.validate_on_submit():
        try:
            municipality = create_municipality(
                db.session,
                form.comuna_cut.data or "",
                form.name.data or "",
                form.email.data,
                form.website.data,
            )
        except MunicipalityError:
            form.comuna_cut.errors.append(_("That comuna already has a municipality."))  # type: ignore[attr-defined]
        else:
            db.session.commit()
            flash(_("%(name)s has been created.", name=municipality.name), "success")
            return redirect(url_for("admin.municipality_detail", municipality_id=municipality.id))
    return render_template("admin/municipality_form.html", form=form)


@bp.route("/municipios/<int:municipality_id>", methods=["GET", "POST"])
@admin_required
def municipality_detail(municipality_id: int) -> str | Response:
    """Show and edit a municipality, its staff and invitations."""
    municipality = db.session.get(Municipality, municipality_id) or abort(404)
    form = MunicipalityForm(obj=municipality)
    form.comuna_cut.choices = [(municipality.comuna_cut, municipality.comuna.name)]
    form.comuna_cut.data = municipality.comuna_cut
    if form.validate_on_submit():
        update_municipality(
            db.session,
            municipality,
            name=(form.name.data or "").strip() or municipality.name,
            email=form.email.data or None,
            website=form.website.data or None,
        )
        db.session.commit()
        flash(_("The changes have been saved."), "success")
        return redirect(url_for("admin.municipality_detail", municipality_id=municipality.id))
    staff, invitations = municipal_team(db.session, municipality.id)
    return render_template(
        "admin/municipality_detail.html",
        municipality=municipality,
        form=form,
        staff=staff,
        invitations=invitations,
        confirm=ConfirmForm(),
        revoke_url=lambda i: url_for("admin.revoke_invitation_view", invitation_id=i.id),
    )


@bp.route("/invitaciones/nueva", methods=["GET", "POST"])
@admin_required
def invite() -> str | Response:
    """Invite a person as municipal staff, regional staff or admin."""
    form = InvitationForm()
    form.municipality_id.choices = municipality_choices()
    form.region_cut.choices = region_choices()
    if form.validate_on_submit():
        role = Role(form.role.data)
        invitation, token = create_invitation(
            db.session,
            form.email.data or "",
            role,
            municipality_id=int(form.municipality_id.data) if form.municipality_id.data else None,
            region_cut=form.region_cut.data or None,
            invited_by=current_user,
        )
        db.session.commit()
        send_invitation(invitation, token)
        flash(_("The invitation has been sent to %(email)s.", email=invitation.email), "success")
        return redirect(url_for("admin.dashboard"))
    return render_template("admin/invite.html", form=form)


@bp.route("/membresias/<int:membership_id>/revocar", methods=["POST"])
@admin_required
def revoke_membership_view(membership_id: int) -> Response:
    """Remove a role from a user."""
    membership = db.session.get(Membership, membership_id) or abort(404)
    if ConfirmForm().validate_on_submit():
        if membership.user_id == current_user.id and membership.role == Role.ADMIN.value:
            flash(_("You cannot remove your own admin role."), "error")
        else:
            revoke_membership(db.session, membership)
            db.session.commit()
            flash(_("The role has been removed."), "success")
    return redirect(url_for("admin.dashboard"))


@bp.route("/invitaciones/<int:invitation_id>/revocar", methods=["POST"])
@admin_required
def revoke_invitation_view(invitation_id: int) -> Response:
    """Cancel a pending invitation."""
    invitation = db.session.get(Invitation, invitation_id) or abort(404)
    if ConfirmForm().validate_on_submit() and invitation.pending:
        revoke_invitation(db.session, invitation)
        db.session.commit()
        flash(_("The invitation has been cancelled."), "success")
    return redirect(url_for("admin.dashboard"))


@bp.route("/auditoria")
@admin_required
def audit_log() -> str:
    """Read the whole audit log."""
    page = paginate(all_entries(), per_page=50)
    return render_template("audit/log.html", page=page, scope_name=_("All of Portal"))
