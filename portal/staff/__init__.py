"""Staff areas: a municipality's desk and a region's desk."""

from flask import Blueprint

bp = Blueprint("staff", __name__, template_folder="templates")

from portal.staff import views  # noqa: E402, F401
