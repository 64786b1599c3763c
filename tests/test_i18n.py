"""Translations and es-CL formats."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from portal import i18n
from tests.conftest import REPO, post_form

KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}


def extracted_ids() -> set[str]:
    method_map = [("portal/**.py", "python"), ("portal/**/templates/**.html", "jinja2")]
    ids: set[str] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(REPO),
        method_map=method_map,
        options_map={"portal/**/templates/**.html": {"extensions": "jinja2.ext.do"}},
        keywords=KEYWORDS,
    ):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def catalog(lang: str) -> Any:
    path = REPO / "translations" / lang / "LC_MESSAGES" / "messages.po"
    return read_po(StringIO(path.read_text(encoding="utf-8")), locale=lang)


def test_every_string_has_a_spanish_translation() -> None:
    es = catalog("es")
    missing = sorted(
        msgid
        for msgid in extracted_ids()
        if msgid and (msgid not in es or not es[msgid].string or es[msgid].fuzzy)
    )
    assert missing == [], f"strings missing from translations/es: {missing}"


def test_placeholders_survive_translation() -> None:
    import re

    for message in catalog("es"):
        if message.id and message.string and isinstance(message.id, str):
            assert set(re.findall(r"%\(\w+\)\w", message.id)) == set(
                re.findall(r"%\(\w+\)\w", message.string)
            ), message.id


def test_pages_are_spanish_by_default_and_english_on_request(client: Any) -> None:
    home = client.get("/").get_data(as_text=True)
    assert '<html lang="es-CL">' in home
    assert "Municipalidades en Portal" in home
    response = post_form(client, "/idioma", {"lang": "en", "next": "/ingresar"})
    assert response.headers["Location"] == "/ingresar"
    assert "lang=en" in response.headers["Set-Cookie"]
    page = client.get("/ingresar").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Sign in" in page and "Ingresar" not in page


def test_language_cookie_persists_across_sessions(app: Any) -> None:
    client = app.test_client()
    client.set_cookie("lang", "en")
    assert "Municipalities on Portal" in client.get("/").get_data(as_text=True)


def test_unknown_language_is_ignored(client: Any) -> None:
    post_form(client, "/idioma", {"lang": "xx"})
    assert "Municipalidades en Portal" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("lang", "amount", "expected"),
    [
        ("es_CL", 1500000, "$1.500.000"),
        ("es_CL", 0, "$0"),
        ("es_CL", -2500, "-$2.500"),
        ("en", 1500000, "$1,500,000"),
    ],
)
def test_money_is_whole_pesos(app: Any, lang: str, amount: int, expected: str) -> None:
    with app.test_request_context(headers={"Cookie": f"lang={lang}"}):
        assert i18n.money(amount) == expected


def test_fractional_money_is_refused(app: Any) -> None:
    with app.test_request_context(), pytest.raises(ValueError):
        i18n.money(10.5)  # type: ignore[arg-type]


def test_es_cl_dates_and_24_hour_times(app: Any) -> None:
    with app.test_request_context():
        assert i18n.short_date(date(2026, 3, 14)) == "14-03-2026"
        assert i18n.long_date(date(2026, 3, 14)) == "sábado, 14 de marzo de 2026"
        assert i18n.time24(time(18, 5)) == "18:05"
        # 21:30 UTC on 14 March 2026 is 18:30 in Santiago (UTC-3, summer time).
        moment = datetime(2026, 3, 14, 21, 30, tzinfo=UTC)
        assert i18n.date_time(moment) == "14-03-2026 18:30"
        # In winter (UTC-4) the same UTC time is an hour earlier.
        assert i18n.time24(datetime(2026, 7, 14, 21, 30, tzinfo=UTC)) == "17:30"


def test_catalogs_are_compiled() -> None:
    assert (REPO / "translations" / "es" / "LC_MESSAGES" / "messages.mo").exists()
    assert Path(REPO / "babel.cfg").exists()


def test_template_strings_follow_force_locale_within_one_request(app: Any) -> None:
    """Templates keep the translations of a request; `force_locale` must still switch them."""
    from flask_babel import force_locale, refresh
    from flask_babel import gettext as python_gettext

    template = app.jinja_env.from_string(
        "{{ _('Home') }} {{ ngettext('%(num)d organization', '%(num)d organizations', 2) }}"
    )
    # A fresh app context each time: pytest-flask keeps one (and its `g`) around every test.
    with app.app_context(), app.test_request_context("/"):
        assert template.render() == "Inicio 2 organizaciones"
        with force_locale("en"):
            assert template.render() == "Home 2 organizations"
            assert python_gettext("Home") == "Home"
        assert template.render() == "Inicio 2 organizaciones"
    with app.app_context(), app.test_request_context("/"):
        # The first look-up of the request inside force_locale must not stick to the request.
        with force_locale("en"):
            assert template.render() == "Home 2 organizations"
        assert template.render() == "Inicio 2 organizaciones"
    with app.app_context(), app.test_request_context("/", headers={"Cookie": "lang=en"}):
        assert template.render() == "Home 2 organizations"
        with force_locale("es_CL"):
            assert template.render() == "Inicio 2 organizaciones"
        # A language changed during the request (refresh) is picked up as well.
        from flask import session

        session["lang"] = "es_CL"
        refresh()
        assert template.render() == "Inicio 2 organizaciones"
