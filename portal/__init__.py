"""Portal: participatory budgeting and the local economy for Chilean municipalities."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application: config, extensions, blueprints, commands, error pages."""
    # Imported here so that `import portal` (e.g. for `portal pb tally`) stays cheap.
    from portal.app import build_app

    return build_app(config)
