"""Static files addressed by their content: browsers keep them a year and never ask again.

Every `url_for("static", filename=...)` of a file gets `?v=` and the first 12 hex digits of the
SHA-256 of its content, and a request that names the current version is answered with
`Cache-Control: public, max-age=31536000, immutable`. A phone on a slow connection then loads
the style sheet and scripts once, instead of asking whether they changed on every page (a round
trip each); a new release changes the digest, so the new file is fetched at once. A request
without the version, or with an old one, keeps Flask's `no-cache`. Folders (the map's script
takes one as the base of its own files) get no version.
"""

from __future__ import annotations

import hashlib
import os
import stat
from typing import Any

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from werkzeug.security import safe_join
from werkzeug.wrappers import Response

YEAR = 365 * 24 * 3600

_digests: dict[str, tuple[int, int, str]] = {}  # path -> (mtime_ns, size, digest)


def static_version(folder: str, filename: str) -> str | None:
    """Return the version of a static file (a digest of its content), or None when there is
    no such file. It is worked out again only when the file's time or size change."""
    path = safe_join(folder, filename)
    if path is None:
        return None
    try:
        found = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(found.st_mode):
        return None
    known = _digests.get(path)
    if known is not None and known[0] == found.st_mtime_ns and known[1] == found.st_size:
        return known[2]
    with open(path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()[:12]
    _digests[path] = (found.st_mtime_ns, found.st_size, digest)
    return digest


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except that a static file's response does not say
    `Vary: Cookie`. Flask-Login looks at the session after every request, static ones included,
    and Flask then marks the response as depending on the cookie: browsers would fetch the file
    again each time the session cookie changes (at the eligibility check, with each message
    shown), and the year-long cache would hardly help. A static file never depends on it."""

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if request.endpoint == "static" and not session.modified:
            session.accessed = False
        super().save_session(app, session, response)


def init_assets(app: Flask) -> None:
    """Version the static URLs the templates build, and let browsers cache what they name."""
    folder = str(app.static_folder)
    app.session_interface = _SessionInterface()

    @app.url_defaults
    def add_version(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "v" not in values and "filename" in values:
            version = static_version(folder, values["filename"])
            if version is not None:
                values["v"] = version

    @app.after_request
    def cache_versioned(response: Response) -> Response:
        if request.endpoint != "static" or response.status_code not in (200, 304):
            return response
        asked = request.args.get("v")
        filename = (request.view_args or {}).get("filename", "")
        if asked and asked == static_version(folder, filename):
            response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
        return response
