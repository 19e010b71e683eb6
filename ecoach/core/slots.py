"""Free booking slots (pure rule): the coach's open session time minus what is taken.

Inputs are UTC instants. ``open_intervals`` are the coach's bookable working intervals
(availability windows for sessions, exceptions already taken out); ``booked`` are the
active bookings with their own buffers. A slot is offered when

- the session itself lies inside one open interval (buffers may reach outside it),
- the slot with its buffers does not overlap any booking with *its* buffers, the same
  half-open range test the database enforces (so Python and the database agree),
- it starts no earlier than ``now + min_notice`` and no later than ``now + horizon``,
- the coach's day (in the coach's zone) holds fewer than ``max_per_day`` bookings.

Slot starts lie on a grid of ``step`` in the coach's local wall time (09:00, 09:30, ...),
so a window that starts at 09:00 in summer and in winter offers the same local times. The
grid starts again at each local midnight and where the clocks change, so it is the same
from wherever it is computed: a booking page and the check of a booking (which looks only
at the day around the asked time) agree, also for a step such as 45 or 90 minutes in an
open stretch that runs through the night the clocks change.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
ZERO = timedelta(0)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class SlotRules:
    duration: timedelta
    step: timedelta = timedelta(minutes=30)
    buffer_before: timedelta = ZERO
    buffer_after: timedelta = ZERO
    min_notice: timedelta = ZERO
    horizon: timedelta = timedelta(days=60)
    max_per_day: int = 0  # 0: no limit

    def busy_range(self, start: datetime) -> tuple[datetime, datetime]:
        """What a session starting at ``start`` keeps busy, buffers included."""
        return start - self.buffer_before, start + self.duration + self.buffer_after


@dataclass(frozen=True)
class Booked:
    """An active booking as the slot rule sees it."""

    start: datetime
    end: datetime
    buffer_before: timedelta = ZERO
    buffer_after: timedelta = ZERO

    @property
    def busy(self) -> tuple[datetime, datetime]:
        return self.start - self.buffer_before, self.end + self.buffer_after


@dataclass(frozen=True, order=True)
class Slot:
    start: datetime
    end: datetime


def search_range(now: datetime, rules: SlotRules) -> tuple[datetime, datetime]:
    """The span of time worth asking the working calendar about."""
    return now + rules.min_notice, now + rules.horizon + rules.duration


def merge(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Sorted, with touching or overlapping intervals joined (a window that runs past
    midnight may come as two pieces)."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _ceil_by(t: datetime, step: timedelta, offset: timedelta) -> datetime:
    """The first grid time at or after ``t`` if the zone's offset were ``offset``: each
    local day's grid starts again at its midnight (so a step that does not divide a day
    ends the day's grid short instead of running into the next day's)."""
    wall = (t.astimezone(UTC) + offset).replace(tzinfo=None)
    midnight = wall.replace(hour=0, minute=0, second=0, microsecond=0)
    steps = -((midnight - wall) // step)  # ceiling division
    return (min(midnight + steps * step, midnight + DAY) - offset).replace(tzinfo=UTC)


def _offset(t: datetime, zone: ZoneInfo) -> timedelta:
    return t.astimezone(zone).utcoffset() or ZERO


def _switch(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The instant in (before, after] at which the zone's offset changes (zones change on
    whole seconds: the one whole second in the last interval of the halving)."""
    offset = _offset(before, zone)
    low, high = before, after
    while high - low > SECOND:
        middle = low + (high - low) / 2
        low, high = (middle, high) if _offset(middle, zone) == offset else (low, middle)
    return high.replace(microsecond=0)


def ceil_to_grid(t: datetime, step: timedelta, zone: ZoneInfo) -> datetime:
    """The first instant at or after ``t`` on the ``step`` grid of local wall time. When
    the clocks change before that grid time, the grid goes on from the change in the new
    local time (03:00 on the night the clocks go forward, 02:00 CET on the night they go
    back), so it is the same grid from wherever it is asked."""
    offset = _offset(t, zone)
    found = _ceil_by(t, step, offset)
    if _offset(found, zone) == offset:
        return found
    switch = _switch(t, found, zone)
    return _ceil_by(switch, step, _offset(switch, zone))


def _next_boundary(t: datetime, zone: ZoneInfo) -> datetime:
    """The first local midnight or change of the clocks after ``t``."""
    local = t.astimezone(zone)
    offset = local.utcoffset() or ZERO
    # The next midnight by today's offset: if the offset is another there, the clocks
    # change before it (on a day they change, or at that midnight itself).
    midnight = (datetime.combine(local.date() + DAY, time()) - offset).replace(tzinfo=UTC)
    return midnight if _offset(midnight, zone) == offset else _switch(t, midnight, zone)


def grid_times(first: datetime, last: datetime, step: timedelta, zone: ZoneInfo) -> Iterator[datetime]:
    """The grid times from ``first`` to ``last`` (both included): plain steps within a
    local day, starting again at each local midnight and change of the clocks."""
    t = ceil_to_grid(first, step, zone)
    while t <= last:
        boundary = _next_boundary(t, zone)
        while t <= last and t < boundary:
            yield t
            t += step
        if t < boundary:
            return
        t = ceil_to_grid(boundary, step, zone)


def local_day(t: datetime, zone: ZoneInfo) -> date:
    return t.astimezone(zone).date()


class _Taken:
    """Busy ranges, sorted by start with a running maximum of ends: an overlap test is
    one binary search."""

    def __init__(self, booked: Sequence[Booked]) -> None:
        ranges = sorted(b.busy for b in booked)
        self._starts = [start for start, _ in ranges]
        self._max_end: list[datetime] = []
        for _, end in ranges:
            self._max_end.append(max(end, self._max_end[-1]) if self._max_end else end)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        i = bisect.bisect_left(self._starts, end)  # ranges that begin before ``end``
        return i > 0 and self._max_end[i - 1] > start


def free_slots(
    open_intervals: Iterable[tuple[datetime, datetime]],
    booked: Sequence[Booked],
    rules: SlotRules,
    *,
    now: datetime,
    zone: ZoneInfo,
    limit: int | None = None,
) -> list[Slot]:
    """Every slot that may be booked now, in time order."""
    if rules.duration <= ZERO or rules.step <= ZERO:
        raise ValueError("duration and step must be positive")
    earliest, latest = now + rules.min_notice, now + rules.horizon
    taken = _Taken(booked)
    per_day = Counter(local_day(b.start, zone) for b in booked)
    slots: list[Slot] = []
    for start, end in merge(open_intervals):
        for t in grid_times(max(start, earliest), min(end - rules.duration, latest), rules.step, zone):
            full = rules.max_per_day and per_day[local_day(t, zone)] >= rules.max_per_day
            if not full and not taken.overlaps(*rules.busy_range(t)):
                slots.append(Slot(t, t + rules.duration))
                if limit is not None and len(slots) >= limit:
                    return slots
    return slots


def find_slot(slots: Sequence[Slot], start: datetime) -> Slot | None:
    i = bisect.bisect_left(slots, Slot(start, start))
    if i < len(slots) and slots[i].start == start:
        return slots[i]
    return None


def by_day(slots: Iterable[Slot], zone: ZoneInfo) -> list[tuple[date, list[Slot]]]:
    """Slots grouped by the viewer's local date, in order."""
    days: dict[date, list[Slot]] = {}
    for slot in slots:
        days.setdefault(local_day(slot.start, zone), []).append(slot)
    return list(days.items())
