"""The `portal` console script: Flask's CLI over create_app, plus `portal pb`.

`portal pb …` is dispatched before Flask is imported: Flask's CLI loads every installed
extension's commands (Flask-Limiter's, for one) before it runs any, which cost 0.2-0.3 s at
every start, more than checking a 10,000-voter file.
"""

from __future__ import annotations

import sys
from typing import Any


def _create_app():  # type: ignore[no-untyped-def]
    from portal import create_app

    return create_app()


def _flask_cli() -> Any:
    from flask.cli import FlaskGroup

    group = FlaskGroup(
        name="portal",
        create_app=_create_app,
        help="Portal: participatory budgeting for Chilean municipalities.",
    )
    try:  # the allocation engine's commands need no app and load nothing heavy
        from portal.core.cli import pb

        group.add_command(pb)
    except ImportError:  # pragma: no cover - only while the engine is not installed
        pass
    return group


def main(argv: list[str] | None = None) -> None:
    """Run the CLI."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["pb"]:
        from portal.core.cli import pb

        pb.main(args=args[1:], prog_name="portal pb")
    else:
        _flask_cli().main(args=args, prog_name="portal")
