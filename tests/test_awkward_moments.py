"""The rules that depend on the time, at the awkward moments of tests/conftest.py's AWKWARD
(Sunday 23:59 in Amsterdam, the hour the clocks go forward, New Year's night) as well as
at START, through the ``clock`` fixture (``awkward_clock``): a working-time deadline, the
times a booking page offers and the server takes, a weekly nudge, the billing month.
The browser side: tests/test_booking_clock.py (the pages at the same moments)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from ecoach.core.clock import FixedClock
from ecoach.core.working_time import WorkingCalendar, parse_week

pytestmark = pytest.mark.awkward_clock
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize("hours", [1, 4, 8, 40])
def test_a_promise_in_working_hours_falls_due_in_working_hours_after_now(clock: FixedClock, hours: int) -> None:
    calendar = WorkingCalendar("Europe/Amsterdam", parse_week("mon-fri 09:00-17:00"))
    now = clock.now()
    due = calendar.add(now, timedelta(hours=hours))
    assert due > now
    assert calendar.between(now, due) == timedelta(hours=hours)  # exactly the hours promised
    local = due.astimezone(AMSTERDAM)
    assert local.weekday() < 5 and (9 <= local.hour < 17 or (local.hour, local.minute) == (17, 0))


def test_the_next_open_moment_is_a_working_moment(clock: FixedClock) -> None:
    calendar = WorkingCalendar("Europe/Amsterdam", parse_week("mon-fri 09:00-17:00"))
    now = clock.now()
    opens = calendar.next_open(now)
    assert opens is not None and opens >= now and calendar.is_open(opens)
    assert opens - now < timedelta(days=4)  # a weekend and a holiday at most
