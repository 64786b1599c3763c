"""Browser fixtures: the app served on loopback, Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (.ci/run installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Start Chromium once for the session."""
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def live_url(app: Any) -> Iterator[str]:
    """Serve the test's app on a free loopback port in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


class Problems(list[str]):
    """Console errors and page errors seen during a test."""


def watch(page: Any) -> Problems:
    """Collect console errors, uncaught exceptions and failed requests of a page."""
    problems = Problems()
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # A request the browser itself cancels because the page navigated away is not a failure.
    page.on(
        "requestfailed",
        lambda r: (
            None
            if "ERR_ABORTED" in (r.failure or "")
            else problems.append(f"failed request: {r.url} {r.failure}")
        ),
    )
    return problems


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A resident's phone: 360×740, Chilean Spanish, touch."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        locale="es-CL",
        has_touch=True,
        is_mobile=True,
        device_scale_factor=2,
    )
    page = context.new_page()
    page.problems = watch(page)
    yield page
    context.close()


@pytest.fixture
def phone_without_js(browser: Any) -> Iterator[Any]:
    """The same phone with JavaScript turned off."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        locale="es-CL",
        has_touch=True,
        is_mobile=True,
        java_script_enabled=False,
    )
    page = context.new_page()
    page.problems = watch(page)
    yield page
    context.close()


@pytest.fixture
def desktop(browser: Any) -> Iterator[Any]:
    """A staff member's desktop."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="es-CL")
    page = context.new_page()
    page.problems = watch(page)
    yield page
    context.close()


def screenshot(page: Any, name: str) -> None:
    """Save a full-page screenshot under tests/browser/screenshots/ (ignored by git)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
