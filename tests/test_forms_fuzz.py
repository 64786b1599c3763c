"""Every form, as every role sees it, survives hostile input: no 500, no markup echoed raw."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest

from tests.conftest import csrf_token, login
from tests.test_authorization import AREAS, PUBLIC, area_of, url_for_rule, world  # noqa: F401

NASTY = [
    "",
    " ",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "x" * 5000,
    "-1",
    "0",
    "99999999999999999999999",
    "NaN",
    "2026-13-45",
    "ñandú 🐦 \u202e",
    "../../etc/passwd",
    "\x00",
]
FORM_RE = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
ATTR_RE = re.compile(r'(\w[\w-]*)="([^"]*)"')
FIELD_RE = re.compile(r"<(input|select|textarea)\b([^>]*)>", re.I)
SKIP_ACTIONS = ("/salir", "/idioma")


def forms_on(html: str, page_url: str) -> list[tuple[str, list[str]]]:
    found = []
    for attrs, body in FORM_RE.findall(html):
        attr = dict(ATTR_RE.findall(attrs))
        if attr.get("method", "get").lower() != "post":
            continue
        action = unescape(attr.get("action") or page_url)
        if action.startswith(SKIP_ACTIONS):
            continue
        names = []
        for _tag, field_attrs in FIELD_RE.findall(body):
            fa = dict(ATTR_RE.findall(field_attrs))
            if (
                fa.get("name")
                and fa["name"] != "csrf_token"
                and fa.get("type") not in ("submit", "file")
            ):
                names.append(fa["name"])
        found.append((action, names))
    return found


@pytest.mark.parametrize("role", ["anonymous", "resident", "staff_a", "admin", "regional_a"])
def test_every_form_survives_hostile_input(app: Any, world: dict[str, Any], role: str) -> None:  # noqa: F811
    client = app.test_client()
    if role != "anonymous":
        login(client, world["users"][role].email)
    pages = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or "token" in rule.arguments:
            continue
        allowed = area_of(rule.endpoint)
        if allowed is not None and role not in allowed:
            continue
        pages.append(url_for_rule(rule, world["values"]))
    posted = 0
    for page in sorted(set(pages)):
        response = client.get(page)
        if response.status_code != 200 or "text/html" not in response.content_type:
            response.close()
            continue
        forms = forms_on(response.get_data(as_text=True), page)
        if not forms:
            continue
        token = csrf_token(client, page)
        for action, names in forms:
            for nasty in NASTY:
                data = {name: nasty for name in names}
                data["csrf_token"] = token
                result = client.post(action, data=data)
                posted += 1
                assert result.status_code < 500, (role, action, nasty[:30])
                if result.status_code == 200:
                    assert "<script>alert(1)</script>" not in result.get_data(as_text=True), (
                        action,
                    )
    assert posted > 0
