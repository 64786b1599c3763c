"""Staff dashboards, team and audit log pages."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal.accounts.auth import municipal_staff_required, regional_staff_required
from portal.accounts.forms import ConfirmForm
from portal.accounts.models import Invitation, Role
from portal.accounts.services import create_invitation, municipal_team, revoke_invitation
from portal.admin.forms import StaffInvitationForm
from portal.admin.views import send_invitation
from portal.audit.services import entries_for_municipality, entries_for_region
from portal.extensions import db
from portal.geo.models import Municipality
from portal.pagination import paginate
from portal.staff import bp


@bp.route("/gestion/<slug>/")
@municipal_staff_required
def municipality_home(slug: str) -> str:
    """Show a municipality's desk: what its staff can manage."""
    return render_template("staff/municipality_home.html", municipality=g.municipality)


@bp.route("/gestion/<slug>/equipo", methods=["GET", "POST"])
@municipal_staff_required
def team(slug: str) -> str | Response:
    """List a municipality's staff and invite colleagues."""
    municipality: Municipality = g.municipality
    form = StaffInvitationForm()
    if form.validate_on_submit():
        invitation, token = create_invitation(
            db.session,
            form.email.data or "",
            Role.MUNICIPAL_STAFF,
            municipality_id=municipality.id,
            invited_by=current_user,
        )
        db.session.commit()
        send_invitation(invitation, token)
        flash(_("The invitation has been sent to %(email)s.", email=invitation.email), "success")
        return redirect(url_for("staff.team", slug=slug))
    staff, invitations = municipal_team(db.session, municipality.id)
    return render_template(
        "staff/team.html",
        municipality=municipality,
        staff=staff,
        invitations=invitations,
        form=form,
        confirm=ConfirmForm(),
        revoke_url=lambda i: url_for("staff.revoke_team_invitation", slug=slug, invitation_id=i.id),
    )


@bp.route("/gestion/<slug>/equipo/invitaciones/<int:invitation_id>/revocar", methods=["POST"])
@municipal_staff_required
def revoke_team_invitation(slug: str, invitation_id: int) -> Response:
    """Cancel a pending invitation to this municipality."""
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.municipality_id != g.municipality.id:
        abort(404)
    if ConfirmForm().validate_on_submit() and invitation.pending:
        revoke_invitation(db.session, invitation)
        db.session.commit()
        flash(_("The invitation has been cancelled."), "success")
    return redirect(url_for("staff.team", slug=slug))


@bp.route("/gestion/<slug>/auditoria")
@municipal_staff_required
def municipality_audit(slug: str) -> str:
    """Read a municipality's audit log."""
    page = paginate(entries_for_municipality(g.municipality.id), per_page=50)
    return render_template("audit/log.html", page=page, scope_name=g.municipality.name)


@bp.route("/region/<region>/")
@regional_staff_required
def region_home(region: str) -> str:
    """Show a region's desk."""
    municipalities = db.session.scalars(
        select(Municipality)
        .join(Municipality.comuna)
        .where(Municipality.comuna.has(region_cut=g.region.cut))
        .order_by(Municipality.name)
    ).all()
    return render_template("staff/region_home.html", region=g.region, municipalities=municipalities)


@bp.route("/region/<region>/auditoria")
@regional_staff_required
def region_audit(region: str) -> str:
    """Read a region's audit log."""
    page = paginate(entries_for_region(g.region.cut), per_page=50)
    return render_template("audit/log.html", page=page, scope_name=g.region.name)
