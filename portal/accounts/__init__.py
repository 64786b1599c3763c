"""Accounts: sign-in, sign-up, invitations, password resets."""

from flask import Blueprint

bp = Blueprint("accounts", __name__, template_folder="templates")

from portal.accounts import views  # noqa: E402, F401
