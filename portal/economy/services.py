"""Registry writes and queries: organizations, fairs, schedules, duplicates."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from difflib import SequenceMatcher
from math import asin, cos, radians, sin, sqrt
from typing import Any

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.orm import Session
from stdnum.cl import rut as cl_rut
from stdnum.exceptions import ValidationError

from portal.accounts.models import User
from portal.audit.services import changes, record
from portal.database import utcnow
from portal.economy.models import (
    Fair,
    FairOneOff,
    FairSchedule,
    FairScheduleException,
    Organization,
    OrganizationLocation,
)
from portal.economy.schedule import (
    SANTIAGO,
    Occurrence,
    OneOff,
    WeeklyRule,
    occurrences,
    parse_byday,
    upcoming,
)
from portal.economy.vocab import FAIR_KINDS, INFORMAL_FORMS, QUALIFIERS
from portal.geo.models import Comuna, Municipality
from portal.text import fold

ORGANIZATION_FIELDS = [
    "name",
    "rut",
    "legal_form",
    "sector",
    "description",
    "members_total",
    "members_women",
    *QUALIFIERS.keys(),
    "email",
    "phone",
    "website",
    "social_url",
    "opening_hours",
    "products",
    "last_verified_on",
]
FAIR_FIELDS = [
    "kind",
    "name",
    "place",
    "latitude",
    "longitude",
    "stalls",
    "permit_number",
    "product_categories",
    "description",
]
SIMILAR_NAME = 0.9


class RegistryError(ValueError):
    """A registry write that cannot be done, with a code the view turns into a message."""

    def __init__(self, code: str, **details: Any) -> None:
        super().__init__(code)
        self.code = code
        self.details = details


# --- values -----------------------------------------------------------------------------------


def clean_rut(value: str | None) -> str | None:
    """Validate a RUT and return it formatted (12.345.678-5); empty gives None."""
    if value is None or not value.strip():
        return None
    try:
        return cl_rut.format(cl_rut.validate(value.strip()))
    except ValidationError as error:
        raise ValueError("invalid-rut") from error


def normalized_name(name: str) -> str:
    """Fold case, accents and punctuation: 'Coop. Caleta Portales' → 'coop caleta portales'."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", fold(name)).split())


def search_text(name: str, products: str) -> str:
    """Return what the directory search matches: folded name and products."""
    return f"{normalized_name(name)} {normalized_name(products)}".strip()


def parse_date(value: str) -> date:
    """Read 14-03-2026, 14/03/2026 or 2026-03-14."""
    text = value.strip()
    for pattern in ("%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).date()  # noqa: DTZ007 - a calendar date
        except ValueError:
            continue
    raise ValueError(f"invalid-date:{text}")


def parse_time(value: str) -> time:
    """Read 07:00 or 7:00 (24-hour)."""
    text = value.strip()
    match = re.fullmatch(r"(\d{1,2})[:.h](\d{2})", text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"invalid-time:{text}")
    return time(int(match.group(1)), int(match.group(2)))


def parse_dates(value: str) -> list[date]:
    """Read dates separated by commas, semicolons or lines; sorted, without repeats."""
    return sorted({parse_date(part) for part in re.split(r"[,;|\n]+", value or "") if part.strip()})


def parse_one_offs(value: str) -> list[tuple[date, time, time]]:
    """Read one-off fair days, one per line or ';': '24-12-2026 10:00-22:00'."""
    found: dict[date, tuple[date, time, time]] = {}
    for part in re.split(r"[;|\n]+", value or ""):
        text = part.strip()
        if not text:
            continue
        match = re.fullmatch(r"(\S+)\s+(\d{1,2}[:.h]\d{2})\s*[-–]\s*(\d{1,2}[:.h]\d{2})", text)
        if not match:
            raise ValueError(f"invalid-one-off:{text}")
        day = parse_date(match.group(1))
        found[day] = (day, parse_time(match.group(2)), parse_time(match.group(3)))
    return [found[d] for d in sorted(found)]


def format_one_offs(fair: Fair) -> str:
    """Write a fair's one-off days back in the form's syntax."""
    return "\n".join(
        f"{o.day.strftime('%d-%m-%Y')} {o.opens_at.strftime('%H:%M')}-{o.closes_at.strftime('%H:%M')}"
        for o in fair.one_offs
    )


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in kilometres (haversine)."""
    dlat, dlon = radians(lat2 - lat1), radians(lon2 - lon1)
    a = sin(dlat / 2) ** 2 + cos(radians(lat1)) * cos(radians(lat2)) * sin(dlon / 2) ** 2
    return 2 * 6371.0 * asin(sqrt(a))


# --- organizations ----------------------------------------------------------------------------


@dataclass
class LocationData:
    """A location as a form or a CSV row gives it."""

    address: str
    comuna_cut: str
    name: str = ""
    latitude: float | None = None
    longitude: float | None = None


def _organization_snapshot(org: Organization) -> dict[str, Any]:
    data = {name: getattr(org, name) for name in ORGANIZATION_FIELDS}
    data["locations"] = [_location_snapshot(loc) for loc in org.locations]
    return data


def _location_snapshot(loc: OrganizationLocation | LocationData) -> dict[str, Any]:
    return {
        "name": loc.name,
        "address": loc.address,
        "comuna_cut": loc.comuna_cut,
        "latitude": loc.latitude,
        "longitude": loc.longitude,
    }


def _set_locations(
    org: Organization, locations: Sequence[LocationData]
) -> tuple[list[Any], list[Any]]:
    before = [_location_snapshot(loc) for loc in org.locations]
    after = [_location_snapshot(loc) for loc in locations]
    if before != after:
        org.locations.clear()
        for loc in locations:
            org.locations.append(
                OrganizationLocation(
                    name=loc.name.strip(),
                    address=loc.address.strip(),
                    comuna_cut=loc.comuna_cut,
                    latitude=loc.latitude,
                    longitude=loc.longitude,
                )
            )
    return before, after


def _clean_values(values: dict[str, Any]) -> dict[str, Any]:
    clean = {k: v for k, v in values.items() if k in ORGANIZATION_FIELDS}
    if "rut" in clean:
        clean["rut"] = clean_rut(clean["rut"])
    for key in ("email", "phone", "website", "social_url"):
        if key in clean:
            clean[key] = (clean[key] or "").strip() or None
    for key in ("name", "description", "opening_hours", "products"):
        if key in clean:
            clean[key] = (clean[key] or "").strip()
    for key in QUALIFIERS:
        if key in clean:
            clean[key] = bool(clean[key])
    total, women = clean.get("members_total"), clean.get("members_women")
    if total is not None and women is not None and women > total:
        raise RegistryError("women-exceed-total")
    return clean


def same_rut(
    session: Session, municipality_id: int, rut: str | None, exclude_id: int | None = None
) -> Organization | None:
    """Find a live record of the municipality with this RUT."""
    if not rut:
        return None
    statement = select(Organization).where(
        Organization.municipality_id == municipality_id,
        Organization.rut == rut,
        Organization.status != "merged",
    )
    if exclude_id is not None:
        statement = statement.where(Organization.id != exclude_id)
    return session.scalars(statement.order_by(Organization.id)).first()


def create_organization(
    session: Session,
    municipality: Municipality,
    values: dict[str, Any],
    locations: Sequence[LocationData],
    *,
    status: str = "verified",
    representative: User | None = None,
    refuse_same_rut: bool = True,
    actor: Any = None,
) -> Organization:
    """Add an organization to a municipality's registry (staff: verified; self-registered: pending)."""
    clean = _clean_values(values)
    if refuse_same_rut and (existing := same_rut(session, municipality.id, clean.get("rut"))):
        raise RegistryError("rut-taken", existing=existing)
    org = Organization(municipality_id=municipality.id, status=status, **clean)
    org.search_text = search_text(org.name, org.products)
    if representative is not None:
        org.representative_user_id = representative.id
    if status == "verified":
        org.verified_at = utcnow()
        org.last_verified_on = org.last_verified_on or utcnow().astimezone(SANTIAGO).date()
    session.add(org)
    _set_locations(org, locations)
    session.flush()
    record(
        session,
        "organization.create" if representative is None else "organization.register",
        "organization",
        org.id,
        municipality_id=municipality.id,
        after={**_organization_snapshot(org), "status": status},
        actor=actor,
    )
    return org


def update_organization(
    session: Session, org: Organization, values: dict[str, Any], locations: Sequence[LocationData]
) -> bool:
    """Change an organization's record; return whether anything changed."""
    clean = _clean_values(values)
    if existing := same_rut(session, org.municipality_id, clean.get("rut"), exclude_id=org.id):
        raise RegistryError("rut-taken", existing=existing)
    before, after = changes(org, list(clean), clean)
    loc_before, loc_after = _set_locations(org, locations)
    if loc_before != loc_after:
        before["locations"], after["locations"] = loc_before, loc_after
    org.search_text = search_text(org.name, org.products)
    if not after:
        return False
    session.flush()
    record(
        session,
        "organization.update",
        "organization",
        org.id,
        municipality_id=org.municipality_id,
        before=before,
        after=after,
    )
    return True


def verify_organization(session: Session, org: Organization) -> None:
    """Mark an organization checked today: it appears in the public directory."""
    if org.status == "merged":
        raise RegistryError("merged")
    before = {"status": org.status, "last_verified_on": org.last_verified_on}
    org.status = "verified"
    org.status_note = ""
    org.verified_at = utcnow()
    org.last_verified_on = utcnow().astimezone(SANTIAGO).date()
    session.flush()
    record(
        session,
        "organization.verify",
        "organization",
        org.id,
        municipality_id=org.municipality_id,
        before=before,
        after={"status": org.status, "last_verified_on": org.last_verified_on},
    )


def suspend_organization(session: Session, org: Organization, note: str) -> None:
    """Take an organization out of the public directory, saying why."""
    if org.status == "merged":
        raise RegistryError("merged")
    before = {"status": org.status, "status_note": org.status_note}
    org.status = "suspended"
    org.status_note = note.strip()
    session.flush()
    record(
        session,
        "organization.suspend",
        "organization",
        org.id,
        municipality_id=org.municipality_id,
        before=before,
        after={"status": org.status, "status_note": org.status_note},
    )


def merge_organizations(session: Session, duplicate: Organization, survivor: Organization) -> None:
    """Fold a duplicate record into the survivor; the duplicate then points to it."""
    if duplicate.id == survivor.id:
        raise RegistryError("merge-self")
    if duplicate.municipality_id != survivor.municipality_id:
        raise RegistryError("merge-other-municipality")
    if "merged" in (duplicate.status, survivor.status):
        raise RegistryError("merged")
    filled: dict[str, Any] = {}
    for name in ORGANIZATION_FIELDS:
        if name in QUALIFIERS:
            if getattr(duplicate, name) and not getattr(survivor, name):
                filled[name] = True
        elif getattr(survivor, name) in (None, "") and getattr(duplicate, name) not in (None, ""):
            filled[name] = getattr(duplicate, name)
    for name, value in filled.items():
        setattr(survivor, name, value)
    if not survivor.locations and duplicate.locations:
        _set_locations(
            survivor, [LocationData(**_location_snapshot(loc)) for loc in duplicate.locations]
        )
        filled["locations"] = [_location_snapshot(loc) for loc in duplicate.locations]
    if survivor.representative_user_id is None and duplicate.representative_user_id is not None:
        survivor.representative_user_id = duplicate.representative_user_id
        filled["representative_user_id"] = duplicate.representative_user_id
    moved = []
    for fair in session.scalars(
        select(Fair).where(
            or_(
                Fair.organizers.any(Organization.id == duplicate.id),
                Fair.vendors.any(Organization.id == duplicate.id),
            )
        )
    ):
        for group in (fair.organizers, fair.vendors):
            if duplicate in group:
                group.remove(duplicate)
                if survivor not in group:
                    group.append(survivor)
        moved.append(fair.id)
    # What names the duplicate (proposals submitted or carried out by it, funded projects)
    # names the survivor from now on: a merged record is no longer a valid choice anywhere.
    from portal.budgeting.models import Proposal
    from portal.programmes.models import FundedProject

    repointed = {}
    for model, column in (
        (Proposal, Proposal.organization_id),
        (Proposal, Proposal.implementer_id),
        (FundedProject, FundedProject.organization_id),
    ):
        done = session.execute(
            update(model)
            .where(column == duplicate.id)
            .values({column.key: survivor.id})
            .execution_options(synchronize_session="fetch")
        )
        if done.rowcount:
            repointed[f"{model.__tablename__}.{column.key}"] = done.rowcount
    survivor.search_text = search_text(survivor.name, survivor.products)
    before_status = duplicate.status
    duplicate.status = "merged"
    duplicate.merged_into_id = survivor.id
    session.flush()
    record(
        session,
        "organization.merge",
        "organization",
        duplicate.id,
        municipality_id=duplicate.municipality_id,
        before={"status": before_status},
        after={
            "status": "merged",
            "merged_into": survivor.id,
            "filled": filled,
            "fairs": moved,
            "repointed": repointed,
        },
    )


def register_organization(
    session: Session,
    municipality: Municipality,
    values: dict[str, Any],
    locations: Sequence[LocationData],
    representative: User,
) -> Organization:
    """Record a self-registration: pending until the municipality's staff verify it."""
    return create_organization(
        session,
        municipality,
        values,
        locations,
        status="pending",
        representative=representative,
        refuse_same_rut=False,
        actor=representative,
    )


def organizations_represented_by(session: Session, user: User) -> list[Organization]:
    """Return the organizations a user represents (later: who may propose as an organization)."""
    return list(
        session.scalars(
            select(Organization)
            .where(Organization.representative_user_id == user.id, Organization.status != "merged")
            .order_by(Organization.name)
        )
    )


def _comuna_of(org: Organization) -> set[str]:
    return {loc.comuna_cut for loc in org.locations} or {org.municipality.comuna_cut}


@dataclass
class DuplicatePair:
    """Two records that look like the same organization, and why."""

    first: Organization
    second: Organization
    reason: str
    ratio: float = 1.0


def duplicate_suggestions(session: Session, municipality_id: int) -> list[DuplicatePair]:
    """Find likely duplicates: same RUT, or near-identical names in the same comuna."""
    orgs = list(
        session.scalars(
            select(Organization)
            .where(Organization.municipality_id == municipality_id, Organization.status != "merged")
            .order_by(Organization.id)
        )
    )
    names = {org.id: normalized_name(org.name) for org in orgs}
    comunas = {org.id: _comuna_of(org) for org in orgs}
    pairs: list[DuplicatePair] = []
    for i, first in enumerate(orgs):
        for second in orgs[i + 1 :]:
            if first.rut and first.rut == second.rut:
                pairs.append(DuplicatePair(first, second, "rut"))
                continue
            if not comunas[first.id] & comunas[second.id]:
                continue
            matcher = SequenceMatcher(None, names[first.id], names[second.id])
            if matcher.real_quick_ratio() < SIMILAR_NAME or matcher.quick_ratio() < SIMILAR_NAME:
                continue
            ratio = matcher.ratio()
            if ratio >= SIMILAR_NAME:
                pairs.append(DuplicatePair(first, second, "name", ratio))
    return pairs


def directory_query(
    *,
    municipality_ids: Iterable[int],
    q: str = "",
    sector: str = "",
    legal_form: str = "",
    qualifier: str = "",
    comuna_cut: str = "",
    statuses: Iterable[str] = ("verified",),
) -> Select[tuple[Organization]]:
    """Select organizations matching a directory search, by name."""
    statement = select(Organization).where(
        Organization.municipality_id.in_(list(municipality_ids)),
        Organization.status.in_(list(statuses)),
    )
    for word in normalized_name(q).split():
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(Organization.search_text.like(f"%{escaped}%", escape="\\"))
    if sector:
        statement = statement.where(Organization.sector == sector)
    if legal_form:
        statement = statement.where(Organization.legal_form == legal_form)
    if qualifier in QUALIFIERS:
        statement = statement.where(getattr(Organization, qualifier).is_(True))
    if comuna_cut:
        statement = statement.where(
            or_(
                Organization.locations.any(OrganizationLocation.comuna_cut == comuna_cut),
                and_(
                    ~Organization.locations.any(),
                    Organization.municipality.has(Municipality.comuna_cut == comuna_cut),
                ),
            )
        )
    return statement.order_by(Organization.name, Organization.id)


def map_points_of_organizations(orgs: Iterable[Organization], url: Any) -> list[dict[str, Any]]:
    """Return the points a map shows: name, link, coordinates of each located place."""
    points = []
    for org in orgs:
        for loc in org.locations:
            if loc.latitude is not None and loc.longitude is not None:
                points.append(
                    {"name": org.name, "url": url(org), "lat": loc.latitude, "lon": loc.longitude}
                )
    return points


# --- fairs ------------------------------------------------------------------------------------


@dataclass
class ScheduleData:
    """A weekly schedule as a form or a CSV row gives it."""

    byday: tuple[str, ...]
    opens_at: time
    closes_at: time
    valid_from: date | None = None
    valid_to: date | None = None
    exceptions: list[date] = field(default_factory=list)


def _schedule_snapshot(s: FairSchedule | ScheduleData) -> dict[str, Any]:
    exceptions = (
        [e.day for e in s.exceptions] if isinstance(s, FairSchedule) else list(s.exceptions)
    )
    byday = s.byday if isinstance(s.byday, str) else ",".join(s.byday)
    return {
        "byday": byday,
        "opens_at": s.opens_at.strftime("%H:%M"),
        "closes_at": s.closes_at.strftime("%H:%M"),
        "valid_from": s.valid_from,
        "valid_to": s.valid_to,
        "exceptions": sorted(exceptions),
    }


def _fair_snapshot(fair: Fair) -> dict[str, Any]:
    data = {name: getattr(fair, name) for name in FAIR_FIELDS}
    data["schedules"] = [_schedule_snapshot(s) for s in fair.schedules]
    data["one_offs"] = format_one_offs(fair)
    data["organizers"] = [o.id for o in fair.organizers]
    data["vendors"] = [o.id for o in fair.vendors]
    return data


def _check_schedule(schedule: ScheduleData) -> None:
    parse_byday(schedule.byday)
    if schedule.valid_from and schedule.valid_to and schedule.valid_to < schedule.valid_from:
        raise RegistryError("valid-to-before-from")


def _apply_fair(
    session: Session,
    fair: Fair,
    values: dict[str, Any],
    schedules: Sequence[ScheduleData],
    one_offs: Sequence[tuple[date, time, time]],
    organizer_ids: Iterable[int],
    vendor_ids: Iterable[int],
) -> None:
    for schedule in schedules:
        _check_schedule(schedule)
    if values.get("kind") not in FAIR_KINDS:
        raise RegistryError("unknown-kind")
    for name in FAIR_FIELDS:
        if name in values:
            value = values[name]
            setattr(fair, name, value.strip() if isinstance(value, str) else value)
    if [_schedule_snapshot(s) for s in fair.schedules] != [
        _schedule_snapshot(s) for s in schedules
    ]:
        fair.schedules.clear()
        session.flush()
        for data in schedules:
            fair.schedules.append(
                FairSchedule(
                    freq="WEEKLY",
                    byday=",".join(parse_byday(data.byday)),
                    opens_at=data.opens_at,
                    closes_at=data.closes_at,
                    valid_from=data.valid_from,
                    valid_to=data.valid_to,
                    exceptions=[FairScheduleException(day=d) for d in sorted(set(data.exceptions))],
                )
            )
    wanted = [(d, o, c) for d, o, c in one_offs]
    if [(o.day, o.opens_at, o.closes_at) for o in fair.one_offs] != wanted:
        fair.one_offs.clear()
        session.flush()
        for day, opens_at, closes_at in wanted:
            fair.one_offs.append(FairOneOff(day=day, opens_at=opens_at, closes_at=closes_at))
    fair.organizers = _registry_members(session, fair.municipality_id, organizer_ids)
    fair.vendors = _registry_members(session, fair.municipality_id, vendor_ids)


def _registry_members(
    session: Session, municipality_id: int, ids: Iterable[int]
) -> list[Organization]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    found = list(
        session.scalars(
            select(Organization).where(
                Organization.id.in_(wanted),
                Organization.municipality_id == municipality_id,
                Organization.status != "merged",
            )
        )
    )
    if len(found) != len(wanted):
        raise RegistryError("unknown-organization")
    return found


def create_fair(
    session: Session,
    municipality: Municipality,
    values: dict[str, Any],
    schedules: Sequence[ScheduleData],
    one_offs: Sequence[tuple[date, time, time]] = (),
    organizer_ids: Iterable[int] = (),
    vendor_ids: Iterable[int] = (),
) -> Fair:
    """Add a fair or market to a municipality, with its schedule."""
    fair = Fair(municipality_id=municipality.id, municipality=municipality, active=True)
    session.add(fair)
    _apply_fair(session, fair, values, schedules, one_offs, organizer_ids, vendor_ids)
    session.flush()
    record(
        session,
        "fair.create",
        "fair",
        fair.id,
        municipality_id=municipality.id,
        after=_fair_snapshot(fair),
    )
    return fair


def update_fair(
    session: Session,
    fair: Fair,
    values: dict[str, Any],
    schedules: Sequence[ScheduleData],
    one_offs: Sequence[tuple[date, time, time]] = (),
    organizer_ids: Iterable[int] = (),
    vendor_ids: Iterable[int] = (),
) -> bool:
    """Change a fair and its schedule; return whether anything changed."""
    before = _fair_snapshot(fair)
    _apply_fair(session, fair, values, schedules, one_offs, organizer_ids, vendor_ids)
    session.flush()
    after = _fair_snapshot(fair)
    changed = {k for k in after if after[k] != before[k]}
    if not changed:
        return False
    record(
        session,
        "fair.update",
        "fair",
        fair.id,
        municipality_id=fair.municipality_id,
        before={k: before[k] for k in changed},
        after={k: after[k] for k in changed},
    )
    return True


def set_fair_active(session: Session, fair: Fair, active: bool) -> None:
    """Publish or withdraw a fair (withdrawn fairs leave the public pages and feeds)."""
    if fair.active == active:
        return
    fair.active = active
    session.flush()
    record(
        session,
        "fair.activate" if active else "fair.deactivate",
        "fair",
        fair.id,
        municipality_id=fair.municipality_id,
        before={"active": not active},
        after={"active": active},
    )


def rules_of(fair: Fair) -> tuple[list[WeeklyRule], list[OneOff]]:
    """Turn a fair's schedule rows into the pure schedule model."""
    rules = [
        WeeklyRule(
            byday=tuple(s.days),
            opens_at=s.opens_at,
            closes_at=s.closes_at,
            valid_from=s.valid_from,
            valid_to=s.valid_to,
            exceptions=frozenset(e.day for e in s.exceptions),
            key=s.id,
        )
        for s in fair.schedules
    ]
    extras = [
        OneOff(day=o.day, opens_at=o.opens_at, closes_at=o.closes_at, key=o.id)
        for o in fair.one_offs
    ]
    return rules, extras


def next_dates(fair: Fair, now: datetime | None = None, count: int = 5) -> list[Occurrence]:
    """Return a fair's next occurrences (the one under way first)."""
    rules, extras = rules_of(fair)
    return upcoming(rules, extras, now or datetime.now(UTC), count)


@dataclass
class FairDay:
    """A fair held on a given day, for the 'today' and 'this week' lists."""

    fair: Fair
    occurrence: Occurrence
    distance: float | None = None


def public_fairs(
    session: Session, *, municipality_ids: Iterable[int] | None = None, comuna_cut: str = ""
) -> list[Fair]:
    """Return the active fairs of active municipalities, optionally of some or of one comuna."""
    statement = (
        select(Fair)
        .join(Fair.municipality)
        .where(Fair.active.is_(True), Municipality.active.is_(True))
    )
    if municipality_ids is not None:
        statement = statement.where(Fair.municipality_id.in_(list(municipality_ids)))
    if comuna_cut:
        statement = statement.where(Municipality.comuna_cut == comuna_cut)
    return list(session.scalars(statement.order_by(Fair.name)))


def fair_days(
    fairs: Iterable[Fair],
    first: date,
    last: date,
    *,
    near: tuple[float, float] | None = None,
) -> list[FairDay]:
    """List the fair days between two local dates: by date and time, or by distance from a point."""
    days: list[FairDay] = []
    for fair in fairs:
        rules, extras = rules_of(fair)
        for occurrence in occurrences(rules, extras, first, last):
            distance = None
            if near is not None and fair.latitude is not None and fair.longitude is not None:
                distance = distance_km(near[0], near[1], fair.latitude, fair.longitude)
            days.append(FairDay(fair, occurrence, distance))
    if near is not None:
        days.sort(
            key=lambda d: (
                d.occurrence.local_date,
                d.distance is None,
                d.distance or 0.0,
                d.occurrence.start,
            )
        )
    else:
        days.sort(key=lambda d: (d.occurrence.start, d.fair.name))
    return days


def fair_map_points(fairs: Iterable[Fair], url: Any) -> list[dict[str, Any]]:
    """Return the map points of fairs that have coordinates."""
    return [
        {"name": f.name, "url": url(f), "lat": f.latitude, "lon": f.longitude}
        for f in fairs
        if f.latitude is not None and f.longitude is not None
    ]


# --- vocabulary and geography ---------------------------------------------------------------


def legal_form_is_formal(legal_form: str) -> bool:
    """Tell whether a legal form gives legal personality."""
    return legal_form not in INFORMAL_FORMS


def comunas_of_region(session: Session, region_cut: str) -> list[Comuna]:
    """Return a region's comunas by name."""
    return list(
        session.scalars(select(Comuna).where(Comuna.region_cut == region_cut).order_by(Comuna.name))
    )
