"""Booking: how long free slots take to compute, and 20-way races for one slot.

    .venv/bin/python bench/booking.py [--db sqlite|postgresql|both] [--bookings 150] [--races 10]

Prints the pure slot rule's time (60 days, 15-minute grid), a booking page's offer query
(working calendar + bookings + rule) with ``--bookings`` sessions in the agenda, and
``--races`` rounds of 20 simultaneous bookings of one slot (each its own connection):
the time per round and that every round made exactly one booking.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from common import bench_keyring, plain_rows, postgres_url, summary  # type: ignore[import-not-found]

from ecoach.actions.booking import BookingContext, do_book_from_link
from ecoach.actions.booking_offer import get_offer
from ecoach.actions.coaches import do_add_coach
from ecoach.actions.engagements import do_create_engagement
from ecoach.actions.errors import Conflict
from ecoach.actions.session_types import check_session_type, do_new_booking_link, do_save_session_type
from ecoach.core.slots import Booked, SlotRules, free_slots
from ecoach.core.working_time import WorkingCalendar, parse_week
from ecoach.logbook.db import create_engine, migrate, session_factory
from ecoach.settings import Settings
from tests.conftest import _admin, _drop_database, _with_db

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
FORM = {"name": "Sessie", "channel": "video", "duration_minutes": "60", "buffer_before_minutes": "0",
        "buffer_after_minutes": "15", "min_notice_minutes": "0", "max_per_day": "0", "horizon_days": "60",
        "availability": "sessions"}


def pure_rule() -> None:
    calendar = WorkingCalendar("Europe/Amsterdam", parse_week("mon-fri 09:00-17:00"))
    rules = SlotRules(duration=timedelta(hours=1), step=timedelta(minutes=15), horizon=timedelta(days=60),
                      buffer_after=timedelta(minutes=15))
    intervals = calendar.open_intervals(NOW, NOW + rules.horizon + rules.duration)
    for count in (0, 200):
        booked = [Booked(s, s + timedelta(hours=1)) for s, _ in intervals[:count]]
        times, offered = [], 0
        for _ in range(200):
            started = time.perf_counter()
            offered = len(free_slots(intervals, booked, rules, now=NOW, zone=ZoneInfo("Europe/Amsterdam")))
            times.append((time.perf_counter() - started) * 1000)
        print(f"pure rule, 60 days, {count:3d} bookings, {offered} slots offered: {summary(times)}")


async def database(url: str, name: str, bookings: int, races: int) -> None:
    engine = create_engine(url)
    await migrate(engine)
    sessions = session_factory(engine, None, bench_keyring())
    settings = Settings(database_url=url, secret_key="bench")
    ctx = BookingContext(settings, NOW, "bench")
    async with sessions() as session:
        coach = await do_add_coach(session, name="Coach", email="c@example.org", password="correct horse battery",
                                   language="nl", time_zone="Europe/Amsterdam", now=NOW)
        item = await do_save_session_type(session, coach, check_session_type(FORM), type_id=None, now=NOW)
        tokens = []
        for n in range(20):
            created = await do_create_engagement(session, coach, coachee_name=f"C{n}", now=NOW)
            tokens.append(await do_new_booking_link(session, coach.id, created.engagement.id, now=NOW, days=0,
                                                    secret="bench"))
        await session.commit()
    async with sessions() as session:
        slots = (await get_offer(session, item, now=NOW, step_minutes=30)).slots
    spread = slots[:: max(1, len(slots) // (bookings + races))]
    for slot in spread[:bookings]:
        async with sessions() as session:
            await do_book_from_link(session, ctx, tokens[0], type_id=item.id, start=slot.start.isoformat(),
                                    zone="Europe/Amsterdam", language="nl")
            await session.commit()
    times = []
    for _ in range(30):
        async with sessions() as session:
            started = time.perf_counter()
            await get_offer(session, item, now=NOW, step_minutes=30)
            times.append((time.perf_counter() - started) * 1000)
    print(f"{name}: offer query with {bookings} bookings in the agenda: {summary(times)}")

    async def attempt(token: str, start: datetime) -> bool:
        async with sessions() as session:
            try:
                await do_book_from_link(session, ctx, token, type_id=item.id, start=start.isoformat(),
                                        zone="Europe/Amsterdam", language="nl")
                await session.commit()
                return True
            except Conflict:
                return False

    times, winners = [], []
    for slot in spread[bookings:bookings + races]:
        started = time.perf_counter()
        results = await asyncio.gather(*(attempt(t, slot.start) for t in tokens))
        times.append((time.perf_counter() - started) * 1000)
        winners.append(sum(results))
    print(f"{name}: {len(times)} races of 20 for one slot, bookings made per race {sorted(set(winners))}: "
          f"{summary(times)}")
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--bookings", type=int, default=150)
    parser.add_argument("--races", type=int, default=10)
    parser.add_argument("--postgres-url", default=None)
    args = parser.parse_args()
    pure_rule()
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            await database(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", "sqlite", args.bookings, args.races)
    if args.db in ("postgresql", "both"):
        server, stop = postgres_url(args.postgres_url)
        name = f"bench_{uuid.uuid4().hex[:8]}"
        try:
            await _admin(server, f'CREATE DATABASE "{name}"')
            await database(_with_db(server, name), "postgresql", args.bookings, args.races)
        finally:
            await _drop_database(server, name)
            stop()


if __name__ == "__main__":
    asyncio.run(main())
