"""Public pages as an anonymous visitor sees them, kept a few seconds in each process.

On the last day of a round most requests are the same two pages (the home page and the round's
page) for visitors who have not signed in. Each worker keeps the HTML of those pages for up to
``PUBLIC_PAGE_CACHE_SECONDS`` and serves it without a query or a template:

- A page is kept per path and language, and served only to whom it was made for: a GET without
  a query string, from a visitor who has not signed in and has no message waiting, and whatever
  else the view says its page depends on (`cached_public_page`'s ``applies``).
- The one thing of the visitor's on such a page is the CSRF token of its forms: the page is kept
  with a placeholder in its place, and each visitor gets their own token in it.
- A page is kept no longer than the round phases it shows last: a view names the moment its
  page goes out of date (`fresh_until`), e.g. the start of a round's next phase.
- A commit that changes anything shown on public pages forgets every kept page of its process
  at once (ballots and participations change none of them). Another process sees the change
  when its copy expires, within ``PUBLIC_PAGE_CACHE_SECONDS``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Hashable
from datetime import datetime
from functools import wraps
from itertools import chain
from typing import Any, TypeVar

from flask import (
    Flask,
    current_app,
    g,
    has_app_context,
    has_request_context,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from portal.database import request_now

# Made per process: it cannot be guessed, and no text of ours contains it.
PLACEHOLDER = "csrf-placeholder-" + secrets.token_hex(16)
STALE = "portal_public_pages_stale"
T = TypeVar("T")

clock: Callable[[], float] = time.time  # replaced in tests


def _pages() -> dict[tuple[str, str], tuple[str, float]]:
    """The pages this app keeps in this process (each app its own: tests make many)."""
    return current_app.extensions["public_pages"]  # type: ignore[no-any-return]


def forget_all() -> None:
    """Forget every kept page and value of this process. The dicts are replaced, not emptied: a
    page or value being made meanwhile from what the database held before goes into the old
    one, never served."""
    if has_app_context() and "public_pages" in current_app.extensions:
        current_app.extensions["public_pages"] = {}
        current_app.extensions["public_values"] = {}


def remember(key: Hashable, make: Callable[[], T]) -> T:
    """Return what ``make()`` returns, kept like the pages (``PUBLIC_PAGE_CACHE_SECONDS``,
    forgotten by a commit that changes anything but ballots). For what every visitor shares,
    such as a public round or the projects on its ballot, which are fixed once voting opens. A
    page made from a kept value is kept no longer than the value."""
    seconds = current_app.config["PUBLIC_PAGE_CACHE_SECONDS"]
    if not seconds:
        return make()
    values = current_app.extensions["public_values"]
    now = clock()
    entry = _fresh(values, key, now)
    if entry is not None:
        _page_lasts(entry[1] - now)
        return entry[0]  # type: ignore[no-any-return]
    value = make()
    _keep(values, key, value, now, seconds)
    return value


def _page_lasts(seconds: float) -> None:
    """Keep the page being made (if any) for ``seconds`` at most."""
    if has_request_context():
        g.page_fresh_for = min(seconds, g.get("page_fresh_for", seconds))


def fresh_until(moment: datetime | None) -> None:
    """Say that the page being made goes out of date at ``moment`` (e.g. the next phase), a
    time by the request's clock (`request_now`: the database's on PostgreSQL)."""
    if moment is None:
        return
    _page_lasts((moment - request_now()).total_seconds())


def _fresh(
    kept: dict[Any, tuple[Any, float]], key: Hashable, now: float
) -> tuple[Any, float] | None:
    """What is kept under ``key`` and when it expires, unless it has expired."""
    entry = kept.get(key)
    return entry if entry is not None and entry[1] > now else None


def _keep(
    kept: dict[Any, tuple[Any, float]], key: Hashable, value: Any, now: float, for_: float
) -> None:
    """Keep ``value`` for ``for_`` seconds, dropping what has expired."""
    # A snapshot (list() holds the GIL): other threads add and drop entries meanwhile.
    for old in [k for k, (_value, expires) in list(kept.items()) if expires <= now]:
        kept.pop(old, None)
    kept[key] = (value, now + for_)


def _visitor_sees_the_common_page() -> bool:
    return (
        request.method == "GET"
        and not request.query_string
        and "_flashes" not in session
        and not current_user.is_authenticated
    )


def cached_public_page(applies: Callable[..., bool] | None = None) -> Callable[[Any], Any]:
    """Keep the page a view makes for anonymous visitors (see the module's docstring).

    ``applies(**view_args)`` tells, for a request the rest allows, whether this visitor sees the
    common page (False, say, for a voter whose ballot is waiting). A view that flashes a message
    and shows it on the same page must not be kept this way."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(**kwargs: Any) -> Any:
            seconds = current_app.config["PUBLIC_PAGE_CACHE_SECONDS"]
            if (
                not seconds
                or not _visitor_sees_the_common_page()
                or (applies is not None and not applies(**kwargs))
            ):
                return view(**kwargs)
            key = (request.path, str(get_locale()))
            now = clock()
            pages = _pages()
            kept = _fresh(pages, key, now)
            if kept is not None:
                return kept[0].replace(PLACEHOLDER, generate_csrf())
            # One copy per page: /rondas/01 shows round 1 too, but is made, not kept.
            if request.path != url_for(request.endpoint or "", **(request.view_args or {})):
                return view(**kwargs)
            field_name = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
            setattr(g, field_name, PLACEHOLDER)
            try:
                page = view(**kwargs)
            finally:
                g.pop(field_name, None)
            if not isinstance(page, str):  # a redirect, an error, a page with its own status
                response = current_app.make_response(page)
                if not response.is_streamed and response.mimetype == "text/html":
                    body = response.get_data(as_text=True)
                    response.set_data(body.replace(PLACEHOLDER, generate_csrf()))
                return response
            fresh_for = min(seconds, g.get("page_fresh_for", seconds))
            if fresh_for > 0:
                _keep(pages, key, page, now, fresh_for)
            return page.replace(PLACEHOLDER, generate_csrf())

        return wrapper

    return decorator


# Writes that no cached page shows: a ballot cast does not make the pages out of date. Any other
# write forgets the pages (a sign-in too): forgetting too much costs a page made again.
QUIET_TABLES = frozenset({"ballots", "ballot_choices", "participations", "audit_entries"})


def _tables(objects: Any) -> set[str]:
    return {getattr(type(o), "__tablename__", "") for o in objects}


def init_page_cache(app: Flask) -> None:
    """Forget kept pages when a commit changes what public pages show."""
    app.extensions["public_pages"] = {}
    app.extensions["public_values"] = {}
    if getattr(init_page_cache, "listening", False):
        return
    init_page_cache.listening = True  # type: ignore[attr-defined]

    @event.listens_for(Session, "after_flush")
    def note_flush(session: Session, _context: UOWTransaction) -> None:
        if _tables(chain(session.new, session.dirty, session.deleted)) - QUIET_TABLES:
            session.info[STALE] = True

    @event.listens_for(Session, "do_orm_execute")
    def note_statement(state: ORMExecuteState) -> None:
        # insert(), update() and delete() sent through the session; text() is not looked at
        # (the portal writes with it only to take SQLite's writer lock).
        if state.is_insert or state.is_update or state.is_delete:
            table = getattr(state.statement, "table", None)
            if getattr(table, "name", "") not in QUIET_TABLES:
                state.session.info[STALE] = True

    # A savepoint's end is not the transaction's: the note waits for the outer commit (and a
    # savepoint rolled back keeps it: forgetting too much costs a page made again, no more).
    @event.listens_for(Session, "after_commit")
    def forget_on_commit(session: Session) -> None:
        if not session.in_nested_transaction() and session.info.pop(STALE, False):
            forget_all()

    @event.listens_for(Session, "after_rollback")
    def drop_note(session: Session) -> None:
        if not session.in_nested_transaction():
            session.info.pop(STALE, None)
