"""Small text helpers shared by features."""

from __future__ import annotations

import re
import unicodedata


def slugify(value: str) -> str:
    """Turn a Spanish name into a URL slug: 'Viña del Mar' -> 'vina-del-mar'."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def fold(value: str) -> str:
    """Fold case and accents so that searches match 'Ñuñoa' with 'nunoa'."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    return " ".join(ascii_text.lower().split())


def is_whole_number(value: str) -> bool:
    """Tell whether text is a plain whole number in ASCII digits ('²' and '٣' are not)."""
    return value.isascii() and value.isdecimal()


def csv_cell(value: object) -> object:
    """Keep a spreadsheet from reading text as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
