"""URL helpers."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request, url_for


def safe_next(target: str | None, fallback: str) -> str:
    """Return target when it is a path on this site, else fallback (no open redirects)."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    if "\\" in target:
        return fallback
    return target


def external_url(endpoint: str, **values: object) -> str:
    """Build an absolute URL for mail, from PORTAL_BASE_URL when set."""
    base = current_app.config.get("BASE_URL")
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def current_path() -> str:
    """Return the current path with its query string."""
    return request.full_path.rstrip("?")
