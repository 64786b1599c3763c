"""The application factory proper: config, extensions, blueprints, commands, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from portal.config import PROJECT_ROOT, load_config

BLUEPRINTS = (
    "portal.public",
    "portal.accounts",
    "portal.admin",
    "portal.staff",
    "portal.budgeting",
    "portal.economy",
    "portal.voting",
    "portal.programmes",
    "portal.api",
)


def build_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Create a configured Flask app."""
    config = load_config(overrides)
    app = Flask(
        "portal",
        instance_path=config["INSTANCE_PATH"],
        static_folder=str(PROJECT_ROOT / "static"),
        static_url_path="/static",
        template_folder=str(Path(__file__).parent / "templates"),
    )
    app.config.update(config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]

    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    from portal.assets import init_assets
    from portal.pagecache import init_page_cache
    from portal.security import init_security

    init_security(app)
    init_assets(app)
    init_page_cache(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind every extension to the app."""
    import portal.models  # noqa: F401 - register every table on the metadata
    from portal.extensions import babel, csrf, db, limiter, login_manager, migrate, select_locale

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_timezone="America/Santiago")
    login_manager.init_app(app)
    from portal.accounts.auth import init_login

    init_login(app)


def register_blueprints(app: Flask) -> None:
    """Register each feature's blueprint (each package exposes `bp`)."""
    import importlib

    for name in BLUEPRINTS:
        module = importlib.import_module(name)
        app.register_blueprint(module.bp)


def register_commands(app: Flask) -> None:
    """Attach the CLI groups of each feature."""
    from portal.budgeting.cli import census_cli
    from portal.commands import create_admin_command, demo_command
    from portal.geo.cli import geo_cli

    app.cli.add_command(geo_cli)
    app.cli.add_command(census_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(create_admin_command)


def register_errorhandlers(app: Flask) -> None:
    """Render error pages in the user's language that reveal nothing."""
    from portal.errors import init_errors

    init_errors(app)


def register_template_helpers(app: Flask) -> None:
    """Expose formatters (money, dates, times) to templates."""
    from portal.i18n import init_i18n

    init_i18n(app)
