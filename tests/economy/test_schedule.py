"""Fair schedules in Santiago time: DST changes, exceptions, month ends, validity, one-off dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from portal.economy.schedule import (
    SANTIAGO,
    OneOff,
    WeeklyRule,
    local_moment,
    occurrences,
    parse_byday,
    span,
    upcoming,
)


def transition(year: int, month: int) -> date:
    """Find the first day of a month whose noon UTC offset differs from the day before (zoneinfo)."""
    day = date(year, month, 1)
    while day.month == month:
        before = datetime.combine(day - timedelta(days=1), time(12), SANTIAGO).utcoffset()
        if datetime.combine(day, time(12), SANTIAGO).utcoffset() != before:
            return day
        day += timedelta(days=1)
    raise AssertionError("no transition found")


def test_the_2026_transitions_are_the_first_sundays_of_april_and_september() -> None:
    assert transition(2026, 4) == date(2026, 4, 5)
    assert transition(2026, 9) == date(2026, 9, 6)
    assert date(2026, 4, 5).weekday() == 6 and date(2026, 9, 6).weekday() == 6


def test_a_sunday_fair_keeps_its_wall_clock_time_across_the_april_change() -> None:
    rule = WeeklyRule(("SU",), time(7), time(15))
    change = transition(2026, 4)
    days = occurrences([rule], [], change - timedelta(days=7), change)
    assert [o.local_date for o in days] == [change - timedelta(days=7), change]
    assert [o.start.astimezone(SANTIAGO).time() for o in days] == [time(7), time(7)]
    # Summer time (UTC-3) before, standard time (UTC-4) on the day of the change.
    assert [o.start.astimezone(UTC).hour for o in days] == [10, 11]
    assert [o.end.astimezone(UTC).hour for o in days] == [18, 19]


def test_a_sunday_fair_keeps_its_wall_clock_time_across_the_september_change() -> None:
    rule = WeeklyRule(("SU",), time(7), time(15))
    change = transition(2026, 9)
    days = occurrences([rule], [], change - timedelta(days=7), change)
    assert [o.start.astimezone(UTC).hour for o in days] == [11, 10]
    assert all(o.start.astimezone(SANTIAGO).hour == 7 for o in days)


def test_a_night_market_spanning_the_april_change_lasts_one_hour_more() -> None:
    change = transition(2026, 4)
    start, end = span(change - timedelta(days=1), time(20), time(2))
    # Same-zone subtraction is wall-clock in Python: compare in UTC.
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=7)  # an hour repeats


def test_a_wall_time_skipped_in_september_moves_forward() -> None:
    change = transition(2026, 9)
    moment = local_moment(change, time(0, 30))
    assert moment.astimezone(SANTIAGO).time() == time(1, 30)
    assert moment.utcoffset() == timedelta(hours=-3)


def test_exceptions_and_validity_limit_a_weekly_rule() -> None:
    rule = WeeklyRule(
        ("WE", "SA"),
        time(8),
        time(14),
        valid_from=date(2026, 9, 1),
        valid_to=date(2026, 9, 30),
        exceptions=frozenset({date(2026, 9, 19)}),
    )
    days = [o.local_date for o in occurrences([rule], [], date(2026, 8, 1), date(2026, 12, 31))]
    assert days[0] == date(2026, 9, 2)
    assert days[-1] == date(2026, 9, 30)
    assert date(2026, 9, 19) not in days
    assert len(days) == 8  # nine Wednesdays and Saturdays in September 2026, one holiday off


def test_month_ends_and_leap_days() -> None:
    rule = WeeklyRule(("SU",), time(9), time(13))
    days = [o.local_date for o in occurrences([rule], [], date(2026, 1, 25), date(2026, 3, 8))]
    assert days == [
        date(2026, 1, 25),
        date(2026, 2, 1),
        date(2026, 2, 8),
        date(2026, 2, 15),
        date(2026, 2, 22),
        date(2026, 3, 1),
        date(2026, 3, 8),
    ]
    tuesday = WeeklyRule(("TU",), time(9), time(13))
    assert date(2028, 2, 29) in [
        o.local_date for o in occurrences([tuesday], [], date(2028, 2, 1), date(2028, 3, 31))
    ]
    ends = WeeklyRule(("TH",), time(9), time(13), valid_to=date(2026, 12, 31))
    assert occurrences([ends], [], date(2026, 12, 30), date(2027, 1, 14))[-1].local_date == date(
        2026, 12, 31
    )


def test_one_off_dates_have_their_own_hours_and_sort_with_the_weekly_ones() -> None:
    rule = WeeklyRule(("SA",), time(7), time(15))
    christmas = OneOff(date(2026, 12, 24), time(10), time(23, 30))
    days = occurrences([rule], [christmas], date(2026, 12, 19), date(2026, 12, 26))
    assert [o.local_date for o in days] == [
        date(2026, 12, 19),
        date(2026, 12, 24),
        date(2026, 12, 26),
    ]
    assert days[1].start.astimezone(SANTIAGO).time() == time(10)
    assert days[1].end.astimezone(SANTIAGO).time() == time(23, 30)


def test_upcoming_includes_the_fair_under_way_and_skips_finished_ones() -> None:
    rule = WeeklyRule(("SA",), time(7), time(15))
    saturday_noon = datetime(2026, 3, 14, 12, tzinfo=SANTIAGO)
    assert upcoming([rule], [], saturday_noon, 2)[0].local_date == date(2026, 3, 14)
    saturday_evening = datetime(2026, 3, 14, 16, tzinfo=SANTIAGO)
    assert upcoming([rule], [], saturday_evening, 1)[0].local_date == date(2026, 3, 21)
    assert (
        upcoming(
            [WeeklyRule(("SA",), time(7), time(15), valid_to=date(2026, 3, 1))], [], saturday_noon
        )
        == []
    )


def test_weekday_codes_are_normalised_and_checked() -> None:
    assert parse_byday("sa, mo,WE") == ("MO", "WE", "SA")
    with pytest.raises(ValueError):
        parse_byday("XX")
