"""Browser fixtures: the app served on loopback, Debian's Chromium driven by Playwright."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.voting.conftest import voting_round  # noqa: F401 - the voting tests' fixture, reused

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
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll interval lets shutdown() return at once instead of after 0.5 s.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
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


# ----------------------------------------------------------------------------- the network

LOOPBACK = re.compile(r"^https?://127\.0\.0\.1(:\d+)?/")
TILE = re.compile(r"\{[xyzs]\}")


def keep_off_the_internet(context: Any) -> None:
    """Answer map tiles with an empty response; refuse anything else outside loopback.

    A refused request shows up as a failed request in `watch`, so a page that reaches the
    internet fails its test.
    """

    def handle(route: Any) -> None:
        if route.request.resource_type == "image":
            route.fulfill(status=204, body=b"")
        else:
            route.abort()

    context.route(lambda url: not LOOPBACK.match(url), handle)


def new_page(context: Any) -> Any:
    keep_off_the_internet(context)
    page = context.new_page()
    page.problems = watch(page)
    return page


# ----------------------------------------------------------------------------- accessibility

AXE_PATH = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core as installed by `make` (package.json), read once."""
    assert AXE_PATH.exists(), f"{AXE_PATH} is missing: run `make setup` (npm ci)"
    return AXE_PATH.read_text(encoding="utf-8")


AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))
  }));
}"""

DUPLICATE_IDS = """() => {
  const seen = {};
  document.querySelectorAll('[id]').forEach(e => { seen[e.id] = (seen[e.id] || 0) + 1; });
  return Object.keys(seen).filter(k => seen[k] > 1);
}"""


def accessibility_problems(page: Any, axe: str) -> list[str]:
    """Run axe-core on the page; return its serious and critical violations, and duplicate ids.

    The portal's CSP forbids inline scripts, so axe is evaluated through the DevTools
    protocol (page.evaluate), which the page's CSP does not govern.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe)
    found = [
        f"{page.url}: {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}"
        for v in page.evaluate(AXE_RUN)
        if v["impact"] in ("serious", "critical")
    ]
    found += [f"{page.url}: duplicate id {i!r}" for i in page.evaluate(DUPLICATE_IDS)]
    return found


# ----------------------------------------------------------------------------- bytes and time


class Transfer:
    """Bytes a page transfers, read from the DevTools protocol, with the cache turned off."""

    def __init__(self, page: Any) -> None:
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        self.urls: dict[str, str] = {}
        self.sizes: dict[str, int] = {}
        self.cdp.on("Network.responseReceived", self._response)
        self.cdp.on("Network.loadingFinished", self._finished)

    def _response(self, event: dict[str, Any]) -> None:
        self.urls[event["requestId"]] = event["response"]["url"]

    def _finished(self, event: dict[str, Any]) -> None:
        self.sizes[event["requestId"]] = int(event["encodedDataLength"])

    def reset(self) -> None:
        self.urls.clear()
        self.sizes.clear()

    def by_url(self) -> dict[str, int]:
        """Bytes per loopback URL (map tiles and anything else outside are left out)."""
        out: dict[str, int] = {}
        for request_id, size in self.sizes.items():
            url = self.urls.get(request_id, "")
            if LOOPBACK.match(url):
                out[url] = out.get(url, 0) + size
        return out

    def total(self) -> int:
        return sum(self.by_url().values())

    def slow_3g(self, latency_ms: int, down_kbit: int, up_kbit: int) -> None:
        """Emulate a slow phone connection (throughput in bytes per second for the protocol)."""
        self.cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": latency_ms,
                "downloadThroughput": down_kbit * 1000 / 8,
                "uploadThroughput": up_kbit * 1000 / 8,
            },
        )

    def fast(self) -> None:
        self.cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )


LCP_OBSERVER = """
window.__lcp = null;
new PerformanceObserver(function (list) {
  list.getEntries().forEach(function (entry) { window.__lcp = entry.startTime; });
}).observe({type: 'largest-contentful-paint', buffered: true});
"""


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
    yield new_page(context)
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
    yield new_page(context)
    context.close()


@pytest.fixture
def desktop(browser: Any) -> Iterator[Any]:
    """A staff member's desktop."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="es-CL")
    yield new_page(context)
    context.close()


def screenshot(page: Any, name: str) -> None:
    """Save a full-page screenshot under tests/browser/screenshots/ (ignored by git)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """The development server may leave a static file unclosed when Chromium aborts its request
    (a page navigated away): not the portal's doing, so not a test failure here."""
    for item in items:
        if "tests/browser/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(
                pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
            )
