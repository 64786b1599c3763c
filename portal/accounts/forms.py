"""Sign-in, sign-up, password and invitation forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

MIN_PASSWORD = 10


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Keep me signed in on this device"))


class NewPasswordMixin:
    """A new password typed twice."""

    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD,
                max=200,
                message=_l("Use at least %(min)d characters.", min=MIN_PASSWORD),
            ),
        ],
        description=_l("At least %(min)d characters.", min=MIN_PASSWORD),
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords do not match."))],
    )


class SignupForm(NewPasswordMixin, FlaskForm):
    """A resident's account."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=160)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])


class ForgotPasswordForm(FlaskForm):
    """Ask for a reset link."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])


class ResetPasswordForm(NewPasswordMixin, FlaskForm):
    """Choose a new password."""


class AcceptInvitationForm(NewPasswordMixin, FlaskForm):
    """Create a staff account from an invitation."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=160)])


class ConfirmForm(FlaskForm):
    """A button and its CSRF token."""
