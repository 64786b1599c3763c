"""Security headers on every response."""

from __future__ import annotations

from functools import cache

from flask import Flask, abort, current_app, request
from werkzeug.wrappers import Response


def content_security_policy() -> str:
    """Build the CSP: our own scripts and styles only, no inline script, no framing."""
    return _policy(tuple(current_app.config.get("CSP_EXTRA_IMG_SRC", [])))


@cache
def _policy(extra_img_src: tuple[str, ...]) -> str:
    """The CSP for these extra image sources (built once: every response carries it)."""
    img_src = " ".join(["'self'", "data:", *extra_img_src])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {img_src}",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def init_security(app: Flask) -> None:
    """Refuse NUL bytes in input and add the security headers to every response."""

    @app.before_request
    def refuse_nul_bytes() -> None:
        # No text a person types contains NUL, and PostgreSQL cannot store it: refuse it early.
        for source in (request.args, request.form):
            for _key, values in source.lists():
                if any("\x00" in value for value in values):
                    abort(400)

    @app.after_request
    def add_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", content_security_policy())
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(self)")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if current_app.config["HTTPS"] or request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if (
            request.endpoint
            and not request.endpoint.endswith("static")
            and "Cache-Control" not in headers
        ):
            # Pages may hold personal data: never let a shared cache keep them.
            headers["Cache-Control"] = "private, no-cache"
        return response
