"""Regional programmes, funded projects, their implementation and the regional view."""

from flask import Blueprint

bp = Blueprint("programmes", __name__, template_folder="templates")

from portal.programmes import public_views, region_views, staff_views  # noqa: E402, F401
