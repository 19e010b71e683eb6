"""Working-time arithmetic: when a coach works, in their own time zone (pure rules).

A ``WorkingCalendar`` is a time zone, weekly windows (weekday, local start, local end; a
window whose end is not after its start runs past midnight into the next day, and
start == end is a whole day) and closed periods (holidays, absence) that cut working
time out: UTC intervals, or inclusive ranges of local dates.

Every answer is a list of half-open UTC intervals ``[start, end)``, merged and sorted, so
everything else (is open, next open, adding working time) is read off those intervals.

Local times are turned into UTC once per day and window:
- a start or end that does not exist (the spring-forward gap) becomes the instant the
  clocks jump, so a window lying wholly inside the gap is empty that day;
- a start that happens twice (the autumn fold) is its first occurrence, an end its last:
  the window covers every instant whose wall clock shows a time inside it.
Working time is real elapsed time: a window 00:00-06:00 on the night the clocks go back
holds seven hours of work, on the night they go forward five.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
Interval = tuple[datetime, datetime]

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
# How far ahead next_open/add look before giving up (a calendar without any working time).
HORIZON = timedelta(days=3 * 366)
_CHUNK = timedelta(days=35)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class NoWorkingTime(ValueError):
    """The calendar has no (or not enough) working time within the horizon."""


@dataclass(frozen=True, order=True)
class WeeklyWindow:
    """Working time every week: ``weekday`` 0 = Monday ... 6 = Sunday, local times."""

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), not {self.weekday}")
        for t in (self.start, self.end):
            if t.tzinfo is not None:
                raise ValueError("window times are local wall-clock times, without a zone")

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    @property
    def nominal(self) -> timedelta:
        """Its length on a day without a clock change."""
        start = datetime.combine(date(2000, 1, 3), self.start)
        end = datetime.combine(date(2000, 1, 3) + (DAY if self.crosses_midnight else timedelta()), self.end)
        return end - start


@dataclass(frozen=True)
class ClosedSpan:
    """A closed period as a UTC interval (e.g. a timed absence from an .ics file)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class ClosedDays:
    """Closed on these local dates, ``first`` to ``last`` inclusive (a holiday)."""

    first: date
    last: date


ClosedPeriod = ClosedSpan | ClosedDays | tuple[datetime, datetime] | tuple[date, date]


def _aware(at: datetime, name: str) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"{name} must be an aware datetime (UTC)")
    return at.astimezone(UTC)


def local_to_utc(wall: datetime, zone: ZoneInfo, *, last: bool = False) -> datetime:
    """A naive local wall-clock time to UTC. Ambiguous (fold): the first occurrence, or
    the last with ``last``. Nonexistent (gap): the instant the clocks jump."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first <= second:  # normal (equal) or ambiguous (first occurrence earlier)
        return second if last else first
    # In a gap, fold=0 applies the offset from before the jump (a later UTC instant) and
    # fold=1 the one after: the jump lies between them. Transitions fall on whole seconds.
    before = second.astimezone(zone).utcoffset()
    low, high = math.floor(second.timestamp()), math.ceil(first.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with overlapping or touching intervals joined; empty ones dropped."""
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def subtract(intervals: list[Interval], holes: list[Interval]) -> list[Interval]:
    """``intervals`` minus ``holes`` (both merged and sorted)."""
    result: list[Interval] = []
    h = 0
    for start, end in intervals:
        while h < len(holes) and holes[h][1] <= start:
            h += 1
        cursor, k = start, h
        while k < len(holes) and holes[k][0] < end:
            if holes[k][0] > cursor:
                result.append((cursor, holes[k][0]))
            cursor = max(cursor, holes[k][1])
            k += 1
        if cursor < end:
            result.append((cursor, end))
    return result


def total(intervals: Iterable[Interval]) -> timedelta:
    return sum((end - start for start, end in intervals), timedelta())


class WorkingCalendar:
    """A coach's working time for one channel. Immutable; cheap to build."""

    def __init__(
        self,
        zone: str,
        windows: Iterable[WeeklyWindow],
        closed_periods: Iterable[ClosedPeriod] = (),
    ) -> None:
        self.zone_name = zone
        self.zone = ZoneInfo(zone)
        self.windows: tuple[WeeklyWindow, ...] = tuple(sorted(set(windows)))
        self._by_day: dict[int, list[WeeklyWindow]] = {}
        for window in self.windows:
            self._by_day.setdefault(window.weekday, []).append(window)
        self.closed_periods: tuple[ClosedSpan | ClosedDays, ...] = tuple(
            self._closed(p) for p in closed_periods
        )
        self._holes = merge(self._hole(p) for p in self.closed_periods)
        self._days: dict[date, list[Interval]] = {}
        self._hole_ends = [end for _, end in self._holes]

    def __repr__(self) -> str:
        return f"WorkingCalendar({self.zone_name!r}, {list(self.windows)!r}, {list(self.closed_periods)!r})"

    @staticmethod
    def _closed(period: ClosedPeriod) -> ClosedSpan | ClosedDays:
        if isinstance(period, (ClosedSpan, ClosedDays)):
            return period
        first, second = period
        if isinstance(first, datetime) and isinstance(second, datetime):
            return ClosedSpan(_aware(first, "closed period start"), _aware(second, "closed period end"))
        if isinstance(first, date) and isinstance(second, date):
            return ClosedDays(first, second)
        raise TypeError("a closed period is two aware datetimes or two dates")

    def _hole(self, period: ClosedSpan | ClosedDays) -> Interval:
        if isinstance(period, ClosedSpan):
            return (_aware(period.start, "start"), _aware(period.end, "end"))
        start = local_to_utc(datetime.combine(period.first, time()), self.zone)
        end = local_to_utc(datetime.combine(period.last + DAY, time()), self.zone)
        return (start, end)

    def without_closed_periods(self) -> WorkingCalendar:
        """The plain weekly pattern (e.g. to describe an agreement)."""
        return WorkingCalendar(self.zone_name, self.windows)

    def with_closed_periods(self, extra: Iterable[ClosedPeriod]) -> WorkingCalendar:
        return WorkingCalendar(self.zone_name, self.windows, [*self.closed_periods, *extra])

    # --- the weekly pattern as UTC intervals -------------------------------------------

    def _window_interval(self, day: date, window: WeeklyWindow) -> Interval:
        start = local_to_utc(datetime.combine(day, window.start), self.zone)
        end_day = day + DAY if window.crosses_midnight else day
        end = local_to_utc(datetime.combine(end_day, window.end), self.zone, last=True)
        return (start, end)

    def _day(self, day: date) -> list[Interval]:
        """The windows that start on this local day, as UTC intervals (memoised: a batch
        of due times asks for the same days over and over)."""
        found = self._days.get(day)
        if found is None:
            found = [self._window_interval(day, w) for w in self._by_day.get(day.weekday(), ())]
            if len(self._days) > 4096:
                self._days.clear()
            self._days[day] = found
        return found

    def _weekly(self, start: datetime, end: datetime) -> list[Interval]:
        # A window that started the local day before may still be running at ``start``.
        day = start.astimezone(self.zone).date() - DAY
        last = end.astimezone(self.zone).date()
        found: list[Interval] = []
        while day <= last:
            found.extend(self._day(day))
            day += DAY
        return merge(found)

    def _holes_in(self, start: datetime, end: datetime) -> list[Interval]:
        # Holes are merged, so their ends are sorted as well as their starts.
        i = bisect_right(self._hole_ends, start)
        found = []
        while i < len(self._holes) and self._holes[i][0] < end:
            found.append(self._holes[i])
            i += 1
        return found

    # --- the API ------------------------------------------------------------------------

    def open_intervals(self, start_utc: datetime, end_utc: datetime) -> list[Interval]:
        """Working time within [start_utc, end_utc): merged, sorted, clipped, in UTC."""
        start = _aware(start_utc, "start_utc")
        end = _aware(end_utc, "end_utc")
        if end <= start or not self.windows:
            return []
        weekly = [(max(s, start), min(e, end)) for s, e in self._weekly(start, end) if e > start and s < end]
        return subtract(merge(weekly), self._holes_in(start, end))

    def is_open(self, at_utc: datetime) -> bool:
        at = _aware(at_utc, "at_utc")
        return bool(self.open_intervals(at, at + timedelta(microseconds=1)))

    def _scan(self, start: datetime):  # type: ignore[no-untyped-def]
        """Open intervals from ``start`` on, chunk by chunk (small first: most answers
        are due within days), up to the horizon."""
        cursor, limit, size = start, start + HORIZON, timedelta(days=2)
        while cursor < limit:
            chunk_end = min(cursor + size, limit)
            yield from self.open_intervals(cursor, chunk_end)
            cursor, size = chunk_end, min(size * 2, _CHUNK)

    def next_open(self, at_utc: datetime) -> datetime | None:
        """The first working instant at or after ``at_utc``; None if there is none within
        the horizon (about three years)."""
        for start, _end in self._scan(_aware(at_utc, "at_utc")):
            return start
        return None

    def add(self, start_utc: datetime, duration: timedelta) -> datetime:
        """The instant at which ``duration`` of working time has passed since
        ``start_utc``. The result is never inside a non-working period: it is a working
        instant or the end of a working interval (e.g. 17:00 for a window 09:00-17:00).
        With a zero duration: ``start_utc`` when open, else the next opening.
        Raises NoWorkingTime when the horizon holds too little working time."""
        start = _aware(start_utc, "start_utc")
        if duration < timedelta():
            raise ValueError("duration must not be negative")
        if duration == timedelta():
            found = self.next_open(start)
            if found is None:
                raise NoWorkingTime("no working time ahead")
            return found
        remaining = duration
        previous_end: datetime | None = None
        for s, e in self._scan(start):
            # Chunk borders split an interval in two; the arithmetic does not care.
            length = e - s
            if length >= remaining:
                return s + remaining
            remaining -= length
            previous_end = e
        raise NoWorkingTime(f"less than {duration} of working time ahead (ends {previous_end})")

    def between(self, start_utc: datetime, end_utc: datetime) -> timedelta:
        """How much working time lies between two instants (zero if end <= start)."""
        return total(self.open_intervals(start_utc, end_utc))

    def average_day(self) -> timedelta:
        """The weekly windows' working time divided by the number of weekdays that have a
        window: what "one working day" means (Mon-Fri 09:00-17:00 -> 8 hours)."""
        if not self.windows:
            return timedelta()
        days = {w.weekday for w in self.windows}
        return sum((w.nominal for w in self.windows), timedelta()) / len(days)


def weekly_in_zone(calendar: WorkingCalendar, at_utc: datetime, zone: str) -> list[WeeklyWindow]:
    """The coming week's weekly windows (closed periods ignored) as seen from another time
    zone, e.g. a coachee's: "chat is open Tuesday 19:00-21:00" in their own clock. A window
    is given on the local day it starts; one that runs past midnight ends the next day."""
    target = ZoneInfo(zone)
    start = _aware(at_utc, "at_utc")
    seen: set[WeeklyWindow] = set()
    # Unclipped weekly intervals: each window starts once in any seven days.
    for s, e in calendar._weekly(start, start + WEEK):
        if not start <= s < start + WEEK:
            continue
        while e - s > DAY:  # a stretch of whole days: one whole-day window each
            local = s.astimezone(target).time().replace(tzinfo=None)
            seen.add(WeeklyWindow(s.astimezone(target).weekday(), local, local))
            s += DAY
        local_s, local_e = s.astimezone(target), e.astimezone(target)
        seen.add(WeeklyWindow(local_s.weekday(), local_s.time().replace(tzinfo=None),
                              local_e.time().replace(tzinfo=None)))
    return sorted(seen)


def parse_week(spec: str) -> list[WeeklyWindow]:
    """Windows from a short text, e.g. ``"mon-fri 09:00-17:00; tue,thu 19:00-21:00"``
    (days: mon..sun, ranges and lists; a time range may run past midnight)."""
    windows: list[WeeklyWindow] = []
    for part in filter(None, (p.strip() for p in spec.lower().split(";"))):
        try:
            days_text, hours = part.split()
            start_text, end_text = hours.split("-")
            start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
        except ValueError:
            raise ValueError(f"not a window: {part!r} (expected e.g. 'mon-fri 09:00-17:00')") from None
        for day in _days(days_text):
            windows.append(WeeklyWindow(day, start, end))
    return windows


def _days(text: str) -> list[int]:
    days: list[int] = []
    for item in text.split(","):
        first, _, last = item.partition("-")
        try:
            a = WEEKDAYS.index(first[:3])
            b = WEEKDAYS.index(last[:3]) if last else a
        except ValueError:
            raise ValueError(f"unknown day in {text!r}") from None
        days.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return days


def format_week(windows: Sequence[WeeklyWindow]) -> str:
    """The inverse of ``parse_week`` (one window per entry)."""
    return "; ".join(f"{WEEKDAYS[w.weekday]} {w.start:%H:%M}-{w.end:%H:%M}" for w in windows)
