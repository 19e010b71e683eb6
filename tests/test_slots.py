"""Slot generation: DST weeks, bookers in other zones, buffers, notice, per-day limits,
exceptions; and property tests against a brute-force reading of the same rules."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from ecoach.core.slots import Booked, SlotRules, by_day, find_slot, free_slots

UTC = timezone.utc
AMS = ZoneInfo("Europe/Amsterdam")
NYC = ZoneInfo("America/New_York")
KOL = ZoneInfo("Asia/Kolkata")
H = timedelta(hours=1)
M = timedelta(minutes=1)


def weekly(zone: ZoneInfo, first: date, days: int, hours: dict[int, list[tuple[time, time]]],
           closed: list[tuple[datetime, datetime]] = ()) -> list[tuple[datetime, datetime]]:
    """Open intervals in UTC for local weekly windows (weekday -> [(from, to)]), minus
    closed periods: what a working calendar hands the slot rule."""
    out = []
    for n in range(days):
        day = first + timedelta(days=n)
        for start, end in hours.get(day.weekday(), []):
            a = datetime.combine(day, start, zone).astimezone(UTC)
            b = datetime.combine(day, end, zone).astimezone(UTC)
            pieces = [(a, b)]
            for ca, cb in closed:
                pieces = [p for s, e in pieces for p in ((s, min(e, ca)), (max(s, cb), e)) if p[0] < p[1]]
            out.extend(pieces)
    return out


MORNINGS = {d: [(time(9), time(12))] for d in range(5)}


def local(slots, zone):  # type: ignore[no-untyped-def]
    return [s.start.astimezone(zone).strftime("%a %d %H:%M") for s in slots]


def test_mornings_on_a_half_hour_grid() -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # a Sunday
    rules = SlotRules(duration=H)
    slots = free_slots(weekly(AMS, date(2026, 11, 23), 1, MORNINGS), [], rules, now=now, zone=AMS)
    assert local(slots, AMS) == ["Mon 23 09:00", "Mon 23 09:30", "Mon 23 10:00", "Mon 23 10:30", "Mon 23 11:00"]
    assert slots[0].start == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert all(s.end - s.start == H for s in slots)


def test_autumn_dst_week_keeps_local_times() -> None:
    # Summer time ends in Amsterdam on Sunday 25 October 2026.
    now = datetime(2026, 10, 20, 0, 0, tzinfo=UTC)
    intervals = weekly(AMS, date(2026, 10, 23), 4, MORNINGS)  # Fri .. Mon
    slots = free_slots(intervals, [], SlotRules(duration=H, step=H), now=now, zone=AMS)
    assert local(slots, AMS) == ["Fri 23 09:00", "Fri 23 10:00", "Fri 23 11:00",
                                 "Mon 26 09:00", "Mon 26 10:00", "Mon 26 11:00"]
    assert slots[0].start == datetime(2026, 10, 23, 7, 0, tzinfo=UTC)  # CEST, UTC+2
    assert slots[3].start == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # CET, UTC+1


def test_spring_dst_week_and_a_window_over_the_switch() -> None:
    # Summer time starts on Sunday 28 March 2027 at 02:00 (clocks jump to 03:00).
    now = datetime(2027, 3, 20, 0, 0, tzinfo=UTC)
    night = {6: [(time(1), time(4))]}  # Sunday 01:00-04:00 local lasts two real hours
    slots = free_slots(weekly(AMS, date(2027, 3, 28), 1, night), [], SlotRules(duration=H, step=H),
                       now=now, zone=AMS)
    assert local(slots, AMS) == ["Sun 28 01:00", "Sun 28 03:00"]
    assert [s.start.hour for s in slots] == [0, 1]  # UTC: back to back
    week = weekly(AMS, date(2027, 3, 26), 3, {4: [(time(9), time(10))], 0: [(time(9), time(10))]})
    slots = free_slots(week, [], SlotRules(duration=H), now=now, zone=AMS)
    assert [s.start for s in slots] == [datetime(2027, 3, 26, 8, tzinfo=UTC)]
    week = weekly(AMS, date(2027, 3, 26), 4, {4: [(time(9), time(10))], 0: [(time(9), time(10))]})
    slots = free_slots(week, [], SlotRules(duration=H), now=now, zone=AMS)
    assert [s.start for s in slots] == [datetime(2027, 3, 26, 8, tzinfo=UTC), datetime(2027, 3, 29, 7, tzinfo=UTC)]


def test_booker_in_new_york_during_the_weeks_the_switches_differ() -> None:
    # Europe switches on 25 October, the US on 1 November: one week the gap is 5 hours.
    now = datetime(2026, 10, 20, 0, 0, tzinfo=UTC)
    intervals = weekly(AMS, date(2026, 10, 22), 12, {3: [(time(9), time(10))]})  # Thursdays
    slots = free_slots(intervals, [], SlotRules(duration=H), now=now, zone=AMS)
    assert local(slots, NYC) == ["Thu 22 03:00", "Thu 29 04:00"]
    assert local(slots, AMS) == ["Thu 22 09:00", "Thu 29 09:00"]
    intervals = weekly(AMS, date(2026, 11, 5), 1, {3: [(time(9), time(10))]})
    assert local(free_slots(intervals, [], SlotRules(duration=H), now=now, zone=AMS), NYC) == ["Thu 05 03:00"]


def test_booker_in_kolkata_sees_half_hours_and_the_next_date() -> None:
    now = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
    evening = {0: [(time(19), time(21))]}  # Monday evening in Amsterdam
    slots = free_slots(weekly(AMS, date(2026, 11, 23), 1, evening), [], SlotRules(duration=H), now=now, zone=AMS)
    assert local(slots, KOL) == ["Mon 23 23:30", "Tue 24 00:00", "Tue 24 00:30"]
    days = by_day(slots, KOL)
    assert [d for d, _ in days] == [date(2026, 11, 23), date(2026, 11, 24)]
    assert [len(s) for _, s in days] == [1, 2]


def test_coach_in_kolkata_grid_follows_local_wall_time() -> None:
    now = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
    intervals = weekly(KOL, date(2026, 11, 23), 1, {0: [(time(10), time(12))]})
    slots = free_slots(intervals, [], SlotRules(duration=timedelta(minutes=45), step=timedelta(minutes=30)),
                       now=now, zone=KOL)
    assert local(slots, KOL) == ["Mon 23 10:00", "Mon 23 10:30", "Mon 23 11:00"]
    assert slots[0].start == datetime(2026, 11, 23, 4, 30, tzinfo=UTC)


def test_buffers_on_both_sides() -> None:
    now = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
    intervals = weekly(AMS, date(2026, 11, 23), 1, MORNINGS)
    at = lambda h, m=0: datetime.combine(date(2026, 11, 23), time(h, m), AMS).astimezone(UTC)  # noqa: E731
    existing = [Booked(at(10), at(10, 30), buffer_after=15 * M)]
    plain = free_slots(intervals, existing, SlotRules(duration=30 * M), now=now, zone=AMS)
    assert local(plain, AMS) == ["Mon 23 09:00", "Mon 23 09:30", "Mon 23 11:00", "Mon 23 11:30"]
    padded = SlotRules(duration=30 * M, buffer_before=30 * M, buffer_after=15 * M)
    slots = free_slots(intervals, existing, padded, now=now, zone=AMS)
    # 09:30 would end at 10:00 but needs 15 min after; 11:00 needs 30 min before 10:45.
    assert local(slots, AMS) == ["Mon 23 09:00", "Mon 23 11:30"]


def test_minimum_notice_and_horizon() -> None:
    now = datetime.combine(date(2026, 11, 23), time(8, 15), AMS).astimezone(UTC)
    intervals = weekly(AMS, date(2026, 11, 23), 14, MORNINGS)
    rules = SlotRules(duration=H, step=H, min_notice=24 * H + 45 * M, horizon=timedelta(days=3))
    slots = free_slots(intervals, [], rules, now=now, zone=AMS)
    # Notice ends Tue 09:00, the horizon Thu 08:15: nothing on Monday, nothing after Wednesday.
    assert local(slots, AMS) == ["Tue 24 09:00", "Tue 24 10:00", "Tue 24 11:00",
                                 "Wed 25 09:00", "Wed 25 10:00", "Wed 25 11:00"]


def test_per_day_maximum_counts_the_coachs_local_day() -> None:
    now = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
    intervals = weekly(AMS, date(2026, 11, 23), 3, {d: [(time(0), time(23, 59))] for d in range(7)})
    # 00:30 on Tuesday in Amsterdam is still Monday in UTC: it counts for Tuesday.
    tue_early = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    tue_noon = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    existing = [Booked(tue_early, tue_early + H), Booked(tue_noon, tue_noon + H)]
    slots = free_slots(intervals, existing, SlotRules(duration=H, step=H, max_per_day=2), now=now, zone=AMS)
    days = {s.start.astimezone(AMS).date() for s in slots}
    assert days == {date(2026, 11, 23), date(2026, 11, 25)}
    slots = free_slots(intervals, existing, SlotRules(duration=H, step=H, max_per_day=3), now=now, zone=AMS)
    assert date(2026, 11, 24) in {s.start.astimezone(AMS).date() for s in slots}


def test_exceptions_take_out_a_day_and_an_hour() -> None:
    now = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
    day_off = (datetime(2026, 11, 24, tzinfo=AMS), datetime(2026, 11, 25, tzinfo=AMS))
    dentist = (datetime(2026, 11, 25, 10, tzinfo=AMS), datetime(2026, 11, 25, 11, tzinfo=AMS))
    intervals = weekly(AMS, date(2026, 11, 23), 3, MORNINGS, closed=[day_off, dentist])
    slots = free_slots(intervals, [], SlotRules(duration=H, step=H), now=now, zone=AMS)
    assert local(slots, AMS) == ["Mon 23 09:00", "Mon 23 10:00", "Mon 23 11:00", "Wed 25 09:00", "Wed 25 11:00"]


def test_touching_intervals_are_one_window_and_find_slot() -> None:
    now = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
    a = datetime(2026, 11, 23, 8, tzinfo=UTC)
    slots = free_slots([(a, a + H), (a + H, a + 2 * H)], [], SlotRules(duration=90 * M), now=now, zone=AMS)
    assert [s.start for s in slots] == [a, a + 30 * M]
    assert find_slot(slots, a + 30 * M) == slots[1]
    assert find_slot(slots, a + 15 * M) is None
    every = free_slots([(a, a + 3 * H)], [], SlotRules(duration=H), now=now, zone=AMS)
    assert len(every) == 5
    assert free_slots([(a, a + 3 * H)], [], SlotRules(duration=H), now=now, zone=AMS, limit=2) == every[:2]


# --- properties ----------------------------------------------------------------------

BASE = datetime(2026, 10, 22, 0, 0, tzinfo=UTC)  # the weeks around both DST switches
ZONES = [AMS, NYC, KOL, ZoneInfo("Asia/Kathmandu"), ZoneInfo("UTC")]
FIVE = 5 * M


@st.composite
def scenarios(draw):  # type: ignore[no-untyped-def]
    minutes = st.integers(0, 20 * 24 * 12).map(lambda n: n * FIVE)
    intervals = [(BASE + s, BASE + s + draw(st.integers(1, 12 * 12)) * FIVE)
                 for s in draw(st.lists(minutes, max_size=12))]
    booked = []
    for s in draw(st.lists(minutes, max_size=8)):
        length = draw(st.integers(1, 36)) * FIVE
        booked.append(Booked(BASE + s, BASE + s + length, draw(st.integers(0, 12)) * FIVE,
                             draw(st.integers(0, 12)) * FIVE))
    rules = SlotRules(
        duration=draw(st.integers(1, 36)) * FIVE,
        step=draw(st.sampled_from([5, 10, 15, 20, 30, 60])) * M,
        buffer_before=draw(st.integers(0, 12)) * FIVE,
        buffer_after=draw(st.integers(0, 12)) * FIVE,
        min_notice=draw(st.integers(0, 3 * 24 * 12)) * FIVE,
        horizon=timedelta(days=draw(st.integers(1, 21))),
        max_per_day=draw(st.integers(0, 3)),
    )
    now = BASE + draw(st.integers(-2 * 24 * 60, 5 * 24 * 60)) * M
    return intervals, booked, rules, now, draw(st.sampled_from(ZONES))


def overlaps(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def covered(start: datetime, end: datetime, intervals) -> bool:  # type: ignore[no-untyped-def]
    """Every five minutes of [start, end) lie in some interval (brute force)."""
    t = start
    while t < end:
        if not any(a <= t < b for a, b in intervals):
            return False
        t += FIVE
    return True


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_no_slot_overlaps_a_booking_or_leaves_the_windows(case) -> None:  # type: ignore[no-untyped-def]
    intervals, booked, rules, now, zone = case
    slots = free_slots(intervals, booked, rules, now=now, zone=zone)
    assert slots == sorted(set(slots))
    for slot in slots:
        assert covered(slot.start, slot.end, intervals)
        assert not any(overlaps(rules.busy_range(slot.start), b.busy) for b in booked)
        assert now + rules.min_notice <= slot.start <= now + rules.horizon
        assert slot.end - slot.start == rules.duration
        wall = slot.start.astimezone(zone)
        assert (wall.hour * 60 + wall.minute) % (rules.step // M) == 0
        if rules.max_per_day:
            day = wall.date()
            assert sum(b.start.astimezone(zone).date() == day for b in booked) < rules.max_per_day


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_every_free_grid_time_is_offered(case) -> None:  # type: ignore[no-untyped-def]
    intervals, booked, rules, now, zone = case
    offered = {s.start for s in free_slots(intervals, booked, rules, now=now, zone=zone)}
    if not intervals:
        assert not offered
        return
    t = min(a for a, _ in intervals)
    t = t - timedelta(minutes=t.minute % 5)
    last = max(b for _, b in intervals)
    while t < last:
        wall = t.astimezone(zone)
        on_grid = (wall.hour * 60 + wall.minute) % (rules.step // M) == 0
        fits = (on_grid and now + rules.min_notice <= t <= now + rules.horizon
                and covered(t, t + rules.duration, intervals)
                and not any(overlaps(rules.busy_range(t), b.busy) for b in booked)
                and not (rules.max_per_day and sum(b.start.astimezone(zone).date() == wall.date()
                                                   for b in booked) >= rules.max_per_day))
        assert (t in offered) == fits, t
        t += FIVE


def test_with_the_coachs_working_calendar_across_the_autumn_switch() -> None:
    """The same rule fed by the availability area's WorkingCalendar (windows for sessions,
    a holiday cut out), as the booking pages do."""
    from ecoach.core.working_time import ClosedDays, WorkingCalendar, parse_week

    calendar = WorkingCalendar("Europe/Amsterdam", parse_week("mon-fri 09:00-11:00"),
                               [ClosedDays(date(2026, 10, 27), date(2026, 10, 27))])
    now = datetime(2026, 10, 22, 12, 0, tzinfo=UTC)
    rules = SlotRules(duration=H, step=H, horizon=timedelta(days=7))
    slots = free_slots(calendar.open_intervals(now, now + rules.horizon + rules.duration), [], rules,
                       now=now, zone=AMS)
    assert local(slots, AMS) == ["Fri 23 09:00", "Fri 23 10:00", "Mon 26 09:00", "Mon 26 10:00",
                                 "Wed 28 09:00", "Wed 28 10:00", "Thu 29 09:00", "Thu 29 10:00"]
    assert [s.start.hour for s in slots[:4]] == [7, 8, 8, 9]  # UTC+2, then UTC+1
