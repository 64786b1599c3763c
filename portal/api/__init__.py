"""A read-only public JSON API of published data under /api/v1, described by OpenAPI."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1", template_folder="templates")

from portal.api import docs, views  # noqa: E402, F401
