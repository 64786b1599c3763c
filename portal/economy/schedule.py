"""Fair schedules in pure Python: occurrences of weekly rules and one-off dates.

Times are local wall-clock times in America/Santiago; each occurrence is built as an aware
datetime from its local date and time, so that the UTC offset follows the daylight-saving
changes (first Sunday of April and of September in Chile) instead of a fixed offset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import WEEKLY, rrule, weekday
from dateutil.rrule import weekdays as RRULE_WEEKDAYS

SANTIAGO = ZoneInfo("America/Santiago")
WEEKDAY_CODES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@dataclass(frozen=True)
class WeeklyRule:
    """A weekly recurrence: the weekdays, the hours, the validity and the dates without fair."""

    byday: tuple[str, ...]
    opens_at: time
    closes_at: time
    valid_from: date | None = None
    valid_to: date | None = None
    exceptions: frozenset[date] = field(default_factory=frozenset)
    key: object = None


@dataclass(frozen=True)
class OneOff:
    """A single date with its own hours (a seasonal or special fair day)."""

    day: date
    opens_at: time
    closes_at: time
    key: object = None


@dataclass(frozen=True, order=True)
class Occurrence:
    """One day the fair is held, from start to end (aware datetimes)."""

    start: datetime
    end: datetime
    source: object = field(default=None, compare=False)

    @property
    def local_date(self) -> date:
        """Return the local date the occurrence starts on."""
        return self.start.astimezone(SANTIAGO).date()


def local_moment(day: date, at: time, zone: ZoneInfo = SANTIAGO) -> datetime:
    """Build the aware moment of a local date and wall-clock time.

    A wall-clock time that does not exist (skipped when clocks go forward) is moved forward
    by the gap, as clocks would show it; an ambiguous one (repeated when clocks go back) is
    taken at its first occurrence.
    """
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=zone, fold=0)
    # Round-trip through UTC normalises a skipped wall time to the real moment it denotes.
    return aware.astimezone(UTC).astimezone(zone)


def span(
    day: date, opens_at: time, closes_at: time, zone: ZoneInfo = SANTIAGO
) -> tuple[datetime, datetime]:
    """Return the start and end of a fair day; a closing time at or before opening is next day."""
    start = local_moment(day, opens_at, zone)
    end_day = day + timedelta(days=1) if closes_at <= opens_at else day
    return start, local_moment(end_day, closes_at, zone)


def parse_byday(value: str | Iterable[str]) -> tuple[str, ...]:
    """Normalise weekday codes ('SA,MO,we') to RFC 5545 order: ('MO', 'WE', 'SA')."""
    items = value.split(",") if isinstance(value, str) else list(value)
    codes = {item.strip().upper() for item in items if item.strip()}
    unknown = codes - set(WEEKDAY_CODES)
    if unknown:
        raise ValueError(f"unknown weekday codes: {sorted(unknown)}")
    return tuple(code for code in WEEKDAY_CODES if code in codes)


def _rrule_days(byday: tuple[str, ...]) -> list[weekday]:
    return [RRULE_WEEKDAYS[WEEKDAY_CODES.index(code)] for code in byday]


def rule_dates(rule: WeeklyRule, first: date, last: date) -> list[date]:
    """Return the dates of a weekly rule between first and last (inclusive), exceptions removed."""
    if not rule.byday:
        return []
    start = max(first, rule.valid_from) if rule.valid_from else first
    end = min(last, rule.valid_to) if rule.valid_to else last
    if end < start:
        return []
    recurrence = rrule(
        WEEKLY,
        byweekday=_rrule_days(rule.byday),
        dtstart=datetime.combine(start, time()),
        until=datetime.combine(end, time()),
    )
    return [moment.date() for moment in recurrence if moment.date() not in rule.exceptions]


def occurrences(
    rules: Iterable[WeeklyRule], one_offs: Iterable[OneOff], first: date, last: date
) -> list[Occurrence]:
    """Return every occurrence starting on a local date between first and last, in order."""
    found: list[Occurrence] = []
    for rule in rules:
        for day in rule_dates(rule, first, last):
            start, end = span(day, rule.opens_at, rule.closes_at)
            found.append(Occurrence(start, end, rule))
    for extra in one_offs:
        if first <= extra.day <= last:
            start, end = span(extra.day, extra.opens_at, extra.closes_at)
            found.append(Occurrence(start, end, extra))
    found.sort()
    return found


def upcoming(
    rules: Iterable[WeeklyRule],
    one_offs: Iterable[OneOff],
    now: datetime,
    count: int = 5,
    horizon_days: int = 400,
) -> list[Occurrence]:
    """Return the next occurrences not yet over at `now` (an aware datetime)."""
    today = now.astimezone(SANTIAGO).date()
    # Start a day early so that a fair that opened last night and is still open is included.
    candidates = occurrences(
        list(rules), list(one_offs), today - timedelta(days=1), today + timedelta(days=horizon_days)
    )
    return [occ for occ in candidates if occ.end > now][:count]


def local_today(now: datetime | None = None) -> date:
    """Return today's date in Santiago."""
    return (now or datetime.now(UTC)).astimezone(SANTIAGO).date()


def week_window(today: date) -> tuple[date, date]:
    """Return the seven days from today (today included)."""
    return today, today + timedelta(days=6)
