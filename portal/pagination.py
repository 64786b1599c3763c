"""Pagination of select() statements for list pages."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select

from portal.extensions import db


def paginate(statement: Select[Any], per_page: int = 25) -> Pagination:
    """Paginate a statement by the `pagina` query argument; bad numbers fall back to page 1."""
    raw = request.args.get("pagina", "1")
    page = int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1
    return db.paginate(statement, page=page, per_page=per_page, error_out=False)
