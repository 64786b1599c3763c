"""Locale-aware formats: whole pesos, es-CL dates and 24-hour times."""

from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache
from typing import Any

from babel.numbers import format_decimal
from babel.support import NullTranslations
from flask import Flask, current_app, g, request
from flask_babel import format_date, format_datetime, get_locale, get_translations

DATE_PATTERNS = {"es": "dd-MM-yyyy", "en": "d MMM yyyy"}


def _language() -> str:
    locale = get_locale()
    return locale.language if locale else "es"


def money(amount: int | None) -> str:
    """Format whole pesos: 1500000 -> '$1.500.000' (es-CL) or '$1,500,000' (en)."""
    if amount is None:
        return ""
    if isinstance(amount, float) and not amount.is_integer():
        raise ValueError("money is whole pesos")
    return _pesos(int(amount), str(get_locale() or "es_CL"))


@lru_cache(maxsize=4096)
def _pesos(value: int, locale: str) -> str:
    """Babel's grouping of whole pesos; a page shows the same amounts again and again (the
    ballot's costs and budgets), so the last few thousand are remembered."""
    sign = "-" if value < 0 else ""
    return f"{sign}${format_decimal(abs(value), format='#,##0', locale=locale)}"


def short_date(value: date | datetime | None) -> str:
    """Format a date as 14-03-2026 (es-CL)."""
    if value is None:
        return ""
    pattern = DATE_PATTERNS.get(_language(), "dd-MM-yyyy")
    if isinstance(value, datetime):
        return format_datetime(value, pattern)
    return format_date(value, pattern)


def long_date(value: date | datetime | None) -> str:
    """Format a date as 'sábado, 14 de marzo de 2026' (es-CL)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _local(value).date()
    return format_date(value, "full")


def _local(value: datetime) -> datetime:
    from flask_babel import to_user_timezone

    return to_user_timezone(value)


def time24(value: time | datetime | None) -> str:
    """Format a time as 24-hour HH:mm (Babel's es-CL short time is 12-hour)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_datetime(value, "HH:mm")
    return value.strftime("%H:%M")


def date_time(value: datetime | None) -> str:
    """Format a moment as 14-03-2026 18:30 in Santiago time."""
    if value is None:
        return ""
    pattern = DATE_PATTERNS.get(_language(), "dd-MM-yyyy")
    return format_datetime(value, f"{pattern} HH:mm")  # one Babel call, not two


def html_lang() -> str:
    """Return the BCP 47 tag for the <html lang> attribute."""
    locale = get_locale()
    return str(locale).replace("_", "-") if locale else "es-CL"


def request_translations() -> NullTranslations:
    """Return Flask-Babel's translations for this request, looked up once per request and locale.

    Flask-Babel looks the catalogue up again on every `_()` (context, locale selector, domain,
    its cache keyed by the locale's name): a page with 80 strings paid for 80 look-ups. This
    keeps the one found on `g` beside the locale object it was found for. `force_locale` and
    `refresh` put another locale object on the request, so the next call looks it up again and
    translates into the forced language; leaving `force_locale` puts the first object back.
    """
    locale = get_locale()
    if locale is None:  # outside a request: Flask-Babel's dummy translations
        return get_translations()
    cached = g.get("_portal_translations")
    if cached is not None and cached[0] is locale:
        return cached[1]
    translations = get_translations()
    g._portal_translations = (locale, translations)
    return translations


def install_template_gettext(app: Flask) -> None:
    """Give Jinja's i18n extension callables that use the per-request translations."""
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: request_translations().ugettext(s),
        ngettext=lambda s, p, n: request_translations().ungettext(s, p, n),
        pgettext=lambda c, s: request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: request_translations().unpgettext(c, s, p, n),
        newstyle=True,
    )


def init_i18n(app: Flask) -> None:
    """Register filters and template globals."""
    install_template_gettext(app)
    app.add_template_filter(money, "money")
    app.add_template_filter(short_date, "date")
    app.add_template_filter(long_date, "long_date")
    app.add_template_filter(time24, "time")
    app.add_template_filter(date_time, "datetime")

    @app.context_processor
    def inject() -> dict[str, Any]:
        return {
            "html_lang": html_lang(),
            "languages": current_app.config["LANGUAGES"],
            "current_language": str(get_locale() or "es_CL"),
            "current_path": request.full_path.rstrip("?") if request else "/",
        }
