"""Moments relative to a test's clock, so a time-sensitive test means the same thing at
START and at every awkward moment of conftest.AWKWARD (issue 12): "next Tuesday 10:00 in
Amsterdam", "the day after tomorrow at 14:00", "the first of next month".

All functions take the test's clock (anything with ``now()``) and return aware UTC
datetimes; local wall times are built in the zone first, so a DST switch between now and
the moment keeps the wall time (10:00 stays 10:00 local)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

AMSTERDAM = "Europe/Amsterdam"


def local_now(clock: Any, zone: str = AMSTERDAM) -> datetime:
    """The clock's now as a wall time in ``zone``."""
    return clock.now().astimezone(ZoneInfo(zone))


def at_local(day: date, hour: int, minute: int = 0, zone: str = AMSTERDAM) -> datetime:
    """``day`` at ``hour:minute`` wall time in ``zone``, as UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


def days_ahead(clock: Any, days: int, hour: int, minute: int = 0, zone: str = AMSTERDAM) -> datetime:
    """``days`` local calendar days after today (in ``zone``) at ``hour:minute`` local."""
    return at_local(local_now(clock, zone).date() + timedelta(days=days), hour, minute, zone)


def next_weekday(clock: Any, weekday: int, hour: int, minute: int = 0, zone: str = AMSTERDAM,
                 *, after: timedelta = timedelta(0)) -> datetime:
    """The first ``weekday`` (0 = Monday) at ``hour:minute`` local that is later than
    now + ``after``."""
    earliest = clock.now() + after
    day = earliest.astimezone(ZoneInfo(zone)).date()
    for _ in range(15):
        if day.weekday() == weekday:
            moment = at_local(day, hour, minute, zone)
            if moment > earliest:
                return moment
        day += timedelta(days=1)
    raise AssertionError("unreachable: a weekday comes round within two weeks")


def month_start(clock: Any, months: int = 0, zone: str = AMSTERDAM) -> date:
    """The first day of the local month ``months`` from now (negative: earlier)."""
    today = local_now(clock, zone).date()
    index = today.year * 12 + today.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
