"""The coach's calendar feed: how long one answer to a calendar program takes to build.

    .venv/bin/python bench/calendar_feed.py [--events 300] [--rounds 30]

Prints the time to build a feed of ``--events`` sessions over three years the way ecoach
writes it (UTC times, ``ecoach.core.ics.feed``), beside the former way (local times with
icalendar's generated VTIMEZONE, ``add_missing_timezones``) for comparison, and the
size of each.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from common import summary  # type: ignore[import-not-found]
from icalendar import Calendar

from ecoach.core.ics import CalendarEvent, _event, feed

START = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
AMS = ZoneInfo("Europe/Amsterdam")


def items(count: int) -> list[CalendarEvent]:
    step = timedelta(days=3 * 365) / count
    return [CalendarEvent(
        uid=f"b{n}@bench", sequence=n % 3, start=START + n * step, end=START + n * step + timedelta(hours=1),
        title=f"Coachingsessie: coachee {n}", description="Deelnemen: https://meet.jit.si/abc\nhttps://e/x",
        location="https://meet.jit.si/abc", url="https://meet.jit.si/abc", organizer_name="Marieke Bos",
        organizer_email="marieke@example.org", attendee_name=f"Coachee {n}", attendee_email=f"c{n}@example.org",
        stamp=START) for n in range(count)]


def zoned(events: list[CalendarEvent]) -> bytes:
    """The former way: the same events with local times, a TZID and icalendar's VTIMEZONE."""
    calendar = Calendar()
    calendar.add("prodid", "-//bench//EN")
    calendar.add("version", "2.0")
    for item in events:
        event = _event(item, cancelled=False)
        for name, value in (("DTSTART", item.start), ("DTEND", item.end)):
            del event[name]
            event.add(name, value.astimezone(AMS))
        calendar.add_component(event)
    calendar.add_missing_timezones(first_date=events[0].start.date() - timedelta(days=366),
                                   last_date=events[-1].end.date() + timedelta(days=366))
    return calendar.to_ical()


def measure(name: str, build, rounds: int) -> None:  # type: ignore[no-untyped-def]
    times, size = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        size = len(build())
        times.append((time.perf_counter() - started) * 1000)
    print(f"{name:<38} {size / 1024:7.1f} KiB   {summary(times)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    events = items(args.events)
    measure(f"feed, {args.events} sessions, UTC (ecoach)", lambda: feed(events, "ecoach: Marieke Bos"), args.rounds)
    measure(f"feed, {args.events} sessions, VTIMEZONE (former)", lambda: zoned(events), args.rounds)


if __name__ == "__main__":
    main()
