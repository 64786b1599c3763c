"""iCalendar feeds (RFC 5545) and schema.org Event markup of fairs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from icalendar import Calendar, Event

from portal.economy.models import Fair, FairSchedule
from portal.economy.schedule import (
    SANTIAGO,
    Occurrence,
    WeeklyRule,
    local_moment,
    local_today,
    rule_dates,
    span,
)
from portal.economy.vocab import FAIR_KINDS, SCHEMA_DAYS, label

PRODID = "-//Portal//Ferias y mercados//ES"


def _first_date(schedule: FairSchedule, anchor: date) -> date | None:
    """Return the first date the rule matches from its start (exceptions left to EXDATE)."""
    rule = WeeklyRule(
        tuple(schedule.days),
        schedule.opens_at,
        schedule.closes_at,
        schedule.valid_from,
        schedule.valid_to,
    )
    start = schedule.valid_from or anchor
    dates = rule_dates(rule, start, start + timedelta(days=6))
    return dates[0] if dates else None


def _describe(fair: Fair) -> str:
    parts = [label(FAIR_KINDS, fair.kind)]
    if fair.stalls:
        parts.append(f"{fair.stalls} puestos")
    if fair.product_categories:
        parts.append(fair.product_categories)
    return " · ".join(parts)


def fair_events(fair: Fair, url: str, host: str) -> list[Event]:
    """Return a fair's VEVENTs: one recurring event per weekly schedule, one per one-off date."""
    events: list[Event] = []
    stamp = (fair.updated_at or datetime.now(UTC)).astimezone(UTC)
    where = f"{fair.place}, {fair.municipality.comuna.name}"
    anchor = fair.created_at.astimezone(SANTIAGO).date() if fair.created_at else local_today()

    def base(uid: str) -> Event:
        event = Event()
        event.add("uid", f"{uid}@{host}")
        event.add("dtstamp", stamp)
        event.add("last-modified", stamp)
        event.add("summary", fair.name)
        event.add("location", where)
        event.add("description", _describe(fair))
        event.add("url", url)
        if fair.latitude is not None and fair.longitude is not None:
            event.add("geo", (fair.latitude, fair.longitude))
        return event

    for schedule in fair.schedules:
        first = _first_date(schedule, anchor)
        if first is None:
            continue
        start, end = span(first, schedule.opens_at, schedule.closes_at)
        event = base(f"fair-{fair.id}-schedule-{schedule.id}")
        event.add("dtstart", start)
        event.add("dtend", end)
        recur: dict[str, Any] = {"freq": "weekly", "byday": schedule.days}
        if schedule.valid_to:
            # UNTIL is in UTC when DTSTART has a zone (RFC 5545 3.3.10); inclusive of that day.
            recur["until"] = local_moment(schedule.valid_to, schedule.opens_at).astimezone(UTC)
        event.add("rrule", recur)
        exdates = [
            local_moment(e.day, schedule.opens_at) for e in schedule.exceptions if e.day >= first
        ]
        if exdates:
            event.add("exdate", exdates)
        events.append(event)
    for extra in fair.one_offs:
        start, end = span(extra.day, extra.opens_at, extra.closes_at)
        event = base(f"fair-{fair.id}-day-{extra.day.isoformat()}")
        event.add("dtstart", start)
        event.add("dtend", end)
        events.append(event)
    return events


def calendar(name: str, fairs: Iterable[Fair], url_of: Callable[[Fair], str], host: str) -> bytes:
    """Build a subscribable calendar of fairs, with the America/Santiago VTIMEZONE."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "America/Santiago")
    cal.add("refresh-interval", timedelta(hours=12), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT12H")
    earliest = local_today()
    for fair in fairs:
        for event in fair_events(fair, url_of(fair), host):
            earliest = min(earliest, event.decoded("dtstart").date())
            cal.add_component(event)
    cal.add_missing_timezones(
        first_date=earliest - timedelta(days=366), last_date=local_today() + timedelta(days=3 * 366)
    )
    return cal.to_ical()


def event_jsonld(
    fair: Fair, url: str, next_dates: list[Occurrence], organizer_url: Callable[[Any], str]
) -> dict[str, Any]:
    """Describe a fair as a schema.org Event with its eventSchedule."""
    comuna = fair.municipality.comuna
    place: dict[str, Any] = {
        "@type": "Place",
        "name": fair.place,
        "address": {
            "@type": "PostalAddress",
            "streetAddress": fair.place,
            "addressLocality": comuna.name,
            "addressRegion": comuna.region.name,
            "addressCountry": "CL",
        },
    }
    if fair.latitude is not None and fair.longitude is not None:
        place["geo"] = {
            "@type": "GeoCoordinates",
            "latitude": fair.latitude,
            "longitude": fair.longitude,
        }
    schedules: list[dict[str, Any]] = []
    for s in fair.schedules:
        item: dict[str, Any] = {
            "@type": "Schedule",
            "repeatFrequency": "P1W",
            "byDay": [SCHEMA_DAYS[d] for d in s.days],
            "startTime": s.opens_at.strftime("%H:%M:%S"),
            "endTime": s.closes_at.strftime("%H:%M:%S"),
            "scheduleTimezone": "America/Santiago",
        }
        if s.valid_from:
            item["startDate"] = s.valid_from.isoformat()
        if s.valid_to:
            item["endDate"] = s.valid_to.isoformat()
        if s.exceptions:
            item["exceptDate"] = [e.day.isoformat() for e in s.exceptions]
        schedules.append(item)
    for o in fair.one_offs:
        schedules.append(
            {
                "@type": "Schedule",
                "startDate": o.day.isoformat(),
                "endDate": o.day.isoformat(),
                "startTime": o.opens_at.strftime("%H:%M:%S"),
                "endTime": o.closes_at.strftime("%H:%M:%S"),
                "scheduleTimezone": "America/Santiago",
            }
        )
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "name": fair.name,
        "description": fair.description or _describe(fair),
        "url": url,
        "eventAttendanceMode": "https://schema.org/OfflineEventAttendanceMode",
        "eventStatus": "https://schema.org/EventScheduled",
        "isAccessibleForFree": True,
        "location": place,
        "eventSchedule": schedules,
    }
    if next_dates:
        data["startDate"] = next_dates[0].start.isoformat()
        data["endDate"] = next_dates[0].end.isoformat()
    organizers = [o for o in fair.organizers if o.is_public]
    if organizers:
        data["organizer"] = [
            {"@type": "Organization", "name": o.name, "url": organizer_url(o)} for o in organizers
        ]
    return data
