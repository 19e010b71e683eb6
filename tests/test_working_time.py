"""Working-time arithmetic: examples at the edges (DST, midnight, holidays) and
hypothesis properties (results inside working time, monotonic, exact, and agreeing with
a plain wall-clock reading of the windows away from clock changes)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ecoach.core.agreements import DEFAULT_POLICY, commitment_time, due_state
from ecoach.core.working_time import (
    ClosedDays,
    ClosedSpan,
    NoWorkingTime,
    WeeklyWindow,
    WorkingCalendar,
    format_week,
    local_to_utc,
    parse_week,
    weekly_in_zone,
)

UTC = timezone.utc
AMS = ZoneInfo("Europe/Amsterdam")
US = timedelta(microseconds=1)


def ams(*args: int) -> datetime:
    """A wall-clock time in Amsterdam, as UTC (first occurrence when ambiguous)."""
    return local_to_utc(datetime(*args), AMS)


def office(**kw) -> WorkingCalendar:  # type: ignore[no-untyped-def]
    return WorkingCalendar("Europe/Amsterdam", parse_week("mon-fri 09:00-17:00"), **kw)


# --- examples ---------------------------------------------------------------------------


def test_local_to_utc_in_the_gap_and_the_fold() -> None:
    # 29 March 2026: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
    assert local_to_utc(datetime(2026, 3, 29, 2, 30), AMS) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert local_to_utc(datetime(2026, 3, 29, 2, 30), AMS, last=True) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # 25 October 2026: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
    assert local_to_utc(datetime(2026, 10, 25, 2, 30), AMS) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert local_to_utc(datetime(2026, 10, 25, 2, 30), AMS, last=True) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def test_night_windows_hold_real_hours_across_dst() -> None:
    nights = WorkingCalendar("Europe/Amsterdam", [WeeklyWindow(6, time(0), time(6))])
    spring = nights.between(ams(2026, 3, 28, 12), ams(2026, 3, 29, 12))
    autumn = nights.between(ams(2026, 10, 24, 12), ams(2026, 10, 25, 12))
    assert spring == timedelta(hours=5) and autumn == timedelta(hours=7)
    gap_only = WorkingCalendar("Europe/Amsterdam", [WeeklyWindow(6, time(2), time(2, 59))])
    assert gap_only.between(ams(2026, 3, 29, 0), ams(2026, 3, 29, 12)) == timedelta()
    assert gap_only.between(ams(2026, 4, 5, 0), ams(2026, 4, 5, 12)) == timedelta(minutes=59)


def test_adding_working_hours_skips_nights_weekends_and_holidays() -> None:
    cal = office()
    # Friday 16:00 + 2 working hours: 1 hour on Friday, 1 on Monday.
    assert cal.add(ams(2026, 11, 27, 16), timedelta(hours=2)) == ams(2026, 11, 30, 10)
    # Ending exactly at the close of the day: 17:00, not the next morning.
    assert cal.add(ams(2026, 11, 25, 15), timedelta(hours=2)) == ams(2026, 11, 25, 17)
    # Christmas (Friday 25 and Saturday 26 December) is closed.
    xmas = office(closed_periods=[ClosedDays(date(2026, 12, 25), date(2026, 12, 26))])
    assert xmas.add(ams(2026, 12, 24, 16), timedelta(hours=2)) == ams(2026, 12, 28, 10)
    # Arriving at night: the count starts at the next opening.
    assert cal.add(ams(2026, 11, 25, 22), timedelta(hours=1)) == ams(2026, 11, 26, 10)
    assert cal.add(ams(2026, 11, 25, 22), timedelta()) == ams(2026, 11, 26, 9)


def test_two_working_days_are_two_average_days() -> None:
    cal = office()
    assert cal.average_day() == timedelta(hours=8)
    two_days = commitment_time(2, "days", cal)
    assert cal.add(ams(2026, 11, 23, 10), two_days) == ams(2026, 11, 25, 10)
    chat = WorkingCalendar("Europe/Amsterdam", parse_week("tue,thu 19:00-21:00"))
    assert chat.average_day() == timedelta(hours=2)
    # Chat within 4 working hours from Tuesday 20:00: 1 h Tue, 2 h Thu, 1 h next Tue.
    assert chat.add(ams(2026, 11, 24, 20), commitment_time(4, "hours", chat)) == ams(2026, 12, 1, 20)


def test_a_window_across_midnight_belongs_to_both_days() -> None:
    cal = WorkingCalendar("Europe/Amsterdam", parse_week("sat 22:00-02:00"))
    assert cal.is_open(ams(2026, 11, 28, 23)) and cal.is_open(ams(2026, 11, 29, 1, 59))
    assert not cal.is_open(ams(2026, 11, 29, 2)) and not cal.is_open(ams(2026, 11, 28, 21, 59))
    # Searching from Sunday 01:00 finds the window that started on Saturday.
    assert cal.open_intervals(ams(2026, 11, 29, 1), ams(2026, 11, 29, 3)) == [(ams(2026, 11, 29, 1), ams(2026, 11, 29, 2))]
    whole_day = WorkingCalendar("UTC", [WeeklyWindow(2, time(0), time(0))])
    assert whole_day.between(datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)) == timedelta(days=1)


def test_timed_absence_and_next_open() -> None:
    away = ClosedSpan(ams(2026, 11, 25, 12), ams(2026, 11, 26, 15))
    cal = office(closed_periods=[away])
    assert cal.is_open(ams(2026, 11, 25, 11)) and not cal.is_open(ams(2026, 11, 25, 12))
    assert cal.next_open(ams(2026, 11, 25, 12)) == ams(2026, 11, 26, 15)
    assert WorkingCalendar("UTC", []).next_open(datetime(2026, 1, 1, tzinfo=UTC)) is None
    with pytest.raises(NoWorkingTime):
        WorkingCalendar("UTC", []).add(datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=1))


def test_the_agreement_as_seen_from_another_zone() -> None:
    chat = WorkingCalendar("Europe/Amsterdam", parse_week("tue 19:00-21:00; sat 23:00-01:00"))
    seen = weekly_in_zone(chat, ams(2026, 11, 25, 12), "America/New_York")
    assert seen == [WeeklyWindow(1, time(13), time(15)), WeeklyWindow(5, time(17), time(19))]
    seen = weekly_in_zone(chat, ams(2026, 11, 25, 12), "Asia/Tokyo")
    assert seen == [WeeklyWindow(2, time(3), time(5)), WeeklyWindow(6, time(7), time(9))]


def test_week_text_round_trip_and_errors() -> None:
    windows = parse_week("Mon-Wed 09:00-12:30; fri,sun 20:00-01:00; sat-mon 10:00-11:00")
    assert parse_week(format_week(windows)) == windows
    assert [w.weekday for w in windows] == [0, 1, 2, 4, 6, 5, 6, 0]
    for bad in ("mon", "xyz 09:00-10:00", "mon 9-10"):
        with pytest.raises(ValueError):
            parse_week(bad)
    with pytest.raises(ValueError):
        WeeklyWindow(7, time(9), time(10))


def test_due_states() -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    lead = timedelta(minutes=DEFAULT_POLICY.remind_minutes)
    assert due_state(None, now, lead) is None
    assert due_state(now + timedelta(hours=5), now, lead) == "on_track"
    assert due_state(now + timedelta(hours=1), now, lead) == "due_soon"
    assert due_state(now, now, lead) == "overdue"


# --- properties -------------------------------------------------------------------------

ZONES = ["Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "America/Santiago",
         "Asia/Kolkata", "UTC"]
# Around Amsterdam's clock changes of 2026, and anywhere in the year.
BASE = datetime(2026, 1, 1, tzinfo=UTC)
DST_DAYS = [datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)]

minutes_of_day = st.integers(0, 24 * 4 - 1).map(lambda q: time(q // 4, q % 4 * 15))
windows = st.lists(st.builds(WeeklyWindow, st.integers(0, 6), minutes_of_day, minutes_of_day),
                   min_size=1, max_size=5)
instants = st.one_of(
    st.sampled_from(DST_DAYS).flatmap(
        lambda d: st.integers(-3 * 24 * 60, 3 * 24 * 60).map(lambda m: d + timedelta(minutes=m))),
    st.integers(0, 364 * 24 * 60).map(lambda m: BASE + timedelta(minutes=m)),
)
closed_days = st.builds(
    lambda first, length: ClosedDays(first, first + timedelta(days=length)),
    st.dates(date(2026, 1, 1), date(2026, 12, 31)), st.integers(0, 10))
closed_spans = st.builds(
    lambda start, hours: ClosedSpan(start, start + timedelta(hours=hours)), instants, st.integers(1, 200))


@st.composite
def calendars(draw, zones=st.sampled_from(ZONES)):  # type: ignore[no-untyped-def]
    zone = draw(zones)
    found = draw(windows)
    closed = draw(st.lists(st.one_of(closed_days, closed_spans), max_size=4))
    return WorkingCalendar(zone, found, closed)


durations = st.integers(0, 60 * 40).map(lambda m: timedelta(minutes=m))
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def in_working_time(cal: WorkingCalendar, at: datetime) -> bool:
    """Open, or the very end of a working interval (17:00 of 09:00-17:00)."""
    return cal.is_open(at) or cal.is_open(at - US)


@PROPS
@given(calendars(), instants, st.integers(1, 21))
def test_open_intervals_are_sorted_merged_and_clipped(cal, start, days) -> None:  # type: ignore[no-untyped-def]
    end = start + timedelta(days=days)
    found = cal.open_intervals(start, end)
    for (s, e), nxt in zip(found, found[1:] + [None]):
        assert start <= s < e <= end
        if nxt is not None:
            assert e < nxt[0]  # merged: a real gap between intervals
    for s, e in found:
        assert cal.is_open(s) and cal.is_open(e - US)


@PROPS
@given(calendars(), instants, durations)
def test_a_due_time_is_never_in_non_working_time(cal, start, duration) -> None:  # type: ignore[no-untyped-def]
    try:
        due = cal.add(start, duration)
    except NoWorkingTime:
        assume(False)
    assert due >= start
    if duration:
        assert in_working_time(cal, due)
        assert cal.between(start, due) == duration  # exactly the agreed working time
    else:
        assert cal.is_open(due) and cal.between(start, due) == timedelta()


@PROPS
@given(calendars(), instants, instants, durations, durations)
def test_adding_working_time_is_monotonic(cal, a, b, d1, d2) -> None:  # type: ignore[no-untyped-def]
    (a, b), (d1, d2) = sorted((a, b)), sorted((d1, d2))
    try:
        results = [cal.add(a, d1), cal.add(b, d1), cal.add(a, d2)]
    except NoWorkingTime:
        assume(False)
    assert results[0] <= results[1]
    assert results[0] <= results[2]


@PROPS
@given(calendars(), instants)
def test_next_open_is_the_first_working_instant(cal, at) -> None:  # type: ignore[no-untyped-def]
    found = cal.next_open(at)
    assume(found is not None)
    assert found >= at and cal.is_open(found)
    assert cal.between(at, found) == timedelta()


def wall_clock_open(cal: WorkingCalendar, at: datetime) -> bool:
    """The plain reading: the local wall clock is inside a window, no closed period."""
    local = at.astimezone(cal.zone).replace(tzinfo=None)
    for window in cal.windows:
        for back in (0, 1):
            day = local.date() - timedelta(days=back)
            if day.weekday() != window.weekday:
                continue
            start = datetime.combine(day, window.start)
            end = datetime.combine(day + timedelta(days=1 if window.crosses_midnight else 0), window.end)
            if start <= local < end:
                break
        else:
            continue
        break
    else:
        return False
    for period in cal.closed_periods:
        if isinstance(period, ClosedSpan) and period.start <= at < period.end:
            return False
        if isinstance(period, ClosedDays) and period.first <= local.date() <= period.last:
            return False
    return True


def near_a_clock_change(zone: ZoneInfo, at: datetime) -> bool:
    offsets = {(at + timedelta(hours=h)).astimezone(zone).utcoffset() for h in range(-30, 31, 1)}
    return len(offsets) > 1


@PROPS
@given(calendars(), instants)
def test_is_open_agrees_with_the_wall_clock_away_from_clock_changes(cal, at) -> None:  # type: ignore[no-untyped-def]
    assume(not near_a_clock_change(cal.zone, at))
    assert cal.is_open(at) == wall_clock_open(cal, at)


@PROPS
@given(calendars(zones=st.just("Europe/Amsterdam")), st.sampled_from(ZONES), instants)
def test_the_coachee_sees_the_same_instants_in_their_own_zone(cal, zone, at) -> None:  # type: ignore[no-untyped-def]
    """Every window described in the coachee's zone starts, at its next occurrence, at an
    instant the coach's weekly pattern is open."""
    assume(not near_a_clock_change(AMS, at) and not near_a_clock_change(ZoneInfo(zone), at))
    plain = cal.without_closed_periods()
    target = ZoneInfo(zone)
    for window in weekly_in_zone(cal, at, zone):
        local = at.astimezone(target)
        days_ahead = (window.weekday - local.weekday()) % 7
        candidate = datetime.combine(local.date() + timedelta(days=days_ahead), window.start, tzinfo=target)
        if candidate < at:
            candidate += timedelta(days=7)
        assume(not near_a_clock_change(AMS, candidate.astimezone(UTC)))
        assert plain.is_open(candidate.astimezone(UTC))
