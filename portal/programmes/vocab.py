"""Labels of the programmes' vocabularies (agencies, levels, project statuses)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

AGENCY_LABELS = {
    "gore": _l("Regional government (FNDR)"),
    "sercotec": _l("SERCOTEC"),
    "corfo": _l("CORFO"),
    "sernatur": _l("SERNATUR"),
    "subdere": _l("SUBDERE"),
    "municipality": _l("Municipality"),
    "other": _l("Other"),
}
LEVEL_LABELS = {
    "national": _l("National"),
    "regional": _l("Regional"),
    "municipal": _l("Municipal"),
}
STATUS_LABELS = {
    "planned": _l("Planned"),
    "in_progress": _l("In progress"),
    "completed": _l("Completed"),
    "cancelled": _l("Cancelled"),
}
