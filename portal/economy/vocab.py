"""Controlled vocabularies of the registry and their mapping to ESSGlobal and schema.org."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

ESSGLOBAL = "https://w3id.solidarityeconomy.coop/essglobal/V2a/standard/"

# Legal forms of Chilean SSE organizations → ESSGlobal organisational-structure terms.
LEGAL_FORMS: dict[str, tuple[object, str]] = {
    "cooperative": (_l("Cooperative"), "Co-operative"),
    "community_functional": (_l("Community functional organization"), "Community group (formal)"),
    "territorial": (
        _l("Territorial organization (neighbourhood council)"),
        "Community group (formal)",
    ),
    "trade_association": (_l("Trade association (asociación gremial)"), "Association"),
    "independent_union": (_l("Independent workers' union"), "Trade union"),
    "informal_group": (_l("Informal group"), "Informal group"),
    "social_enterprise": (_l("Social enterprise"), "Social enterprise"),
    "other": (_l("Other"), "Other"),
}
# An informal group has no legal personality: it cannot sign for a public fund.
INFORMAL_FORMS = {"informal_group"}

# Economic sectors → ESSGlobal economic-sector terms.
SECTORS: dict[str, tuple[object, str]] = {
    "agriculture": (_l("Agriculture and food production"), "Agriculture"),
    "fishing": (_l("Artisanal fishing"), "Fishing"),
    "food": (_l("Food and catering"), "Food"),
    "crafts": (_l("Crafts"), "Crafts"),
    "textiles": (_l("Textiles and clothing"), "Textiles"),
    "retail": (_l("Street and market trade"), "Retail"),
    "recycling": (_l("Recycling and reuse"), "Recycling"),
    "tourism": (_l("Tourism"), "Tourism"),
    "services": (_l("Services"), "Services"),
    "housing": (_l("Housing"), "Housing"),
    "finance": (_l("Savings and credit"), "Finance"),
    "culture": (_l("Culture and education"), "Education and culture"),
    "other": (_l("Other"), "Other"),
}

# Qualifiers (model attribute name) → ESSGlobal qualifier terms.
QUALIFIERS: dict[str, tuple[object, str]] = {
    "led_by_women": (_l("Led by women"), "Made by women"),
    "indigenous": (_l("Indigenous"), "Indigenous"),
    "youth": (_l("Youth"), "Youth"),
    "organic": (_l("Organic or agroecological"), "Organic"),
    "fair_trade": (_l("Fair trade"), "Fair trade"),
}

STATUSES: dict[str, object] = {
    "pending": _l("Pending verification"),
    "verified": _l("Verified"),
    "suspended": _l("Suspended"),
    "merged": _l("Merged into another record"),
}

FAIR_KINDS: dict[str, object] = {
    "feria_libre": _l("Feria libre (street market)"),
    "persa": _l("Persa (flea market)"),
    "emprendedores": _l("Entrepreneurs' fair"),
    "mercado_municipal": _l("Municipal market"),
    "other": _l("Other"),
}

# RFC 5545 weekday codes, Monday first (Python's weekday() order).
WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
WEEKDAY_LABELS: dict[str, object] = {
    "MO": _l("Monday"),
    "TU": _l("Tuesday"),
    "WE": _l("Wednesday"),
    "TH": _l("Thursday"),
    "FR": _l("Friday"),
    "SA": _l("Saturday"),
    "SU": _l("Sunday"),
}
SCHEMA_DAYS = {
    "MO": "https://schema.org/Monday",
    "TU": "https://schema.org/Tuesday",
    "WE": "https://schema.org/Wednesday",
    "TH": "https://schema.org/Thursday",
    "FR": "https://schema.org/Friday",
    "SA": "https://schema.org/Saturday",
    "SU": "https://schema.org/Sunday",
}
# What a CSV may say for a weekday: RFC 5545 codes, English and Spanish names (folded).
WEEKDAY_ALIASES = {
    **{code.lower(): code for code in WEEKDAYS},
    "mon": "MO",
    "monday": "MO",
    "lun": "MO",
    "lu": "MO",
    "lunes": "MO",
    "tue": "TU",
    "tuesday": "TU",
    "mar": "TU",
    "ma": "TU",
    "martes": "TU",
    "wed": "WE",
    "wednesday": "WE",
    "mie": "WE",
    "mi": "WE",
    "miercoles": "WE",
    "thu": "TH",
    "thursday": "TH",
    "jue": "TH",
    "ju": "TH",
    "jueves": "TH",
    "fri": "FR",
    "friday": "FR",
    "vie": "FR",
    "vi": "FR",
    "viernes": "FR",
    "sat": "SA",
    "saturday": "SA",
    "sab": "SA",
    "sabado": "SA",
    "sun": "SU",
    "sunday": "SU",
    "dom": "SU",
    "do": "SU",
    "domingo": "SU",
}


def choices(
    vocabulary: dict[str, object] | dict[str, tuple[object, str]],
) -> list[tuple[str, object]]:
    """Turn a vocabulary into (value, label) choices for a SelectField."""
    return [
        (key, value[0] if isinstance(value, tuple) else value) for key, value in vocabulary.items()
    ]


def label(vocabulary: dict[str, object] | dict[str, tuple[object, str]], key: str | None) -> str:
    """Return the translated label of a key, or the key itself when unknown."""
    value = vocabulary.get(key or "")
    if value is None:
        return key or ""
    return str(value[0] if isinstance(value, tuple) else value)
