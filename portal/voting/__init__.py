"""Voting: eligibility, ballots, paper ballots and results (built on the rounds)."""

from flask import Blueprint

bp = Blueprint("voting", __name__, template_folder="templates")

from portal.voting import views  # noqa: E402, F401
