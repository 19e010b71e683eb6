"""One claim tick of the task runner and the inbox due-sort, at scale:
1,000,000 pending tasks and 100,000 open commitments.

    .venv/bin/python bench/scheduler_tick.py --db both

Builds the database through the real migrations (every index), bulk-loads 20,000
engagements of 20 coaches (coach 1 has half), 5 open commitments each (with their inbound
exchanges and each engagement's ``next_due_at``) and 1,000,000 pending tasks, 2,000 of
them due. Then times, each in a transaction that is rolled back so every round sees the
same data:
- one claim tick: ``claim_due_tasks`` leasing a batch of 50 due tasks;
- the inbox due-sort: ``get_inbox`` for coach 1 (10,000 engagements), first page;
- an engagement's open commitments (what the reminder/breach handler reads);
- the write path: ``record_exchanges`` of 50 exchanges for 50 engagements of many coaches:
  auto-submitted mail (inbox summaries only: the baseline); inbound chat (agreements and
  calendars read, due times computed in working time, one INSERT, one UPDATE of
  next_due_at, one planning task); answers (one UPDATE fulfilling, one of next_due_at).
And prints the query plans of the claim and the inbox query.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from datetime import datetime, timedelta, timezone

import asyncpg
from sqlalchemy import insert, select, text

from common import bench_database, bench_keyring, plain_rows, summary  # type: ignore[import-not-found]
from ecoach.actions.exchanges import NewExchange, record_exchanges
from ecoach.logbook import queries
from ecoach.logbook.availability_models import Commitment
from ecoach.logbook.db import create_engine, migrate, session_factory
from ecoach.logbook.models import Coach, Coachee, Engagement, Exchange
from ecoach.logbook.task_models import Task
from ecoach.logbook.task_leases import claim_due_tasks

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
T0 = NOW - timedelta(days=30)


def generate(engagements: int, per: int, tasks: int, due: int, coaches: int, seed: int = 11):  # type: ignore[no-untyped-def]
    rnd = random.Random(seed)
    coach_rows = [dict(id=c + 1, name=f"Coach {c}", email=f"coach{c}@bench.local", password_hash="x",
                       language="nl", time_zone="Europe/Amsterdam", created_at=T0) for c in range(coaches)]
    owner = [1 if e % 2 == 0 else 2 + e % (coaches - 1) for e in range(engagements)]
    coachees, engs, exchanges, commitments = [], [], [], []
    for e in range(engagements):
        eid = e + 1
        coachees.append(dict(id=eid, coach_id=owner[e], name=f"Coachee {eid}", email=None, language="nl",
                             created_at=T0))
        received = NOW - timedelta(minutes=rnd.randint(60, 60 * 24 * 6))
        first_due, first_in = None, None
        for n in range(per):
            xid = e * per + n + 1
            at = received + timedelta(minutes=10 * n)
            due_at = at + timedelta(hours=rnd.randint(2, 60))
            exchanges.append(dict(id=xid, engagement_id=eid, channel="chat", direction="in", author="coachee",
                                  author_name="x", body_text="vraag", body_html="<p>vraag</p>", created_at=at,
                                  external_id=f"b:{xid}", delivery_state="stored"))
            commitments.append(dict(id=xid, engagement_id=eid, coach_id=owner[e], exchange_id=xid, channel="chat",
                                    received_at=at, due_at=due_at, state="open"))
            first_due = min(first_due or due_at, due_at)
            first_in = first_in or at
        engs.append(dict(id=eid, coach_id=owner[e], coachee_id=eid, language="nl", time_zone="Europe/Amsterdam",
                         status="active", created_at=T0, last_exchange_id=e * per + per,
                         last_exchange_at=received + timedelta(minutes=10 * (per - 1)), last_channel="chat",
                         last_direction="in", last_snippet="vraag", last_inbound_channel="chat",
                         waiting_since=first_in, unread_count=per, next_due_at=first_due))
    task_rows = []
    for t in range(tasks):
        run_at = (NOW - timedelta(seconds=rnd.randint(1, 3600)) if t < due
                  else NOW + timedelta(seconds=rnd.randint(60, 60 * 60 * 24 * 60)))
        task_rows.append(dict(id=t + 1, name="commitments.check", params={"engagement_id": t % engagements + 1},
                              key=f"bench:{t}" if t % 2 else None, status="pending", due_at=run_at, run_at=run_at,
                              attempts=0, created_at=T0))
    return [(Coach, coach_rows), (Coachee, coachees), (Engagement, engs), (Exchange, exchanges),
            (Commitment, commitments), (Task, task_rows)]


async def load(url: str, data) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    engine = create_engine(url)
    await migrate(engine)
    if url.startswith("postgresql"):
        await engine.dispose()
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        import json
        for model, rows in data:
            columns = list(rows[0])
            records = [tuple(json.dumps(v) if isinstance(v, dict) else v for v in (r[c] for c in columns))
                       for r in rows]
            await conn.copy_records_to_table(model.__tablename__, records=records, columns=columns)
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{model.__tablename__}', 'id'), "
                               f"(SELECT max(id) FROM {model.__tablename__}))")
        await conn.execute("ANALYZE")
        await conn.close()
    else:
        async with engine.begin() as conn:
            for model, rows in data:
                for start in range(0, len(rows), 20_000):
                    await conn.execute(insert(model), plain_rows(model, rows[start:start + 20_000]))
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
        await engine.dispose()
    return time.perf_counter() - started


async def timed(sessions, rounds: int, work) -> list[float]:  # type: ignore[no-untyped-def]
    values = []
    for n in range(rounds + 3):
        async with sessions() as session:
            t = time.perf_counter()
            await work(session, n)
            elapsed = (time.perf_counter() - t) * 1000
            await session.rollback()
        if n >= 3:  # the first rounds warm the caches
            values.append(elapsed)
    return values


async def measure(url: str, engagements: int, rounds: int, tasks: int, due: int) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine, None, bench_keyring())
    rnd = random.Random(5)

    async def tick(session, n):  # type: ignore[no-untyped-def]
        claimed = await claim_due_tasks(session, NOW, 300, 50, "bench")
        assert len(claimed) == 50, len(claimed)

    async def inbox(session, n):  # type: ignore[no-untyped-def]
        rows = await queries.get_inbox(session, 1, limit=50)
        assert rows[0].engagement.next_due_at is not None

    async def open_commitments(session, n):  # type: ignore[no-untyped-def]
        stmt = (select(Commitment).where(Commitment.engagement_id == rnd.randint(1, engagements),
                                         Commitment.state == "open").order_by(Commitment.due_at))
        assert len((await session.execute(stmt)).scalars().all()) > 0

    def writer(direction: str, channel: str):  # type: ignore[no-untyped-def]
        async def write(session, n):  # type: ignore[no-untyped-def]
            ids = rnd.sample(range(1, engagements + 1), 50)
            # Auto-submitted mail updates the inbox summary like any inbound, but needs no answer.
            meta = {"auto_submitted": True} if channel == "mail" else None
            items = [NewExchange(engagement_id=eid, channel=channel, direction=direction,
                                 author="coachee" if direction == "in" else "coach", author_name="x",
                                 text="nog een vraag", external_id=f"{channel}:{uuid.uuid4().hex}", meta=meta)
                     for eid in ids]
            await record_exchanges(session, items, NOW)
        return write

    writes = max(20, rounds // 4)
    results = {
        f"claim tick (50 of {due:,} due, {tasks:,} pending)": await timed(sessions, rounds, tick),
        f"inbox due-sort (coach 1, {engagements // 2:,} engagements)": await timed(sessions, rounds, inbox),
        "open commitments of one engagement": await timed(sessions, rounds, open_commitments),
        "record_exchanges: 50 auto-submitted mail (baseline)": await timed(sessions, writes, writer("in", "mail")),
        "record_exchanges: 50 inbound chat (new commitments)": await timed(sessions, writes, writer("in", "chat")),
        "record_exchanges: 50 answers (fulfilment)": await timed(sessions, writes, writer("out", "chat")),
    }
    for name, values in results.items():
        print(f"  {name:50s} {summary(values)}")
    await plans(engine)
    await engine.dispose()


async def plans(engine) -> None:  # type: ignore[no-untyped-def]
    explain = "EXPLAIN QUERY PLAN " if engine.url.get_backend_name() == "sqlite" else "EXPLAIN "
    async with engine.connect() as conn:
        for name, stmt in (
            ("claim", select(Task.id).where(Task.run_at <= NOW).order_by(Task.run_at).limit(50)),
            ("inbox", queries._inbox_order(select(Engagement.id).where(
                Engagement.coach_id == 1, Engagement.status.in_(["active", "paused"]))).limit(50)),
        ):
            compiled = str(stmt.compile(engine.sync_engine, compile_kwargs={"literal_binds": True}))
            rows = (await conn.execute(text(explain + compiled))).all()
            print(f"  {name} plan: " + " | ".join(str(row[-1]).strip() for row in rows))


async def run(args: argparse.Namespace) -> None:
    print(f"generating {args.engagements:,} engagements x {args.per} open commitments, "
          f"{args.tasks:,} pending tasks ({args.due:,} due) ...", flush=True)
    data = generate(args.engagements, args.per, args.tasks, args.due, args.coaches)
    for backend in (["sqlite", "postgresql"] if args.db == "both" else [args.db]):
        async with bench_database(backend, "ecoach_tick_bench", args.database_url) as url:
            seconds = await load(url, data)
            print(f"\n{backend}: loaded in {seconds:.1f} s", flush=True)
            await measure(url, args.engagements, args.rounds, args.tasks, args.due)
    print("\ntarget: a few milliseconds for the claim tick and the inbox due-sort (index scans, no sort)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--database-url", help="an existing PostgreSQL server (postgresql+asyncpg://.../postgres)")
    parser.add_argument("--engagements", type=int, default=20_000)
    parser.add_argument("--per", type=int, default=5, help="open commitments per engagement")
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=2_000)
    parser.add_argument("--coaches", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=200)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
