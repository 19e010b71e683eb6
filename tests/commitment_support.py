"""Expected response deadlines for the commitment tests, worked out by hand rather than by
the product's WorkingCalendar: walk the coach's local days from the moment a message came
in and take working time from each day's windows until the promise is used up. So a test
at any moment of the clock (Sunday 23:59, the DST night, New Year) knows its due time."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
AMS = ZoneInfo("Europe/Amsterdam")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
OFFICE: Mapping[int, Sequence[tuple[time, time]]] = {day: [(time(9), time(17))] for day in range(5)}


def working_deadline(received: datetime, hours: float, *, windows: Mapping[int, Sequence[tuple[time, time]]] = OFFICE,
                     zone: ZoneInfo = AMS, closed: Collection[date] = ()) -> datetime:
    """``hours`` of working time after ``received`` (windows per weekday, 0 = Monday, in
    ``zone``; ``closed`` local days have none), as UTC."""
    left = timedelta(hours=hours)
    day = received.astimezone(zone).date()
    for _ in range(400):
        for start, end in windows.get(day.weekday(), ()) if day not in closed else ():
            opens = max(datetime.combine(day, start, tzinfo=zone).astimezone(UTC), received)
            shuts = datetime.combine(day, end, tzinfo=zone).astimezone(UTC)
            if shuts - opens >= left:
                return opens + left
            left -= max(shuts - opens, timedelta())
        day += timedelta(days=1)
    raise AssertionError("no working time within 400 days")


def english_moment(at: datetime, zone: ZoneInfo = AMS) -> str:
    """"Wednesday 25 November, 14:00": how an English notice names a due time."""
    local = at.astimezone(zone)
    return f"{DAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]}, {local:%H:%M}"


def wall(at: datetime, zone: ZoneInfo = AMS) -> str:
    """"14:00": the local time of day."""
    return at.astimezone(zone).strftime("%H:%M")
