"""The chat's write path alone: one message per transaction (the paced case), or
batches of ``--batch`` messages (the saturated case).

    .venv/bin/python bench/chat_write_path.py --db both [--messages 400] [--batch 50]

At a paced rate (100 clients, one message a second each) messages rarely arrive together,
so each is its own group-commit batch. This times the exchange writer in-process (no
websockets), one message after another, and prints per message: the statements the
transaction sends, the process CPU (main thread plus aiosqlite's thread) and the main
thread's CPU, and the wall time. Encryption on (a master key), as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import event

from common import bench_database  # type: ignore[import-not-found]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecoach.actions.coaches import do_add_coach  # noqa: E402
from ecoach.actions.crisis_chat import with_crisis_check  # noqa: E402
from ecoach.actions.engagements import do_create_engagement  # noqa: E402
from ecoach.actions.exchange_writer import ExchangeWriter  # noqa: E402
from ecoach.actions.exchanges import NewExchange  # noqa: E402
from ecoach.core.clock import FixedClock  # noqa: E402
from ecoach.core.crypto import MasterKeys, new_master_key  # noqa: E402
from ecoach.logbook.agreement_cache import AgreementCache  # noqa: E402
from ecoach.logbook.db import create_engine, migrate, session_factory  # noqa: E402
from ecoach.logbook.keyring import Keyring  # noqa: E402
from ecoach.settings import Settings  # noqa: E402


async def measure(url: str, messages: int, batch: int = 1) -> None:
    engine = create_engine(url)
    await migrate(engine)
    # As in the server: policies and calendars kept in the process (logbook/agreement_cache.py).
    sessions = session_factory(engine, None, Keyring(MasterKeys([new_master_key("bench")])), AgreementCache())
    clock = FixedClock(datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc))  # a Monday morning: working time
    async with sessions() as session:
        coach = await do_add_coach(session, name="Bench Coach", email="bench@example.org", password="bench password 1",
                                   language="nl", time_zone="Europe/Amsterdam", now=clock.now())
        engagement_ids = [(await do_create_engagement(session, coach, coachee_name=f"Sanne {n}", now=clock.now())).engagement.id
                          for n in range(batch)]
        await session.commit()
    statements = [0]
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *_: statements.__setitem__(0, statements[0] + 1))
    writer = ExchangeWriter(sessions, clock, after_record=with_crisis_check(Settings(database_url=url), None))
    writer.start()

    async def one(i: int) -> None:
        # ``batch`` coachees write at once (the saturated case): one group-commit batch.
        await asyncio.gather(*(
            writer.submit(NewExchange(engagement_id, "chat", "in", "coachee", f"Sanne {n}", f"Hallo, bericht {i} van {n}",
                                      f"chat:bench-{i:08d}"))
            for n, engagement_id in enumerate(engagement_ids)))

    rounds = max(1, messages // batch)
    for i in range(20):  # warm: keys cached, statements compiled and prepared
        await one(i)
    statements[0] = 0
    cpu, main, wall = time.process_time(), time.thread_time(), time.perf_counter()
    for i in range(20, 20 + rounds):
        await one(i)
    messages = rounds * batch
    cpu, main, wall = (time.process_time() - cpu, time.thread_time() - main, time.perf_counter() - wall)
    await writer.stop()
    await engine.dispose()
    us = 1e6 / messages
    print(f"  {url.split('+')[0]:<10}  statements {statements[0] / messages:.2f} per message (plus BEGIN/COMMIT)   "
          f"CPU {cpu * us:.0f} µs/msg (main thread {main * us:.0f})   wall {wall * us:.0f} µs/msg", flush=True)


async def run(args: argparse.Namespace) -> None:
    per = "one per transaction" if args.batch == 1 else f"{args.batch} per transaction (from as many coachees)"
    print(f"{args.messages} chat messages, {per} (encryption on):")
    for backend in (["sqlite", "postgresql"] if args.db == "both" else [args.db]):
        async with bench_database(backend, "ecoach_bench_write_path", args.database_url) as url:
            await measure(url, args.messages, args.batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--database-url", help="an existing PostgreSQL server (postgresql+asyncpg://.../postgres)")
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--batch", type=int, default=1, help="messages per group-commit batch, each from its own "
                        "coachee (the saturated chat: about 50 at 100 clients)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
