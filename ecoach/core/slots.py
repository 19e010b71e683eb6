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
so a window that starts at 09:00 in summer and in winter offers the same local times.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
ZERO = timedelta(0)


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


def ceil_to_grid(t: datetime, step: timedelta, zone: ZoneInfo) -> datetime:
    """The first instant at or after ``t`` on the ``step`` grid of local wall time."""
    offset = t.astimezone(zone).utcoffset() or ZERO
    wall = (t.astimezone(UTC) + offset).replace(tzinfo=None)
    midnight = wall.replace(hour=0, minute=0, second=0, microsecond=0)
    steps = -((midnight - wall) // step)  # ceiling division
    return (midnight + steps * step - offset).replace(tzinfo=UTC)


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
        t = ceil_to_grid(max(start, earliest), rules.step, zone)
        while t + rules.duration <= end and t <= latest:
            full = rules.max_per_day and per_day[local_day(t, zone)] >= rules.max_per_day
            if not full and not taken.overlaps(*rules.busy_range(t)):
                slots.append(Slot(t, t + rules.duration))
                if limit is not None and len(slots) >= limit:
                    return slots
            t += rules.step
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
