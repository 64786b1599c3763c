"""Sign-in, sign-out, sign-up, password reset and invitation pages."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from portal.accounts import bp
from portal.accounts.auth import login_required_view
from portal.accounts.forms import (
    AcceptInvitationForm,
    ConfirmForm,
    ForgotPasswordForm,
    LoginForm,
    ResetPasswordForm,
    SignupForm,
)
from portal.accounts.services import (
    AccountError,
    accept_invitation,
    authenticate,
    create_user,
    invitation_by_token,
    make_reset_token,
    normalise_email,
    set_password,
    user_by_email,
    user_from_reset_token,
)
from portal.extensions import db, limiter
from portal.mail import send_mail
from portal.urls import external_url, safe_next


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _email_key() -> str:
    return "login-email:" + normalise_email(request.form.get("email", ""))[:254]


def _failed(response: Response) -> bool:
    # A failed sign-in re-renders the form (200); a success redirects. Only failures count.
    return response.status_code == 200


@bp.route("/ingresar", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed)
@limiter.limit(_login_limit, methods=["POST"], key_func=_email_key, deduct_when=_failed)
def login() -> str | Response:
    """Sign in with email and password."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), url_for("accounts.account")))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db.session, form.email.data or "", form.password.data or "")
        if user is not None:
            db.session.commit()
            login_user(user, remember=bool(form.remember.data))
            flash(_("Welcome, %(name)s.", name=user.name), "success")
            return redirect(safe_next(request.args.get("next"), url_for("accounts.account")))
        form.password.errors.append(_("The email or the password is not correct."))
    return render_template("accounts/login.html", form=form)


@bp.route("/salir", methods=["POST"])
def logout() -> Response:
    """Sign out."""
    form = ConfirmForm()
    if form.validate_on_submit():
        logout_user()
        flash(_("You have signed out."), "info")
    return redirect(url_for("public.home"))


@bp.route("/registro", methods=["GET", "POST"])
def signup() -> str | Response:
    """Create a resident account (optional: residents read and vote without one)."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.account"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = create_user(
                db.session, form.email.data or "", form.name.data or "", form.password.data
            )
        except AccountError:
            form.email.errors.append(_("An account with this email already exists."))
        else:
            db.session.commit()
            login_user(user)
            flash(_("Your account is ready."), "success")
            return redirect(safe_next(request.args.get("next"), url_for("accounts.account")))
    return render_template("accounts/signup.html", form=form)


@bp.route("/cuenta")
@login_required_view
def account() -> str:
    """Show the signed-in user's account and the areas they can manage."""
    return render_template("accounts/account.html")


@bp.route("/clave/olvido", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def forgot_password() -> str | Response:
    """Mail a password-reset link; say the same whether or not the account exists."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        user = user_by_email(db.session, form.email.data or "")
        if user is not None and user.active:
            link = external_url("accounts.reset_password", token=make_reset_token(user))
            hours = current_app.config["RESET_HOURS"]
            send_mail(
                user.email,
                _("Reset your Portal password"),
                _(
                    "Someone asked to reset the password of your Portal account.\n\n"
                    "Open this link within %(hours)d hours to choose a new one:\n%(link)s\n\n"
                    "If it was not you, ignore this message.",
                    hours=hours,
                    link=link,
                ),
            )
        flash(
            _("If an account uses that email, we have sent it a link to choose a new password."),
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot_password.html", form=form)


@bp.route("/clave/nueva/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> str | Response:
    """Choose a new password from a mailed link."""
    user = user_from_reset_token(db.session, token)
    if user is None:
        return render_template("accounts/link_invalid.html"), 404  # type: ignore[return-value]
    form = ResetPasswordForm()
    if form.validate_on_submit():
        set_password(user, form.password.data or "")
        db.session.commit()
        flash(_("Your password has been changed. You can sign in now."), "success")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", form=form)


@bp.route("/invitacion/<token>", methods=["GET", "POST"])
def accept(token: str) -> str | Response:
    """Accept a staff invitation: create the account, or add the role to an existing one."""
    invitation = invitation_by_token(db.session, token)
    if invitation is None:
        return render_template("accounts/link_invalid.html"), 404  # type: ignore[return-value]
    existing = user_by_email(db.session, invitation.email)
    if existing is not None:
        form: ConfirmForm | AcceptInvitationForm = ConfirmForm()
        if not current_user.is_authenticated or current_user.id != existing.id:
            if current_user.is_authenticated:
                logout_user()
            flash(
                _("Sign in with %(email)s to accept this invitation.", email=existing.email), "info"
            )
            return redirect(url_for("accounts.login", next=request.path))
        if form.validate_on_submit():
            accept_invitation(db.session, invitation, existing)
            db.session.commit()
            flash(_("The invitation has been accepted."), "success")
            return redirect(url_for("accounts.account"))
        return render_template("accounts/accept_existing.html", form=form, invitation=invitation)
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        user = accept_invitation(
            db.session, invitation, None, form.name.data or "", form.password.data or ""
        )
        db.session.commit()
        login_user(user)
        flash(_("Welcome to Portal. Your account is ready."), "success")
        return redirect(url_for("accounts.account"))
    return render_template("accounts/accept_invitation.html", form=form, invitation=invitation)
