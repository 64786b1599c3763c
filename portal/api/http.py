"""What every API answer shares: query arguments, pagination, caching validators and CORS."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from flask import abort, current_app, request, url_for
from sqlalchemy import Select
from werkzeug.wrappers import Response

from portal.extensions import db

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
MAX_INT = 2_147_483_647
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Accept, Accept-Language, If-None-Match, If-Modified-Since",
    "Access-Control-Expose-Headers": (
        "ETag, Last-Modified, Link, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, "
        "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After"
    ),
    "Access-Control-Max-Age": "86400",
}


def int_arg(name: str, *, default: int | None = None, low: int = 1, high: int = MAX_INT) -> Any:
    """Read an integer query argument; a malformed or out-of-range one answers 400."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if len(raw) > 19 or not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        abort(400)
    return int(raw)


def str_arg(name: str, *, choices: Iterable[str] | None = None, limit: int = 100) -> str:
    """Read a text query argument (trimmed, cut to a length); a value not among choices is 400."""
    raw = request.args.get(name, "").strip()[:limit]
    if raw and choices is not None and raw not in set(choices):
        abort(400)
    return raw


def paginate(statement: Select[Any]) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """Run a statement one page at a time; return the items, the meta and the links."""
    page = int_arg("page", default=1)
    per_page = int_arg("per_page", default=DEFAULT_PER_PAGE, high=MAX_PER_PAGE)
    result = db.paginate(statement, page=page, per_page=per_page, error_out=False, count=True)
    total = result.total or 0
    pages = max(1, -(-total // per_page))

    def link(number: int) -> str:
        # The query carried over, but not url_for's own keywords (_external, _method…) nor a
        # name the path already fills (they would clash with them).
        path = request.view_args or {}
        args = {k: v for k, v in request.args.items() if not k.startswith("_") and k not in path}
        args.update(page=str(number), per_page=str(per_page))
        return url_for(request.endpoint or "", **path, **args, _external=True)

    meta = {"page": page, "per_page": per_page, "total": total, "pages": pages}
    links = {
        "self": link(page),
        "first": link(1),
        "last": link(pages),
        "next": link(page + 1) if page < pages else None,
        "prev": link(min(page - 1, pages)) if page > 1 else None,
    }
    return list(result.items), meta, links


def latest(*moments: datetime | None) -> datetime | None:
    """Return the latest of some moments (None ignored)."""
    found = [m for m in moments if m is not None]
    return max(found) if found else None


def json_response(payload: Any, last_modified: datetime | None = None) -> Response:
    """Answer JSON with an ETag (and Last-Modified), or 304 when the client's copy is current.

    If-None-Match wins over If-Modified-Since (RFC 9110): the ETag is a hash of the body, so
    it is exact; Last-Modified is the latest change time of what the answer is made of.
    """
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    etag = hashlib.sha256(body.encode()).hexdigest()[:32]
    response = current_app.response_class(body, mimetype="application/json")
    response.set_etag(etag)
    if last_modified is not None:
        response.last_modified = last_modified.astimezone(UTC).replace(microsecond=0)
    response.headers["Cache-Control"] = "public, max-age=60"
    response.vary.add("Accept-Encoding")
    if request.if_none_match:
        fresh = request.if_none_match.contains(etag)
    else:
        since = request.if_modified_since
        fresh = bool(since and response.last_modified and response.last_modified <= since)
    return _not_modified(response) if fresh else response


def _not_modified(response: Response) -> Response:
    response.status_code = 304
    response.set_data(b"")
    response.headers.pop("Content-Type", None)
    response.headers.pop("Content-Length", None)
    return response


def add_cors(response: Response) -> Response:
    """Let any web page read the API (GET only; no credentials are involved)."""
    for key, value in CORS_HEADERS.items():
        response.headers[key] = value
    return response


def iso(value: Any) -> str | None:
    """Write a date or an aware datetime in ISO 8601 (None stays None)."""
    return value.isoformat() if value is not None else None
