"""The `portal` console script: Flask's CLI over create_app, plus `portal pb`."""

from __future__ import annotations

from flask.cli import FlaskGroup


def _create_app():  # type: ignore[no-untyped-def]
    from portal import create_app

    return create_app()


cli = FlaskGroup(
    name="portal",
    create_app=_create_app,
    help="Portal: participatory budgeting for Chilean municipalities.",
)

try:  # the allocation engine's commands need no app and load nothing heavy
    from portal.core.cli import pb

    cli.add_command(pb)
except ImportError:  # pragma: no cover - only while the engine is not installed
    pass


def main() -> None:
    """Run the CLI."""
    cli.main(prog_name="portal")
