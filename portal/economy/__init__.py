"""Social and solidarity economy: the registry of organizations, fairs and markets."""

from flask import Blueprint

bp = Blueprint("economy", __name__, template_folder="templates", cli_group="economy")

from portal.economy import cli, public_views, staff_views  # noqa: E402, F401
