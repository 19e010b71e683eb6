"""Inbox and timeline queries at scale: 10,000 engagements, 1,000,000 exchanges.

    .venv/bin/python bench/inbox_query.py --db both

Builds the database through the real migrations (indexes, FTS triggers), bulk-loads
consistent data (each engagement's inbox summary matches its exchanges), then times the
queries the pages run: the inbox list of the biggest coach, one timeline page, a search.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import datetime, timedelta, timezone

import asyncpg
from sqlalchemy import insert, text

from common import bench_database, summary  # type: ignore[import-not-found]
from ecoach.logbook import queries
from ecoach.logbook.db import create_engine, migrate, session_factory
from ecoach.logbook.models import Coach, Coachee, Engagement, Exchange

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
WORDS = ("doel", "stap", "gesprek", "werk", "energie", "grens", "feedback", "rust", "plan", "moed",
         "goal", "step", "meeting", "focus", "habit", "energy", "boundary", "calm", "review", "team")


def generate(engagements: int, exchanges: int, coaches: int, seed: int = 7):  # type: ignore[no-untyped-def]
    rnd = random.Random(seed)
    per = exchanges // engagements
    coach_rows = [dict(id=c + 1, name=f"Coach {c}", email=f"coach{c}@bench.local", password_hash="x",
                       language="nl", time_zone="Europe/Amsterdam", created_at=T0) for c in range(coaches)]
    # Coach 1 owns half of everything (the heavy inbox); the rest spread over the others.
    owner = [1 if e % 2 == 0 or coaches == 1 else 2 + e % (coaches - 1) for e in range(engagements)]
    coachee_rows, engagement_rows, exchange_rows = [], [], []
    next_id = 1
    for e in range(engagements):
        eid = e + 1
        coachee_rows.append(dict(id=eid, coach_id=owner[e], name=f"Coachee {eid}", email=None,
                                 language="nl", created_at=T0))
        at = T0 + timedelta(minutes=rnd.randint(0, 60 * 24 * 300))
        waiting, unread, last = None, 0, None
        for n in range(per):
            at += timedelta(minutes=rnd.randint(5, 600))
            direction = "in" if rnd.random() < 0.55 else "out"
            body = " ".join(rnd.choice(WORDS) for _ in range(12))
            exchange_rows.append(dict(id=next_id, engagement_id=eid, channel="chat", direction=direction,
                                      author="coachee" if direction == "in" else "coach", author_name="x",
                                      body_text=body, body_html=f"<p>{body}</p>", created_at=at,
                                      external_id=f"b:{next_id}", delivery_state="stored"))
            if direction == "in":
                waiting, unread = waiting or at, unread + 1
            else:
                waiting, unread = None, 0
            last = (next_id, at, direction, body)
            next_id += 1
        engagement_rows.append(dict(
            id=eid, coach_id=owner[e], coachee_id=eid, language="nl", time_zone="Europe/Amsterdam",
            status="active", created_at=T0, last_exchange_id=last[0], last_exchange_at=last[1],
            last_channel="chat", last_direction=last[2], last_snippet=last[3][:200],
            last_inbound_channel="chat", waiting_since=waiting, unread_count=unread))
    return coach_rows, coachee_rows, engagement_rows, exchange_rows


async def load(url: str, data) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    engine = create_engine(url)
    await migrate(engine)
    coach_rows, coachee_rows, engagement_rows, exchange_rows = data
    if url.startswith("postgresql"):
        await engine.dispose()
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        for table, rows in (("coach", coach_rows), ("coachee", coachee_rows),
                            ("engagement", engagement_rows), ("exchange", exchange_rows)):
            columns = list(rows[0])
            await conn.copy_records_to_table(table, records=[tuple(r[c] for c in columns) for r in rows],
                                             columns=columns)
        for table in ("coach", "coachee", "engagement", "exchange"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        await conn.execute("ANALYZE")
        await conn.close()
    else:
        async with engine.begin() as conn:
            for model, rows in ((Coach, coach_rows), (Coachee, coachee_rows), (Engagement, engagement_rows)):
                await conn.execute(insert(model), rows)
            for start in range(0, len(exchange_rows), 50_000):
                await conn.execute(insert(Exchange), exchange_rows[start:start + 50_000])
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
        await engine.dispose()
    return time.perf_counter() - started


async def measure(url: str, engagements: int, rounds: int) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    rnd = random.Random(3)
    timings: dict[str, list[float]] = {"inbox (coach with 50% of engagements)": [], "timeline page (100)": [],
                                       "inbox page 5 (offset 250)": [], "search 'gesprek'": []}
    async with sessions() as session:
        for _ in range(5):  # warm the caches
            await queries.get_inbox(session, 1, limit=50)
        for _ in range(rounds):
            t = time.perf_counter()
            await queries.get_inbox(session, 1, limit=50)
            timings["inbox (coach with 50% of engagements)"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await queries.get_inbox(session, 1, limit=50, offset=250)
            timings["inbox page 5 (offset 250)"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await queries.get_timeline(session, rnd.randint(1, engagements), limit=100)
            timings["timeline page (100)"].append((time.perf_counter() - t) * 1000)
        for _ in range(max(10, rounds // 10)):
            t = time.perf_counter()
            await queries.search_logbook(session, 1, rnd.choice(["gesprek", "energie", "focus"]))
            timings["search 'gesprek'"].append((time.perf_counter() - t) * 1000)
        for name, values in timings.items():
            print(f"  {name:40s} {summary(values)}")
        explain = "EXPLAIN QUERY PLAN " if url.startswith("sqlite") else "EXPLAIN "
        compiled = str(queries.inbox_statement(1).compile(engine.sync_engine, compile_kwargs={"literal_binds": True}))
        plan = (await session.execute(text(explain + compiled))).all()
        print("  inbox plan:   " + " | ".join(str(row[-1]) for row in plan))
        compiled = "SELECT id FROM exchange WHERE engagement_id = 42 ORDER BY id DESC LIMIT 100"
        plan = (await session.execute(text(explain + compiled))).all()
        print("  timeline plan: " + " | ".join(str(row[-1]) for row in plan))
    await engine.dispose()


async def run(args: argparse.Namespace) -> None:
    print(f"generating {args.engagements:,} engagements, {args.exchanges:,} exchanges ...", flush=True)
    data = generate(args.engagements, args.exchanges, args.coaches)
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for backend in backends:
        async with bench_database(backend, "ecoach_bench", args.database_url) as url:
            seconds = await load(url, data)
            print(f"\n{backend}: loaded in {seconds:.1f} s", flush=True)
            await measure(url, args.engagements, args.rounds)
    print("\ntarget: p95 < 20 ms for the inbox and a timeline page on both backends")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--database-url", help="an existing PostgreSQL server (postgresql+asyncpg://.../postgres)")
    parser.add_argument("--engagements", type=int, default=10_000)
    parser.add_argument("--exchanges", type=int, default=1_000_000)
    parser.add_argument("--coaches", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=200)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
