"""Static files are addressed by their content, so browsers keep them and never ask again."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from portal.assets import static_version
from portal.config import PROJECT_ROOT

STATIC = PROJECT_ROOT / "static"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def test_pages_name_each_static_file_by_its_content_and_browsers_keep_it(client: Any) -> None:
    page = client.get("/").get_data(as_text=True)
    match = re.search(r'href="(/static/css/portal\.css\?v=([0-9a-f]{12}))"', page)
    assert match, "the style sheet is not linked with its version"
    url, version = match.groups()
    assert version == digest(STATIC / "css" / "portal.css")

    with client.get(url) as kept:
        assert kept.status_code == 200
        assert kept.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # Without the version, or with another one, the browser must still ask each time.
    for other in ("/static/css/portal.css", "/static/css/portal.css?v=000000000000"):
        with client.get(other) as response:
            assert response.status_code == 200
            assert "immutable" not in response.headers["Cache-Control"]
            assert "no-cache" in response.headers["Cache-Control"]


def test_static_files_do_not_vary_with_the_session_cookie(client: Any) -> None:
    """A browser keeps a response that says `Vary: Cookie` only for as long as the cookie
    stays the same, and the voter's session cookie changes at every step of the vote."""
    with client.session_transaction() as session:
        session["lang"] = "en"  # a visitor with a session cookie
    page = client.get("/")
    assert "Cookie" in page.headers.get("Vary", "")  # pages do depend on it
    url = re.search(r'href="(/static/css/portal\.css\?v=[0-9a-f]{12})"', page.get_data(True))
    assert url
    with client.get(url.group(1)) as kept:
        assert kept.status_code == 200
        assert "Cookie" not in kept.headers.get("Vary", "")
        assert "immutable" in kept.headers["Cache-Control"]


def test_a_folder_url_gets_no_version(app: Any) -> None:
    """The map script loads its library's files from a folder URL: a query there would break
    every path built on it."""
    from flask import url_for

    with app.test_request_context():
        assert url_for("static", filename="vendor/leaflet/") == "/static/vendor/leaflet/"
        assert url_for("static", filename="no/such/file.css") == "/static/no/such/file.css"


def test_a_changed_file_gets_a_new_version(tmp_path: Path) -> None:
    css = tmp_path / "site.css"
    css.write_text("body { color: black; }")
    first = static_version(str(tmp_path), "site.css")
    assert first == digest(css)
    css.write_text("body { color: navy; }")
    stamp = css.stat().st_mtime_ns + 1_000_000_000  # a later time, whatever the clock's grain
    os.utime(css, ns=(stamp, stamp))
    second = static_version(str(tmp_path), "site.css")
    assert second == digest(css) and second != first
    assert static_version(str(tmp_path), "../site.css") is None
    assert static_version(str(tmp_path), "missing.css") is None
