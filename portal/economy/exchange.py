"""CSV imports (validated whole, nothing written until clean) and HSDS-shaped exports."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import time
from typing import Any, TypeVar

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.economy.models import Fair, Organization
from portal.economy.services import (
    LocationData,
    RegistryError,
    ScheduleData,
    clean_rut,
    create_fair,
    create_organization,
    parse_date,
    parse_dates,
    parse_one_offs,
    parse_time,
)
from portal.economy.vocab import (
    FAIR_KINDS,
    LEGAL_FORMS,
    QUALIFIERS,
    SECTORS,
    WEEKDAY_ALIASES,
)
from portal.geo.models import Comuna, Municipality
from portal.text import fold

T = TypeVar("T")
MAX_ROWS = 5000

ORGANIZATION_COLUMNS = [
    "name",
    "rut",
    "legal_form",
    "sector",
    "description",
    "products",
    "members_total",
    "members_women",
    "qualifiers",
    "email",
    "phone",
    "website",
    "social_url",
    "opening_hours",
    "location_name",
    "address",
    "comuna",
    "latitude",
    "longitude",
    "last_verified",
]
ORGANIZATION_REQUIRED = ["name", "legal_form", "sector"]
FAIR_COLUMNS = [
    "name",
    "kind",
    "place",
    "latitude",
    "longitude",
    "stalls",
    "permit_number",
    "product_categories",
    "description",
    "weekdays",
    "opens_at",
    "closes_at",
    "valid_from",
    "valid_to",
    "exceptions",
    "one_off_dates",
    "organizer_ruts",
]
FAIR_REQUIRED = ["name", "kind", "place"]


@dataclass
class ImportProblem:
    """One problem of an import file, with its line."""

    line: int
    message: str


@dataclass
class ParsedImport:
    """A file read whole: the rows ready to write, or the errors that stop it."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[ImportProblem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Tell whether the file may be written."""
        return not self.errors and bool(self.rows)


def decode(data: bytes) -> str:
    """Decode an uploaded CSV: UTF-8 (with or without BOM), else Windows-1252 as Excel saves it."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def read_rows(text: str) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """Read a CSV separated by commas or semicolons; yield (line number, row)."""
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [fold(h or "").replace(" ", "_") for h in (reader.fieldnames or [])]
    reader.fieldnames = header

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        for row in reader:
            values = {
                k: (v or "").strip() for k, v in row.items() if k is not None and isinstance(v, str)
            }
            if any(values.values()):
                yield reader.line_num, values

    return header, rows()


def _aliases(vocabulary: dict[str, Any]) -> dict[str, str]:
    """Map keys and labels in Spanish and English (folded) to vocabulary keys."""
    found = {}
    for key, value in vocabulary.items():
        found[fold(key)] = key
        text = value[0] if isinstance(value, tuple) else value
        for locale in ("es_CL", "en"):
            with force_locale(locale):
                found[normal(str(text))] = key
    return found


def normal(value: str) -> str:
    """Fold and drop punctuation, for matching vocabulary labels."""
    return " ".join(re.sub(r"[^a-z0-9_]+", " ", fold(value)).split())


def _split(value: str) -> list[str]:
    return [part.strip() for part in re.split(r"[|;,]", value) if part.strip()]


def _number(value: str, low: float, high: float) -> float | None:
    if not value:
        return None
    number = float(value.replace(",", "."))
    if not low <= number <= high:
        raise ValueError
    return number


def _integer(value: str) -> int | None:
    if not value:
        return None
    number = int(value.replace(".", ""))
    if number < 0:
        raise ValueError
    return number


class _Row:
    """Collects the errors of one row."""

    def __init__(self, line: int, errors: list[ImportProblem]) -> None:
        self.line, self.errors, self.ok = line, errors, True

    def fail(self, message: str) -> None:
        self.errors.append(ImportProblem(self.line, message))
        self.ok = False

    def get(self, label: str, parse: Callable[[], T]) -> T | None:
        try:
            return parse()
        except (ValueError, KeyError):
            self.fail(_("Column %(column)s: the value is not valid.", column=label))
            return None


def _check_header(
    header: list[str], required: list[str], known: list[str], result: ParsedImport
) -> bool:
    missing = [c for c in required if c not in header]
    if missing:
        result.errors.append(
            ImportProblem(1, _("Missing columns: %(columns)s.", columns=", ".join(missing)))
        )
    unknown = [c for c in header if c and c not in known]
    if unknown:
        result.errors.append(
            ImportProblem(1, _("Unknown columns: %(columns)s.", columns=", ".join(unknown)))
        )
    return not missing and not unknown


def _comunas(session: Session) -> dict[str, str]:
    found: dict[str, str] = {}
    for comuna in session.scalars(select(Comuna)):
        found[comuna.cut] = comuna.cut
        found[normal(comuna.name)] = comuna.cut
    return found


def validate_organizations(
    session: Session,
    municipality: Municipality,
    text: str,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> ParsedImport:
    """Read a whole organizations CSV; every problem is reported with its line."""
    result = ParsedImport()
    header, rows = read_rows(text)
    if not _check_header(header, ORGANIZATION_REQUIRED, ORGANIZATION_COLUMNS, result):
        return result
    legal_forms, sectors, qualifiers = (
        _aliases(LEGAL_FORMS),
        _aliases(SECTORS),
        _aliases(QUALIFIERS),
    )
    comunas = _comunas(session)
    known_ruts = {
        rut: name
        for rut, name in session.execute(
            select(Organization.rut, Organization.name).where(
                Organization.municipality_id == municipality.id,
                Organization.status != "merged",
                Organization.rut.is_not(None),
            )
        )
    }
    seen_ruts: dict[str, int] = {}
    all_rows = list(rows)
    if len(all_rows) > MAX_ROWS:
        result.errors.append(
            ImportProblem(1, _("The file has more than %(max)d rows.", max=MAX_ROWS))
        )
        return result
    for line, raw in progress(all_rows) if progress else all_rows:
        row = _Row(line, result.errors)
        values: dict[str, Any] = {"name": raw.get("name", "")}
        if not values["name"]:
            row.fail(_("Column %(column)s is required.", column="name"))
        elif len(values["name"]) > 200:
            row.fail(_("Column %(column)s is too long.", column="name"))
        rut = row.get("rut", lambda: clean_rut(raw.get("rut")))
        values["rut"] = rut
        if rut and rut in known_ruts:
            row.fail(
                _(
                    "RUT %(rut)s is already in the registry (%(name)s).",
                    rut=rut,
                    name=known_ruts[rut],
                )
            )
        elif rut and rut in seen_ruts:
            row.fail(_("RUT %(rut)s is repeated (line %(other)d).", rut=rut, other=seen_ruts[rut]))
        elif rut:
            seen_ruts[rut] = line
        values["legal_form"] = row.get(
            "legal_form", lambda: legal_forms[normal(raw.get("legal_form", ""))]
        )
        values["sector"] = row.get("sector", lambda: sectors[normal(raw.get("sector", ""))])
        for key in QUALIFIERS:
            values[key] = False
        for item in _split(raw.get("qualifiers", "")):
            key = row.get("qualifiers", lambda item=item: qualifiers[normal(item)])
            if key:
                values[key] = True
        values["members_total"] = row.get(
            "members_total", lambda: _integer(raw.get("members_total", ""))
        )
        values["members_women"] = row.get(
            "members_women", lambda: _integer(raw.get("members_women", ""))
        )
        if (
            values["members_total"] is not None
            and values["members_women"] is not None
            and values["members_women"] > values["members_total"]
        ):
            row.fail(_("There cannot be more women members than members in total."))
        email = raw.get("email", "")
        if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            row.fail(_("Column %(column)s: the value is not valid.", column="email"))
        for key in ("website", "social_url"):
            if raw.get(key) and not raw[key].startswith(("http://", "https://")):
                row.fail(_("Column %(column)s: the value is not valid.", column=key))
        for key in (
            "description",
            "products",
            "email",
            "phone",
            "website",
            "social_url",
            "opening_hours",
        ):
            values[key] = raw.get(key, "")
        values["last_verified_on"] = row.get(
            "last_verified",
            lambda: parse_date(raw["last_verified"]) if raw.get("last_verified") else None,
        )
        location = None
        if raw.get("address"):
            comuna = row.get(
                "comuna", lambda: comunas[normal(raw.get("comuna", "") or municipality.comuna.name)]
            )
            lat = row.get("latitude", lambda: _number(raw.get("latitude", ""), -90, 90))
            lon = row.get("longitude", lambda: _number(raw.get("longitude", ""), -180, 180))
            if bool(raw.get("latitude")) != bool(raw.get("longitude")):
                row.fail(_("Give both latitude and longitude, or neither."))
            if comuna:
                location = LocationData(
                    address=raw["address"],
                    comuna_cut=comuna,
                    name=raw.get("location_name", ""),
                    latitude=lat,
                    longitude=lon,
                )
        elif raw.get("latitude") or raw.get("longitude"):
            row.fail(_("Write the address of this point."))
        if row.ok:
            result.rows.append(
                {"line": line, "values": values, "locations": [location] if location else []}
            )
    if not result.rows and not result.errors:
        result.errors.append(ImportProblem(1, _("The file has no rows.")))
    return result


def write_organizations(
    session: Session,
    municipality: Municipality,
    parsed: ParsedImport,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> list[Organization]:
    """Write a clean import: each organization enters the registry verified by staff."""
    if not parsed.clean:
        raise RegistryError("import-not-clean")
    created = []
    for row in progress(parsed.rows) if progress else parsed.rows:
        created.append(
            create_organization(
                session, municipality, row["values"], row["locations"], status="verified"
            )
        )
    return created


def validate_fairs(
    session: Session,
    municipality: Municipality,
    text: str,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> ParsedImport:
    """Read a whole fairs CSV; every problem is reported with its line."""
    result = ParsedImport()
    header, rows = read_rows(text)
    if not _check_header(header, FAIR_REQUIRED, FAIR_COLUMNS, result):
        return result
    kinds = _aliases(FAIR_KINDS)
    organizations = {
        rut: org_id
        for rut, org_id in session.execute(
            select(Organization.rut, Organization.id).where(
                Organization.municipality_id == municipality.id,
                Organization.status != "merged",
                Organization.rut.is_not(None),
            )
        )
    }
    existing_names = {
        normal(n)
        for n in session.scalars(select(Fair.name).where(Fair.municipality_id == municipality.id))
    }
    seen_names: dict[str, int] = {}
    all_rows = list(rows)
    if len(all_rows) > MAX_ROWS:
        result.errors.append(
            ImportProblem(1, _("The file has more than %(max)d rows.", max=MAX_ROWS))
        )
        return result
    for line, raw in progress(all_rows) if progress else all_rows:
        row = _Row(line, result.errors)
        name = raw.get("name", "")
        if not name:
            row.fail(_("Column %(column)s is required.", column="name"))
        elif normal(name) in existing_names:
            row.fail(_("A fair named %(name)s already exists.", name=name))
        elif normal(name) in seen_names:
            row.fail(
                _(
                    "The fair %(name)s is repeated (line %(other)d).",
                    name=name,
                    other=seen_names[normal(name)],
                )
            )
        else:
            seen_names[normal(name)] = line
        if not raw.get("place"):
            row.fail(_("Column %(column)s is required.", column="place"))
        values: dict[str, Any] = {
            "name": name,
            "kind": row.get("kind", lambda: kinds[normal(raw.get("kind", ""))]),
            "place": raw.get("place", ""),
            "latitude": row.get("latitude", lambda: _number(raw.get("latitude", ""), -90, 90)),
            "longitude": row.get("longitude", lambda: _number(raw.get("longitude", ""), -180, 180)),
            "stalls": row.get("stalls", lambda: _integer(raw.get("stalls", ""))),
            "permit_number": raw.get("permit_number", ""),
            "product_categories": raw.get("product_categories", ""),
            "description": raw.get("description", ""),
        }
        if bool(raw.get("latitude")) != bool(raw.get("longitude")):
            row.fail(_("Give both latitude and longitude, or neither."))
        schedules: list[ScheduleData] = []
        days = row.get(
            "weekdays",
            lambda: tuple(
                dict.fromkeys(WEEKDAY_ALIASES[normal(d)] for d in _split(raw.get("weekdays", "")))
            ),
        )
        if days:
            opens = row.get("opens_at", lambda: parse_time(raw.get("opens_at", "")))
            closes = row.get("closes_at", lambda: parse_time(raw.get("closes_at", "")))
            valid_from = row.get(
                "valid_from",
                lambda: parse_date(raw["valid_from"]) if raw.get("valid_from") else None,
            )
            valid_to = row.get(
                "valid_to", lambda: parse_date(raw["valid_to"]) if raw.get("valid_to") else None
            )
            exceptions = row.get("exceptions", lambda: parse_dates(raw.get("exceptions", "")))
            if valid_from and valid_to and valid_to < valid_from:
                row.fail(_("The end of validity is before its start."))
            if isinstance(opens, time) and isinstance(closes, time):
                schedules.append(
                    ScheduleData(days, opens, closes, valid_from, valid_to, exceptions or [])
                )
        one_offs = row.get("one_off_dates", lambda: parse_one_offs(raw.get("one_off_dates", "")))
        if days is not None and not days and not one_offs and row.ok:
            row.fail(_("Give the weekdays, or one-off dates."))
        organizer_ids = []
        for rut_text in _split(raw.get("organizer_ruts", "")):
            rut = row.get("organizer_ruts", lambda rut_text=rut_text: clean_rut(rut_text))
            if rut and rut not in organizations:
                row.fail(_("No organization of the registry has RUT %(rut)s.", rut=rut))
            elif rut:
                organizer_ids.append(organizations[rut])
        if row.ok:
            result.rows.append(
                {
                    "line": line,
                    "values": values,
                    "schedules": schedules,
                    "one_offs": one_offs or [],
                    "organizers": organizer_ids,
                }
            )
    if not result.rows and not result.errors:
        result.errors.append(ImportProblem(1, _("The file has no rows.")))
    return result


def write_fairs(
    session: Session,
    municipality: Municipality,
    parsed: ParsedImport,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> list[Fair]:
    """Write a clean fairs import."""
    if not parsed.clean:
        raise RegistryError("import-not-clean")
    return [
        create_fair(
            session,
            municipality,
            row["values"],
            row["schedules"],
            row["one_offs"],
            row["organizers"],
        )
        for row in (progress(parsed.rows) if progress else parsed.rows)
    ]


# --- exports (HSDS-shaped) --------------------------------------------------------------------


def _location_hsds(
    name: str, address: str, comuna: Comuna, lat: float | None, lon: float | None
) -> dict[str, Any]:
    return {
        "name": name,
        "address_1": address,
        "city": comuna.name,
        "region": comuna.region.name,
        "country": "CL",
        "latitude": lat,
        "longitude": lon,
    }


def organization_hsds(org: Organization, url: str | None = None) -> dict[str, Any]:
    """Describe an organization with HSDS field names and ESSGlobal terms."""
    return {
        "id": org.id,
        "name": org.name,
        "description": org.description,
        "email": org.email,
        "website": org.website,
        "url": url,
        "phones": [{"number": org.phone}] if org.phone else [],
        "identifiers": [{"identifier_scheme": "CL-RUT", "identifier": org.rut}] if org.rut else [],
        "legal_status": org.legal_form,
        "ess_legal_form": LEGAL_FORMS[org.legal_form][1] if org.legal_form in LEGAL_FORMS else None,
        "economic_sector": org.sector,
        "ess_economic_sector": SECTORS[org.sector][1] if org.sector in SECTORS else None,
        "qualifiers": [QUALIFIERS[q][1] for q in org.qualifiers],
        "total_members": org.members_total,
        "total_women": org.members_women,
        "products": org.products,
        "opening_hours": org.opening_hours,
        "social_url": org.social_url,
        "status": org.status,
        "last_verified": org.last_verified_on.isoformat() if org.last_verified_on else None,
        "locations": [
            _location_hsds(
                loc.name or org.name, loc.address, loc.comuna, loc.latitude, loc.longitude
            )
            for loc in org.locations
        ],
    }


ORGANIZATION_CSV = [
    "id",
    "name",
    "description",
    "email",
    "website",
    "phone",
    "identifier_scheme",
    "identifier",
    "legal_status",
    "ess_legal_form",
    "economic_sector",
    "ess_economic_sector",
    "qualifiers",
    "total_members",
    "total_women",
    "products",
    "opening_hours",
    "status",
    "last_verified",
    "location_name",
    "address_1",
    "city",
    "region",
    "country",
    "latitude",
    "longitude",
]


def _csv(fieldnames: list[str], rows: Iterable[dict[str, Any]]) -> str:
    """Write rows as CSV under a header; a key not among the columns is left out."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fieldnames, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _flat(data: dict[str, Any], nested: tuple[str, ...]) -> dict[str, Any]:
    """Return a record's own columns: all but its nested values."""
    return {k: v for k, v in data.items() if k not in nested}


def _location_columns(location: dict[str, Any]) -> dict[str, Any]:
    """Return a location's columns, its name as location_name."""
    return {("location_name" if k == "name" else k): v for k, v in location.items()}


def organizations_csv(orgs: Iterable[Organization]) -> str:
    """Write organizations as CSV, one row per organization and location."""
    return _csv(ORGANIZATION_CSV, (row for org in orgs for row in _organization_rows(org)))


def _organization_rows(org: Organization) -> Iterator[dict[str, Any]]:
    data = organization_hsds(org)
    flat = _flat(data, ("locations", "identifiers", "phones", "qualifiers"))
    flat["phone"] = org.phone or ""
    flat["identifier_scheme"] = "CL-RUT" if org.rut else ""
    flat["identifier"] = org.rut or ""
    flat["qualifiers"] = "|".join(data["qualifiers"])
    for loc in data["locations"] or [{}]:
        yield {**flat, **_location_columns(loc)}


def fair_hsds(fair: Fair, url: str | None = None) -> dict[str, Any]:
    """Describe a fair with HSDS location and schedule fields."""
    comuna = fair.municipality.comuna
    return {
        "id": fair.id,
        "name": fair.name,
        "kind": fair.kind,
        "description": fair.description,
        "url": url,
        "stalls": fair.stalls,
        "permit_number": fair.permit_number,
        "product_categories": fair.categories,
        "active": fair.active,
        "organizations": [
            {"id": o.id, "name": o.name, "role": "organizer"} for o in fair.organizers
        ]
        + [{"id": o.id, "name": o.name, "role": "vendor"} for o in fair.vendors],
        "location": _location_hsds(fair.place, fair.place, comuna, fair.latitude, fair.longitude),
        "schedules": [
            {
                "freq": s.freq,
                "byday": s.byday,
                "opens_at": s.opens_at.strftime("%H:%M"),
                "closes_at": s.closes_at.strftime("%H:%M"),
                "valid_from": s.valid_from.isoformat() if s.valid_from else None,
                "valid_to": s.valid_to.isoformat() if s.valid_to else None,
                "except_dates": [e.day.isoformat() for e in s.exceptions],
                "timezone": "America/Santiago",
            }
            for s in fair.schedules
        ],
        "one_off_dates": [
            {
                "date": o.day.isoformat(),
                "opens_at": o.opens_at.strftime("%H:%M"),
                "closes_at": o.closes_at.strftime("%H:%M"),
            }
            for o in fair.one_offs
        ],
    }


FAIR_CSV = [
    "id",
    "name",
    "kind",
    "description",
    "stalls",
    "permit_number",
    "product_categories",
    "organizers",
    "location_name",
    "address_1",
    "city",
    "region",
    "country",
    "latitude",
    "longitude",
    "freq",
    "byday",
    "opens_at",
    "closes_at",
    "valid_from",
    "valid_to",
    "except_dates",
    "one_off_dates",
]


def fairs_csv(fairs: Iterable[Fair]) -> str:
    """Write fairs as CSV, one row per weekly schedule (one-off dates on each row)."""
    return _csv(FAIR_CSV, (row for fair in fairs for row in _fair_rows(fair)))


def _fair_rows(fair: Fair) -> Iterator[dict[str, Any]]:
    data = fair_hsds(fair)
    flat = _flat(data, ("location", "schedules", "one_off_dates", "organizations"))
    flat["product_categories"] = "|".join(data["product_categories"])
    flat["organizers"] = "|".join(o.rut or o.name for o in fair.organizers)
    flat["one_off_dates"] = "|".join(
        f"{o['date']} {o['opens_at']}-{o['closes_at']}" for o in data["one_off_dates"]
    )
    location = _location_columns(data["location"])
    for schedule in data["schedules"] or [{}]:
        row = {**flat, **location, **schedule}
        if "except_dates" in schedule:
            row["except_dates"] = "|".join(schedule["except_dates"])
        yield row
