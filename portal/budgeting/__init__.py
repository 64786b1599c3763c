"""Participatory budgeting rounds: phases, districts, rules, proposals, review and the census."""

from flask import Blueprint

bp = Blueprint("budgeting", __name__, template_folder="templates")

from portal.budgeting import views  # noqa: E402, F401
