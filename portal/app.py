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
    "portal.economy",
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

    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    from portal.security import init_security

    init_security(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind every extension to the app."""
    from portal.extensions import babel, csrf, db, limiter, login_manager, migrate, select_locale

    import portal.models  # noqa: F401 - register every table on the metadata

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
    from portal.commands import demo_command
    from portal.geo.cli import geo_cli

    app.cli.add_command(geo_cli)
    app.cli.add_command(demo_command)


def register_errorhandlers(app: Flask) -> None:
    """Render error pages in the user's language that reveal nothing."""
    from portal.errors import init_errors

    init_errors(app)


def register_template_helpers(app: Flask) -> None:
    """Expose formatters (money, dates, times) to templates."""
    from portal.i18n import init_i18n

    init_i18n(app)
