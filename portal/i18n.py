"""Locale-aware formats: whole pesos, es-CL dates and 24-hour times."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from babel.numbers import format_decimal
from flask import Flask, current_app, request
from flask_babel import format_date, format_datetime, get_locale

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
    value = int(amount)
    sign = "-" if value < 0 else ""
    return (
        f"{sign}${format_decimal(abs(value), format='#,##0', locale=str(get_locale() or 'es_CL'))}"
    )


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
    return f"{short_date(value)} {time24(value)}"


def html_lang() -> str:
    """Return the BCP 47 tag for the <html lang> attribute."""
    locale = get_locale()
    return str(locale).replace("_", "-") if locale else "es-CL"


def init_i18n(app: Flask) -> None:
    """Register filters and template globals."""
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
