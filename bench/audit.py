"""The audit trail's costs: what one appended entry adds to a transaction, appends from
concurrent writers, ``ecoach audit verify`` over a million entries, and the trail page's
query at that size.

    .venv/bin/python bench/audit.py --db both [--entries 1000000] [--appends 2000]

1. Append: ``--appends`` units of work that each make one small change (a session's
   ``last_seen_at``), first alone, then with one audit entry each; the difference is the
   cost of an entry (the head row's lock, the hash, the insert). Then the same with 8
   concurrent writers, whose appends take turns on the head row.
2. Verify: a valid chain of ``--entries`` entries is bulk-loaded (hashes computed here, as
   the writer would), then ``verify_chain`` checks every link, in batches.
3. The trail page at that size: one coach's newest 51 entries, and filtered by kind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, text, update

from common import bench_database, summary  # type: ignore[import-not-found]
from ecoach.actions.audit import Origin, acting, record_audit
from ecoach.actions.unit import unit_of_work
from ecoach.core.audit import GROUPS, Entry, entry_hash
from ecoach.logbook.account_models import AuthSession
from ecoach.logbook.audit_chain import verify_chain
from ecoach.logbook.audit_queries import TrailFilter, get_trail
from ecoach.logbook.db import create_engine, migrate, session_factory
from ecoach.logbook.models import Coach

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
COACHES = 200
KINDS = ("engagement_viewed", "search", "login", "session_ended", "chat_link_created", "attachment_viewed",
         "commitments_changed", "login_failed")
WRITERS = 8


async def prepare(url: str) -> None:
    engine = create_engine(url)
    await migrate(engine)
    async with engine.begin() as conn:
        await conn.execute(insert(Coach), [dict(id=c, name=f"Coach {c}", email=f"c{c}@bench.local", password_hash="x",
                                                language="nl", time_zone="Europe/Amsterdam", created_at=NOW)
                                           for c in range(1, COACHES + 1)])
        await conn.execute(insert(AuthSession), [dict(id=c, coach_id=c, token_hash=f"{c:064d}", stage="full",
                                                      created_at=NOW, last_seen_at=NOW, expires_at=NOW, client="",
                                                      user_agent="") for c in range(1, COACHES + 1)])
    await engine.dispose()


async def one_change(sessions, i: int, audited: bool) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    async with unit_of_work(sessions) as session:
        coach = 1 + i % COACHES
        at = NOW + timedelta(seconds=i)
        await session.execute(update(AuthSession).where(AuthSession.id == coach).values(last_seen_at=at))
        if audited:
            record_audit(session, "engagement_viewed", coach_id=coach, actor_id=coach, engagement_id=i, now=at)
    return (time.perf_counter() - started) * 1000


async def measure_appends(url: str, count: int) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    with acting(Origin(via="web", client="192.0.2.1", device="Firefox / Linux")):
        results = {}
        for audited in (False, True, False, True):  # twice each, interleaved: the second round counts
            results[audited] = [await one_change(sessions, i, audited) for i in range(count)]
        plain, with_entry = results[False], results[True]
        mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
        print(f"  one change per transaction, alone:        {summary(plain)}")
        print(f"  the same plus one audit entry:            {summary(with_entry)}")
        print(f"  cost of one appended entry: {mean(with_entry) - mean(plain):+.3f} ms per transaction (mean)")
        for audited in (False, True):
            started = time.perf_counter()
            per = count // WRITERS

            async def writer(w: int, audited: bool = audited) -> None:
                for i in range(per):
                    await one_change(sessions, w * per + i, audited)

            await asyncio.gather(*(writer(w) for w in range(WRITERS)))
            rate = per * WRITERS / (time.perf_counter() - started)
            print(f"  {WRITERS} concurrent writers, {'with' if audited else 'without'} an entry each: {rate:,.0f} "
                  "transactions/s")
    async with sessions() as session:
        verdict = await verify_chain(session)
    assert verdict.ok, verdict
    await engine.dispose()


def chain(start_seq: int, start_hash: str, count: int, seed: int = 7):  # type: ignore[no-untyped-def]
    """``count`` entries continuing a chain, as rows of (fields..., prev_hash, hash)."""
    rnd = random.Random(seed)
    prev = start_hash
    for seq in range(start_seq + 1, start_seq + count + 1):
        coach = rnd.randint(1, COACHES)
        kind = rnd.choice(KINDS)
        detail = {"results": rnd.randint(0, 40)} if kind == "search" else {}
        at = NOW + timedelta(seconds=seq, microseconds=rnd.randint(0, 999_999))
        entry = Entry(seq=seq, at=at, kind=kind, actor_id=coach, coach_id=coach,
                      engagement_id=rnd.randint(1, 50_000) if kind.endswith("viewed") else None, detail=detail,
                      via="web", client=f"192.0.2.{coach % 250}", device="Firefox / Linux")
        digest = entry_hash(entry, prev)
        yield entry, prev, digest
        prev = digest


async def load_chain(url: str, count: int) -> None:
    """A valid chain after what the append round wrote, loaded in bulk (COPY on PostgreSQL)."""
    engine = create_engine(url)
    async with engine.connect() as conn:
        head = (await conn.execute(text("SELECT seq, hash FROM audit_head"))).one()
    started = time.perf_counter()
    rows = list(chain(int(head.seq), str(head.hash), count))
    made = time.perf_counter() - started
    last_seq, last_hash = rows[-1][0].seq, rows[-1][2]
    if url.startswith("sqlite"):
        await engine.dispose()
        _load_sqlite(url.split("///", 1)[1], rows, last_seq, last_hash)
    else:
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            await raw.copy_records_to_table("audit_entry", columns=_COLUMNS, records=(
                (e.seq, e.at, e.kind, e.actor_id, e.coach_id, e.engagement_id, json.dumps(e.detail), e.via, e.client,
                 e.device, prev, digest) for e, prev, digest in rows))
            await raw.execute("UPDATE audit_head SET seq = $1, hash = $2", last_seq, last_hash)
            await raw.execute("ANALYZE audit_entry")
        await engine.dispose()
    print(f"  loaded {count:,} chained entries ({made:.1f} s to hash them, {time.perf_counter() - started - made:.1f} s "
          "to store)")


_COLUMNS = ["seq", "at", "kind", "actor_id", "coach_id", "engagement_id", "detail", "via", "client", "device",
            "prev_hash", "hash"]


def _load_sqlite(path: str, rows, last_seq: int, last_hash: str) -> None:  # type: ignore[no-untyped-def]
    conn = sqlite3.connect(path)
    try:
        conn.executemany(
            f"INSERT INTO audit_entry ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
            ((e.seq, e.at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f"), e.kind, e.actor_id, e.coach_id,
              e.engagement_id, json.dumps(e.detail), e.via, e.client, e.device, prev, digest) for e, prev, digest in rows))
        conn.execute("UPDATE audit_head SET seq = ?, hash = ?", (last_seq, last_hash))
        conn.execute("ANALYZE")
        conn.commit()
    finally:
        conn.close()


async def measure_verify_and_page(url: str, rounds: int) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    started = time.perf_counter()
    async with sessions() as session:
        verdict = await verify_chain(session)
    seconds = time.perf_counter() - started
    assert verdict.ok, verdict
    print(f"  verify_chain: {verdict.checked:,} entries in {seconds:.1f} s "
          f"({verdict.checked / seconds:,.0f} entries/s), intact")
    for label, given in (("newest page of one coach", TrailFilter()),
                         ("one coach, kind 'search'", TrailFilter(kinds=GROUPS["search"])),
                         ("one coach, one day", TrailFilter(since=NOW + timedelta(days=5), until=NOW + timedelta(days=6)))):
        times = []
        async with sessions() as session:
            for _ in range(rounds):
                t0 = time.perf_counter()
                found = await get_trail(session, 7, given, limit=51)
                times.append((time.perf_counter() - t0) * 1000)
        print(f"  trail page, {label} ({len(found)} rows): {summary(times)}")
    await engine.dispose()


async def run(backend: str, args: argparse.Namespace) -> None:
    async with bench_database(backend, "ecoach_bench_audit", args.postgres_url) as url:
        await prepare(url)
        await measure_appends(url, args.appends)
        await load_chain(url, args.entries)
        await measure_verify_and_page(url, args.rounds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    for backend in ("sqlite", "postgresql"):
        if args.db in (backend, "both"):
            print("SQLite" if backend == "sqlite" else "PostgreSQL")
            asyncio.run(run(backend, args))


if __name__ == "__main__":
    main()
