"""The clock is injected so tests can move time by hand.

Everything that asks "what time is it" for a business rule (slots, deadlines, nudges,
expiry) asks the app's clock, never ``datetime.now``. A server can be started at another
moment (setting ``clock.start``, for tests and demonstrations): standing still there
(``FixedClock``) or running on from it at the real pace (``RunningClock``).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock for tests: stands still until moved."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        self._now = moment


class RunningClock:
    """Starts at ``start`` and runs on at the pace of the machine's monotonic clock (so a
    change of the system time does not move it)."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._began = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._began)


def make_clock(start: datetime | None, *, runs: bool = False) -> Clock:
    """The system clock, or one set to ``start`` (aware) that stands still or runs on."""
    if start is None:
        return SystemClock()
    if start.tzinfo is None:
        raise ValueError("the clock's start needs a UTC offset")
    start = start.astimezone(timezone.utc)
    return RunningClock(start) if runs else FixedClock(start)
