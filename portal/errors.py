"""Error pages in the user's language that reveal nothing."""

from __future__ import annotations

import contextlib
import logging

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from portal.extensions import db

log = logging.getLogger(__name__)


def _messages(code: int) -> tuple[str, str]:
    messages = {
        400: (
            _("Bad request"),
            _("The page could not understand what was sent. Go back and try again."),
        ),
        403: (_("Not allowed"), _("You do not have permission to open this page.")),
        404: (
            _("Page not found"),
            _("We could not find that page. It may have moved or been removed."),
        ),
        405: (_("Not allowed"), _("That action is not possible on this page.")),
        413: (_("Too large"), _("What you sent is too large. Try a smaller file.")),
        429: (
            _("Too many attempts"),
            _("You have tried too many times. Wait a few minutes and try again."),
        ),
        500: (
            _("Something went wrong"),
            _("An unexpected error happened on our side. Please try again later."),
        ),
        503: (
            _("Service unavailable"),
            _("Portal cannot answer right now. Please try again in a few minutes."),
        ),
    }
    return messages.get(code, (_("Error"), _("Something went wrong.")))


DATABASE_ERRORS = (OperationalError, InterfaceError, DisconnectionError)


def render_error(code: int, detail: str | None = None) -> tuple[str, int]:
    """Render the error page for a status code.

    The page's layout asks who is signed in, which may be the request's first query: on a
    connection the database dropped (a restart) that fails, the pool renews its connections and
    a second try reconnects. If the database is still out of reach, a page without the layout
    says the service is unavailable (503), never a bare 500."""
    title, message = _messages(code)
    for _attempt in range(2):
        try:
            return render_template(
                "errors/error.html", code=code, title=title, message=detail or message
            ), code
        except DATABASE_ERRORS as error:
            log.warning("database unavailable: %s", getattr(error, "orig", error))
            with contextlib.suppress(Exception):
                db.session.rollback()
    title, message = _messages(503)
    return render_template("errors/bare.html", code=503, title=title, message=message), 503


def init_errors(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        return render_error(
            400,
            _("The form expired or was not sent from this site. Reload the page and try again."),
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int] | HTTPException:
        code = error.code or 500
        if code < 400:
            return error
        if request.path.startswith("/api/"):
            title, message = _messages(code)
            return {"error": {"status": code, "title": title, "message": message}}, code  # type: ignore[return-value]
        return render_error(code)

    def database_unavailable(error: Exception) -> tuple[str, int]:
        # The database restarted or is out of reach: say so in the user's language. A dead
        # connection makes the pool renew every older one, so a later request reconnects
        # without restarting the portal.
        log.warning("database unavailable: %s", getattr(error, "orig", error))
        db.session.rollback()
        return render_error(503)

    for database_error in DATABASE_ERRORS:
        app.register_error_handler(database_error, database_unavailable)

    @app.teardown_appcontext
    def close_session(_error: BaseException | None) -> None:
        # Registered after Flask-SQLAlchemy's teardown, so it runs first. A connection the
        # database dropped while idle (a restart) fails the closing rollback; the page is
        # already answered, so log it and forget the session instead of turning it into a 500.
        try:
            db.session.remove()
        except DATABASE_ERRORS as error:
            log.warning(
                "database connection lost after the request: %s", getattr(error, "orig", error)
            )
            # Close the dead connection and give its slot back to the pool, then forget it.
            with contextlib.suppress(Exception):
                db.session.invalidate()
            db.session.registry.clear()

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[str, int]:
        log.exception("unhandled error on %s", request.path)
        db.session.rollback()
        return render_error(500)
