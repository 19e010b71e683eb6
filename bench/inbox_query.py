"""Inbox and timeline queries at scale: 10,000 engagements, 1,000,000 exchanges.

    .venv/bin/python bench/inbox_query.py --db both [--encryption both|on|off] [--http]
    .venv/bin/python bench/inbox_query.py --db postgresql --engagements 100000 --exchanges 10000000 --http

Builds the database through the real migrations (indexes, FTS triggers), bulk-loads
consistent data (each engagement's inbox summary matches its exchanges), then times the
queries the pages run: the inbox list of the biggest coach, one timeline page, searches.

With ``--encryption both`` (the default) each backend is loaded twice: sealed as ecoach
stores it with a master key (a data key per engagement and per coachee, search tokens
under the search key), and in plaintext mode; the queries open what they read.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from datetime import datetime, timedelta, timezone

import asyncpg
from sqlalchemy import insert, text

from common import bench_database, summary  # type: ignore[import-not-found]
from ecoach.core.crypto import PLAIN_KEY, DataKey, MasterKeys, new_master_key, text_tokens
from ecoach.logbook import group_queries, queries
from ecoach.logbook.db import create_engine, migrate, session_factory
from ecoach.logbook.key_models import DataKeyRecord, DataKeyWrap, PracticeKey
from ecoach.logbook.keyring import Keyring
from ecoach.logbook.models import Coach, Coachee, Engagement, Exchange

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
WORDS = ("doel", "stap", "gesprek", "werk", "energie", "grens", "feedback", "rust", "plan", "moed",
         "goal", "step", "meeting", "focus", "habit", "energy", "boundary", "calm", "review", "team")


def generate(engagements: int, exchanges: int, coaches: int, seed: int = 7):  # type: ignore[no-untyped-def]
    """Yields each engagement's (coachee, engagement, exchanges) rows, one engagement at a
    time (10,000,000 exchanges do not fit in memory); the same seed yields the same rows."""
    rnd = random.Random(seed)
    per = exchanges // engagements
    # Coach 1 owns half of everything (the heavy inbox); the rest spread over the others.
    owner = [1 if e % 2 == 0 or coaches == 1 else 2 + e % (coaches - 1) for e in range(engagements)]
    next_id = 1
    for e in range(engagements):
        eid = e + 1
        coachee_row = dict(id=eid, coach_id=owner[e], name=f"Coachee {eid}", email=None, language="nl", created_at=T0)
        at = T0 + timedelta(minutes=rnd.randint(0, 60 * 24 * 300))
        waiting, unread, last, exchange_rows = None, 0, None, []
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
        engagement_row = dict(
            id=eid, coach_id=owner[e], coachee_id=eid, language="nl", time_zone="Europe/Amsterdam",
            status="active", created_at=T0, last_exchange_id=last[0], last_exchange_at=last[1],
            last_channel="chat", last_direction=last[2], last_snippet=last[3][:200],
            last_inbound_channel="chat", waiting_since=waiting, unread_count=unread)
        yield coachee_row, engagement_row, exchange_rows


def coach_rows(coaches: int) -> list[dict]:  # type: ignore[type-arg]
    return [dict(id=c + 1, name=f"Coach {c}", email=f"coach{c}@bench.local", password_hash="x",
                 language="nl", time_zone="Europe/Amsterdam", created_at=T0) for c in range(coaches)]


class Sealed:
    """The rows as ecoach stores them (database column names): personal fields sealed with a
    data key per engagement and per coachee (or plaintext mode's form), search tokens, and
    the keyring's own rows. The coachees, engagements and keys are kept (100,000s of rows);
    the exchanges are sealed as they stream past (``exchanges()``), generated a second time."""

    def __init__(self, args: argparse.Namespace, masters: MasterKeys | None) -> None:
        self.args, self.masters = args, masters
        count = args.engagements
        self.key_rows: list[dict] = []  # type: ignore[type-arg]
        self.wrap_rows: list[dict] = []  # type: ignore[type-arg]
        self.practice_rows: list[dict] = []  # type: ignore[type-arg]
        self.by_engagement: dict[int, DataKey] = {}
        self.search = self._key(2 * count + 1, "search")
        if masters is not None:
            self.practice_rows.append(dict(purpose="search", data_key_id=2 * count + 1))
        self.coachees, self.engagements = [], []
        for coachee, engagement, _ in self._rows():
            k = self._key(count + coachee["id"], "coachee")
            self.coachees.append({**coachee, "name": k.seal("coachee.name", "text", coachee["name"]),
                                  "data_key_id": k.id or None})
            k = self.by_engagement[engagement["id"]] = self._key(engagement["id"], "engagement")
            self.engagements.append({**engagement, "data_key_id": k.id or None,
                                     "last_snippet": k.seal("engagement.last_snippet", "text", engagement["last_snippet"])})

    def _rows(self):  # type: ignore[no-untyped-def]
        return generate(self.args.engagements, self.args.exchanges, self.args.coaches)

    def _key(self, key_id: int, kind: str) -> DataKey:
        if self.masters is None:
            return PLAIN_KEY
        secret = os.urandom(32)
        master, wrapped = self.masters.wrap(key_id, secret)
        self.key_rows.append(dict(id=key_id, kind=kind, created_at=T0))
        self.wrap_rows.append(dict(data_key_id=key_id, master_key_id=master, wrapped=wrapped, created_at=T0))
        return DataKey(key_id, secret)

    def exchanges(self):  # type: ignore[no-untyped-def]
        for _, _, rows in self._rows():
            for row in rows:
                k = self.by_engagement[row["engagement_id"]]
                yield {**row, **{f: k.seal(f"exchange.{f}", "text", row[f]) for f in ("author_name", "body_text", "body_html")},
                       "search_tokens": text_tokens(self.search, row["body_text"])}

    def tables(self):  # type: ignore[no-untyped-def]
        """(model, rows) in foreign-key order; the exchanges last, as a generator."""
        return [(DataKeyRecord, self.key_rows), (Coach, coach_rows(self.args.coaches)), (DataKeyWrap, self.wrap_rows),
                (PracticeKey, self.practice_rows), (Coachee, self.coachees), (Engagement, self.engagements),
                (Exchange, self.exchanges())]


def _chunks(rows, size: int):  # type: ignore[no-untyped-def]
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def load(url: str, sealed: Sealed) -> float:
    started = time.perf_counter()
    engine = create_engine(url)
    await migrate(engine)
    tables = sealed.tables()
    if url.startswith("postgresql"):
        await engine.dispose()
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        for model, rows in tables:
            records = _records(rows)
            first = await anext(records, None)
            if first is None:
                continue
            names, row = first
            # Streamed: COPY takes the records as they are sealed, never a list of them all.
            await conn.copy_records_to_table(model.__tablename__, records=_prepend(row, records), columns=names)
        for model, _ in tables:
            if "id" in model.__table__.c:
                await conn.execute(f"SELECT setval(pg_get_serial_sequence('{model.__tablename__}', 'id'), "
                                   f"(SELECT max(id) FROM {model.__tablename__}))")
        await conn.execute("ANALYZE")
        await conn.close()
    else:
        async with engine.begin() as conn:
            for model, rows in tables:
                for chunk in _chunks(rows, 50_000):
                    keyed = [{model.__table__.c[name].key if name in model.__table__.c else _key(model, name): v
                              for name, v in row.items()} for row in chunk]
                    await conn.execute(insert(model.__table__), keyed)
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
        await engine.dispose()
    return time.perf_counter() - started


async def _records(rows):  # type: ignore[no-untyped-def]
    """(column names, tuple) per row; the names are the first row's keys."""
    names = None
    for n, row in enumerate(rows):
        names = names or list(row)
        yield names, tuple(row[c] for c in names)
        if n % 10_000 == 9_999:
            await asyncio.sleep(0)


async def _prepend(row, records):  # type: ignore[no-untyped-def]
    yield row
    async for _, rest in records:
        yield rest


def _key(model, name: str) -> str:  # type: ignore[no-untyped-def]
    """The Core key of a database column (a sealed column's key is <name>_sealed)."""
    return next(c.key for c in model.__table__.c if c.name == name)


async def measure(url: str, engagements: int, rounds: int, masters: MasterKeys | None) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine, None, Keyring(masters))
    rnd = random.Random(3)
    timings: dict[str, list[float]] = {"inbox (coach with 50% of engagements)": [], "timeline page (100)": [],
                                       "inbox page 5 (offset 250)": [], "inbox, no key in memory yet": [],
                                       "search 'gesprek'": [], "search 'feedback' (checked in the text)": [],
                                       "unread groups (a coach without groups)": []}
    async with sessions() as session:
        for _ in range(5):  # warm the caches
            await queries.get_inbox(session, 1, limit=50)
        for _ in range(rounds):
            t = time.perf_counter()
            rows = await queries.get_inbox(session, 1, limit=50)
            shown = [(r.coachee_name, r.engagement.last_snippet) for r in rows]  # what the page shows
            timings["inbox (coach with 50% of engagements)"].append((time.perf_counter() - t) * 1000)
            assert len(shown) == len(rows)
            t = time.perf_counter()
            await queries.get_inbox(session, 1, limit=50, offset=250)
            timings["inbox page 5 (offset 250)"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            page = await queries.get_timeline(session, rnd.randint(1, engagements), limit=100)
            shown = [(x.author_name, x.body_text, x.body_html) for x in page]  # what the page shows
            timings["timeline page (100)"].append((time.perf_counter() - t) * 1000)
            assert len(shown) == len(page)
            t = time.perf_counter()  # the inbox's second query (web/inbox.py): groups with unread messages
            assert await group_queries.get_unread_groups(session, 1) == []
            timings["unread groups (a coach without groups)"].append((time.perf_counter() - t) * 1000)
        for _ in range(max(10, rounds // 10)):
            t = time.perf_counter()
            await queries.search_logbook(session, 1, rnd.choice(["gesprek", "energie", "focus"]))
            timings["search 'gesprek'"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await queries.search_logbook(session, 1, "feedback")
            timings["search 'feedback' (checked in the text)"].append((time.perf_counter() - t) * 1000)
    for _ in range(max(10, rounds // 10)):  # a process that just started: every key unwrapped once
        async with session_factory(engine, None, Keyring(masters))() as session:
            t = time.perf_counter()
            await queries.get_inbox(session, 1, limit=50)
            timings["inbox, no key in memory yet"].append((time.perf_counter() - t) * 1000)
    async with sessions() as session:
        for name, values in timings.items():
            print(f"  {name:42s} {summary(values)}")
        explain = "EXPLAIN QUERY PLAN " if url.startswith("sqlite") else "EXPLAIN "
        compiled = str(queries.inbox_statement(1).compile(engine.sync_engine, compile_kwargs={"literal_binds": True}))
        plan = (await session.execute(text(explain + compiled))).all()
        print("  inbox plan:   " + " | ".join(str(row[-1]) for row in plan))
        compiled = "SELECT id FROM exchange WHERE engagement_id = 42 ORDER BY id DESC LIMIT 100"
        plan = (await session.execute(text(explain + compiled))).all()
        print("  timeline plan: " + " | ".join(str(row[-1]) for row in plan))
        compiled = "SELECT id FROM coaching_group WHERE coach_id = 1 AND coach_unread > 0"
        plan = (await session.execute(text(explain + compiled))).all()
        print("  unread groups plan: " + " | ".join(str(row[-1]) for row in plan))
    await engine.dispose()


async def measure_http(url: str, master_line: str | None, rounds: int) -> None:
    """The inbox page as the coach gets it: a real ``ecoach serve`` on the loaded database,
    a logged-in coach 1 (the coach with half of all engagements), GET / again and again."""
    import re
    import sys
    import tempfile
    from pathlib import Path

    import aiohttp

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from ecoach.actions.passwords import hash_now
    from tests.server_process import ServerProcess

    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE coach SET password_hash = :h WHERE id = 1"), {"h": hash_now("bench password 1")})
        owned = (await conn.execute(text("SELECT count(*) FROM engagement WHERE coach_id = 1"))).scalar()
        email = (await conn.execute(text("SELECT email FROM coach WHERE id = 1"))).scalar()
    await engine.dispose()
    keys = {"ECOACH_MASTER_KEYS": master_line} if master_line else {"ECOACH_MASTER_KEYS": "", "ECOACH_ALLOW_PLAINTEXT": "true"}
    server = ServerProcess(Path(tempfile.mkdtemp(prefix="ecoach-inbox-")), url, ECOACH_AUTO_MIGRATE="false", **keys)
    server.start()
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            page = await (await http.get(server.url + "/login")).text()
            csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            response = await http.post(server.url + "/login", data={"_csrf": csrf, "email": email,
                                                                    "password": "bench password 1", "next": "/"})
            assert response.status == 200 and "/login" not in str(response.url), response.url
            timings = []
            for n in range(rounds + 5):
                t = time.perf_counter()
                response = await http.get(server.url + "/")
                body = await response.read()
                assert response.status == 200, response.status
                if n >= 5:  # after warming up
                    timings.append((time.perf_counter() - t) * 1000)
        print(f"  inbox page over HTTP ({owned:,} engagements, {len(body):,} bytes) {summary(timings)}  (target p95 < 50 ms)")
    finally:
        server.stop()


async def run(args: argparse.Namespace) -> None:
    print(f"{args.engagements:,} engagements, {args.exchanges:,} exchanges (generated and sealed while they load)",
          flush=True)
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    modes = ["on", "off"] if args.encryption == "both" else [args.encryption]
    for mode in modes:
        master = new_master_key("bench") if mode == "on" else None
        masters = MasterKeys([master]) if master else None
        started = time.perf_counter()
        sealed = Sealed(args, masters)
        print(f"\nencryption {mode}: keys, coachees and engagements sealed in {time.perf_counter() - started:.1f} s",
              flush=True)
        for backend in backends:
            async with bench_database(backend, f"ecoach_bench_{mode}", args.database_url) as url:
                seconds = await load(url, sealed)
                print(f"\n{backend}, encryption {mode}: loaded in {seconds:.1f} s", flush=True)
                await measure(url, args.engagements, args.rounds, masters)
                if args.http:
                    await measure_http(url, master.line() if master else None, args.rounds)
        del sealed
    print("\ntarget: p95 < 10 ms for the inbox and a timeline page (PostgreSQL at 100,000 engagements and "
          "10,000,000 exchanges); the inbox page over HTTP p95 < 50 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--database-url", help="an existing PostgreSQL server (postgresql+asyncpg://.../postgres)")
    parser.add_argument("--engagements", type=int, default=10_000)
    parser.add_argument("--exchanges", type=int, default=1_000_000)
    parser.add_argument("--coaches", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--encryption", choices=["both", "on", "off"], default="both",
                        help="load the data sealed (with a master key), in plaintext mode, or both")
    parser.add_argument("--http", action="store_true",
                        help="also time the rendered inbox page over HTTP (a real ecoach serve, coach 1 logged in)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
