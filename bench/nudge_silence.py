"""The re-engagement check's query at scale: which engagements have been silent too long?

    .venv/bin/python bench/nudge_silence.py --db both [--engagements 100000]

Builds the schema through the real migrations, bulk-loads engagements (a fifth of them
quiet for longer than their limit, some of those kept "busy" only by our own weekly
nudges) with nudge plans for half of them, then times ``find_silent`` (one statement, two
index ranges) and prints the database's plan for it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, text

from common import bench_keyring, plain_rows, postgres_url, summary  # type: ignore[import-not-found]
from ecoach.logbook.db import create_engine, migrate, session_factory
from ecoach.logbook.models import Coach, Coachee, Engagement
from ecoach.logbook.nudge_models import NudgePlan
from ecoach.logbook.nudge_queries import _silent_statement, find_silent, get_shortest_silence

NOW = datetime(2026, 11, 25, 9, 40, tzinfo=timezone.utc)
COACHES = 200


def generate(count: int, seed: int = 7):  # type: ignore[no-untyped-def]
    rnd = random.Random(seed)
    coachees, engagements, plans = [], [], []
    for n in range(1, count + 1):
        coach = 1 + n % COACHES
        coachees.append(dict(id=n, coach_id=coach, name=f"C{n}", email=None, language="nl", created_at=NOW))
        quiet = rnd.random() < 0.2
        last_at = NOW - timedelta(days=rnd.uniform(15, 60) if quiet else rnd.uniform(0, 13))
        status = "active" if rnd.random() < 0.9 else rnd.choice(("paused", "closed"))
        waiting = last_at if rnd.random() < 0.2 else None
        engagements.append(dict(id=n, coach_id=coach, coachee_id=n, language="nl", time_zone="Europe/Amsterdam",
                                status=status, created_at=NOW - timedelta(days=90), last_exchange_id=n,
                                last_exchange_at=last_at, waiting_since=waiting, unread_count=0))
        if n % 2 == 0:
            ours = rnd.random() < 0.4  # the last exchange is one of our nudges
            plans.append(dict(
                engagement_id=n, enabled=True, cadence="weekly", weekdays="0", time_of_day="09:00", every_days=7,
                channel="chat", templates={}, silence_days=rnd.choice((14, 14, 14, 21)),
                last_nudge_exchange_id=n if ours else None,
                activity_at=last_at - timedelta(days=rnd.uniform(0, 30)) if ours else None,
                created_at=NOW, updated_at=NOW))
    return coachees, engagements, plans


async def measure(url: str, count: int, rounds: int) -> None:
    engine = create_engine(url)
    await migrate(engine)
    coachees, engagements, plans = generate(count)
    started = time.perf_counter()
    async with engine.begin() as conn:
        await conn.execute(insert(Coach), [dict(id=c, name=f"Coach {c}", email=f"c{c}@bench.local", password_hash="x",
                                                language="nl", time_zone="Europe/Amsterdam", created_at=NOW)
                                           for c in range(1, COACHES + 1)])
        for table, rows in ((Coachee, coachees), (Engagement, engagements), (NudgePlan, plans)):
            for i in range(0, len(rows), 5000):
                await conn.execute(insert(table), plain_rows(table, rows[i:i + 5000]))
        await conn.execute(text("ANALYZE"))
    print(f"  loaded {count:,} engagements, {len(plans):,} plans in {time.perf_counter() - started:.1f} s")
    sessions = session_factory(engine, None, bench_keyring())
    times = []
    async with sessions() as session:
        found = await find_silent(session, NOW, 14, 500)
        for _ in range(rounds):
            t0 = time.perf_counter()
            await find_silent(session, NOW, 14, 500)
            times.append((time.perf_counter() - t0) * 1000)
        stmt = _silent_statement(session, NOW, 14, await get_shortest_silence(session, 14), 500)
        compiled = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        explain = "EXPLAIN QUERY PLAN " if url.startswith("sqlite") else "EXPLAIN "
        plan = [" ".join(str(c) for c in row) for row in await session.execute(text(explain + str(compiled)))]
    print(f"  find_silent (first 500 of the silent ones, {len(found)} returned): {summary(times)}")
    print("  plan:\n    " + "\n    ".join(plan))
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--engagements", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            print("SQLite")
            asyncio.run(measure(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", args.engagements, args.rounds))
    if args.db in ("postgresql", "both"):
        url, stop = postgres_url(args.postgres_url)
        try:
            print("PostgreSQL")
            asyncio.run(measure(url, args.engagements, args.rounds))
        finally:
            stop()


if __name__ == "__main__":
    main()
