"""Sessions and authorization: who may open which staff page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, g
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.extensions import db, login_manager

F = TypeVar("F", bound=Callable[..., Any])


def init_login(app: Flask) -> None:
    """Configure Flask-Login."""
    from portal.accounts.models import User

    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to open that page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"  # "strong" would sign out phones that change network

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        if not user_id.isdigit():
            return None
        return db.session.get(User, int(user_id))


def login_required_view(view: F) -> F:
    """Send anonymous visitors to the sign-in page."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def admin_required(view: F) -> F:
    """Open a view to platform admins only."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def municipal_staff_required(view: F) -> F:
    """Open a view taking `slug` to staff of that municipality only; sets g.municipality."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        from portal.geo.services import municipality_by_slug

        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        municipality = municipality_by_slug(db.session, kwargs.get("slug", ""))
        if municipality is None:
            abort(404)
        if municipality.id not in current_user.municipality_ids():
            abort(403)
        g.municipality = municipality
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _region_required(view: F, *, admins: bool) -> F:
    """Open a view taking `region` (a CUT) to staff of that region (and admins if told)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        from portal.geo.models import Region

        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        region = db.session.get(Region, kwargs.get("region", ""))
        if region is None:
            abort(404)
        if region.cut not in current_user.region_cuts() and not (admins and current_user.is_admin):
            abort(403)
        g.region = region
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def regional_staff_required(view: F) -> F:
    """Open a view taking `region` (a CUT) to staff of that region only; sets g.region."""
    return _region_required(view, admins=False)


def region_viewer_required(view: F) -> F:
    """Open a view taking `region` (a CUT) to that region's staff and to admins; sets g.region."""
    return _region_required(view, admins=True)
