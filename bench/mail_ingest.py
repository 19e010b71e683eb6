"""IMAP ingest throughput and delivery-to-timeline latency, against a real Dovecot.

    .venv/bin/python bench/mail_ingest.py [--mails 2000] [--latency 50] [--db sqlite|postgresql]
                                          [--encryption both|on|off]

1. Throughput: ``--mails`` coachee mails wait in the mailbox. A bare aioimaplib loop FETCHes
   them in batches (and, as a second figure, also MOVEs each batch); then ecoach's
   ``ImapIngest`` takes the same mails in (parse, route, record in the logbook, commit with
   the folder position, then MOVE). mails/s of each and the ratio ecoach / bare; then the
   pipeline without IMAP (and its SQL statements per batch) and the parse step alone, to
   show where the time goes.
2. Latency under IDLE: with the reader idle, a mail is APPENDed; the time until its
   exchange is committed and published (the event the coach's inbox gets) is measured,
   one mail at a time.

Dovecot is the test suite's throwaway server (tests/dovecot.py); the database a fresh
SQLite file (or the test suite's throwaway PostgreSQL).

With ``--encryption both`` (the default) ecoach's ingest, the pipeline alone and the
latency run twice on fresh databases: personal data sealed with a master key, and in
plaintext mode; the cost of encryption is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import pstats
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from common import percentile, postgres_url  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ecoach.actions.coaches import do_add_coach  # noqa: E402
from ecoach.actions.engagements import do_create_engagement  # noqa: E402
from ecoach.channels.mail.imap import ImapIngest, fetched_bodies, uid_set  # noqa: E402
from ecoach.core.clock import SystemClock  # noqa: E402
from ecoach.core.crypto import MasterKeys, new_master_key  # noqa: E402
from ecoach.core.events import EventBus  # noqa: E402
from ecoach.core.hub import Hub  # noqa: E402
from ecoach.core.topics import coach as coach_topic  # noqa: E402
from ecoach.logbook.db import create_engine, migrate, session_factory  # noqa: E402
from ecoach.logbook.keyring import Keyring  # noqa: E402
from ecoach.settings import Settings  # noqa: E402
from tests.dovecot import Dovecot, ImapAccount  # noqa: E402

COACHEES = 20
BATCH = 50
PARAGRAPH = ("Deze week heb ik geoefend met grenzen aangeven op mijn werk. Het ging beter dan "
             "ik dacht, al merkte ik dat ik bij mijn leidinggevende nog steeds aarzel. ")


def coachee_mail(n: int, tag: str) -> bytes:
    message = EmailMessage()
    who = n % COACHEES
    message["From"] = f"Coachee {who} <coachee{who}@example.org>"
    message["To"] = "coach@coaching.test"
    message["Subject"] = f"Verslag {n}"
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Message-ID"] = f"<{tag}-{n}@example.org>"
    text = PARAGRAPH * 8 + f"\n\nGroet, coachee {who}\n\n> Op maandag schreef je coach:\n> Hoe ging het?\n"
    message.set_content(text)
    message.add_alternative(f"<p>{PARAGRAPH * 8}</p><p>Groet, coachee {who}</p>", subtype="html")
    return message.as_bytes()


MASTERS = {"on": MasterKeys([new_master_key("bench")]), "off": None}


def keyring(mode: str) -> Keyring:
    """A process's keyring with encryption ``on`` or ``off`` (a fresh, empty key cache)."""
    return Keyring(MASTERS[mode])


async def seed(db_url: str, mode: str) -> int:
    engine = create_engine(db_url)
    await migrate(engine)
    now = datetime.now(timezone.utc)
    async with session_factory(engine, None, keyring(mode))() as session:
        coach = await do_add_coach(session, name="Bench Coach", email="coach@coaching.test",
                                   password="bench password 1", language="nl",
                                   time_zone="Europe/Amsterdam", now=now)
        for who in range(COACHEES):
            await do_create_engagement(session, coach, coachee_name=f"Coachee {who}",
                                       coachee_email=f"coachee{who}@example.org", now=now)
        await session.commit()
        coach_id = coach.id
    await engine.dispose()
    return coach_id


async def bare_loop(account: ImapAccount, move_to: str | None) -> float:
    """The least a reader can do: FETCH every mail in batches (and MOVE each batch)."""
    async with account.client() as imap:
        await imap.select("INBOX")
        if move_to:
            await imap.create(move_to)
        started = time.perf_counter()
        response = await imap.uid_search("ALL", charset=None)
        uids = sorted(int(n) for line in response.lines[:-1] for n in bytes(line).split() if n.isdigit())
        fetched = 0
        for i in range(0, len(uids), BATCH):
            chunk = uid_set(uids[i:i + BATCH])
            response = await imap.uid("fetch", chunk, "(UID BODY.PEEK[])")
            fetched += sum(1 for _ in fetched_bodies(response.lines))
            if move_to:
                await imap.uid("move", chunk, move_to)
        elapsed = time.perf_counter() - started
        assert fetched == len(uids), (fetched, len(uids))
        if move_to:  # put them back for the next run
            await imap.select(move_to)
            response = await imap.uid_search("ALL", charset=None)
            moved = sorted(int(n) for line in response.lines[:-1] for n in bytes(line).split() if n.isdigit())
            for i in range(0, len(moved), BATCH):  # a long answer overflows aioimaplib's parser
                await imap.uid("move", uid_set(moved[i:i + BATCH]), "INBOX")
    return elapsed


def settings_for(db_url: str, account: ImapAccount) -> Settings:
    box = dict(name="bench", host=account.host, port=account.port, security="none",
               username=account.user, password=account.password, poll_seconds=1)
    return Settings(database_url=db_url, secret_key="bench-secret", auto_migrate=False,
                    mail=dict(enabled=True, domain="coaching.test", notify_coach="off", mailboxes=[box]))


async def ecoach_ingest(db_url: str, account: ImapAccount, count: int, coach_id: int,
                        profile: bool, mode: str) -> tuple[float, ImapIngest, Hub, object]:
    engine = create_engine(db_url)
    hub = Hub()
    events = hub.subscribe(coach_topic(coach_id))
    settings = settings_for(db_url, account)
    reader = ImapIngest(settings, settings.mail.mailboxes[0], session_factory(engine, EventBus(hub), keyring(mode)),
                        SystemClock())
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    started = time.perf_counter()
    reader.start()
    seen = 0
    while seen < count:
        event = await asyncio.wait_for(events.queue.get(), 120)
        seen += event is not None and event.get("type") == "exchange"
    while await account.count("INBOX"):  # and moved out of the folder
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    hub.unsubscribe(events)
    return elapsed, reader, hub, engine


async def pipeline_alone(db_url: str, raws: list[bytes], account: ImapAccount, mode: str) -> tuple[float, int]:
    """The same mails through the same pipeline and batches, without IMAP: what the
    transport adds on top is the difference. Also: how many SQL statements it sent."""
    from sqlalchemy import event

    from ecoach.actions.mail_inbound import take_in_mails

    engine = create_engine(db_url)
    statements = [0]

    def count(*_args) -> None:  # type: ignore[no-untyped-def]
        statements[0] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    sessions = session_factory(engine, None, keyring(mode))
    settings = settings_for(db_url, account)
    started = time.perf_counter()
    for i in range(0, len(raws), BATCH):
        await take_in_mails(sessions, raws[i:i + BATCH], source="bench", settings=settings,
                            clock=SystemClock())
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return elapsed, statements[0]


def parse_alone(raws: list[bytes], max_bytes: int) -> float:
    """Only the parse step (the stdlib email package), for the same mails."""
    from ecoach.core.mail.parse import parse_mail

    started = time.perf_counter()
    for raw in raws:
        parse_mail(raw, max_bytes=max_bytes)
    return time.perf_counter() - started


async def latency(account: ImapAccount, hub: Hub, coach_id: int, mails: int) -> list[float]:
    """Per mail, one at a time: APPEND -> its exchange committed and published."""
    events = hub.subscribe(coach_topic(coach_id))
    samples = []
    async with account.client() as writer:
        for n in range(mails):
            started = time.perf_counter()
            await writer.append(coachee_mail(n, "latency"), mailbox="INBOX")
            while True:
                event = await asyncio.wait_for(events.queue.get(), 30)
                if event and event.get("type") == "exchange" and event["exchange"]["subject"] == f"Verslag {n}":
                    break
            samples.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.05)
    hub.unsubscribe(events)
    return samples


async def bare_idle_latency(account: ImapAccount, mails: int) -> list[float]:
    """For comparison (no ecoach reader running): APPEND -> the EXISTS a bare aioimaplib
    client in IDLE is told. This is Dovecot's own notification delay."""
    samples = []
    async with account.client() as writer, account.client() as watcher:
        await watcher.select("INBOX")
        for n in range(mails):
            idle = await watcher.idle_start(timeout=60)
            started = time.perf_counter()
            await writer.append(coachee_mail(n, "bare-latency"), mailbox="INBOX")
            while not any(b"EXISTS" in bytes(line) for line in await watcher.wait_server_push(30)):
                pass
            samples.append((time.perf_counter() - started) * 1000)
            watcher.idle_done()
            await asyncio.wait_for(idle, 10)
            await asyncio.sleep(0.05)
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--latency", type=int, default=50, help="mails for the IDLE latency")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--postgres-url", help="a server to use instead of a throwaway cluster")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of ecoach's ingest")
    parser.add_argument("--encryption", choices=["both", "on", "off"], default="both",
                        help="personal data sealed with a master key, plaintext mode, or both in turn")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    stop_pg = None
    tmp = Path(tempfile.mkdtemp(prefix="ecoach-bench-"))
    server = ""
    if args.db == "postgresql":
        server, stop_pg = postgres_url(args.postgres_url)

    async def fresh_db(name: str) -> str:
        if args.db == "sqlite":
            return f"sqlite+aiosqlite:///{tmp / (name + '.db')}"
        import uuid

        import asyncpg

        database = f"bench_{name}_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(server.replace("postgresql+asyncpg://", "postgresql://"))
        await conn.execute(f'CREATE DATABASE "{database}"')
        await conn.close()
        return server.rsplit("/", 1)[0] + "/" + database

    dovecot = Dovecot()
    dovecot.start()
    modes = ["on", "off"] if args.encryption == "both" else [args.encryption]
    try:
        account = dovecot.account()
        raws = [coachee_mail(n, "bulk") for n in range(args.mails)]
        await account.append(*raws)
        print(f"{args.mails} mails of ~{sum(map(len, raws)) / len(raws) / 1024:.1f} KiB in Dovecot on port "
              f"{dovecot.port}; database {args.db}; batches of {BATCH}")
        fetch_only = await bare_loop(account, None)
        fetch_move = await bare_loop(account, "bare-processed")
        print(f"bare aioimaplib FETCH loop:          {args.mails / fetch_only:8.0f} mails/s ({fetch_only:.2f} s)")
        print(f"bare aioimaplib FETCH+MOVE loop:     {args.mails / fetch_move:8.0f} mails/s ({fetch_move:.2f} s)")
        rates: dict[str, dict[str, float]] = {}
        for n, mode in enumerate(modes):
            if n:  # the same mails again, for a fresh database
                await account.append(*raws)
            rates[mode] = await run_mode(args, account, raws, fresh_db, mode, args.mails / fetch_only)
        if set(rates) == {"on", "off"}:
            print(f"encryption costs {1 - rates['on']['ecoach'] / rates['off']['ecoach']:+.1%} of ingest throughput, "
                  f"{1 - rates['on']['pipeline'] / rates['off']['pipeline']:+.1%} of the pipeline's")
    finally:
        dovecot.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
        if stop_pg:
            stop_pg()


async def run_mode(args, account, raws, fresh_db, mode: str, bare_rate: float) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """ecoach's ingest, the pipeline alone and (optionally) the IDLE latency, encryption ``mode``."""
    db_url = await fresh_db(f"ingest_{mode}")
    coach_id = await seed(db_url, mode)
    ours, reader, hub, engine = await ecoach_ingest(db_url, account, args.mails, coach_id, args.profile, mode)
    other = await fresh_db(f"pipeline_{mode}")
    await seed(other, mode)
    alone, statements = await pipeline_alone(other, raws, account, mode)
    parsing = parse_alone(raws, settings_for(other, account).mail.max_bytes)
    rate = {"ecoach": args.mails / ours, "pipeline": args.mails / alone, "parse": args.mails / parsing}
    print(f"encryption {mode}:")
    print(f"  ecoach ImapIngest (commit + MOVE): {rate['ecoach']:8.0f} mails/s ({ours:.2f} s)   "
          f"ratio to bare FETCH {rate['ecoach'] / bare_rate:.3f} (target >= 0.7)")
    print(f"  the pipeline alone, no IMAP:       {rate['pipeline']:8.0f} mails/s ({alone:.2f} s), "
          f"{statements / (args.mails / BATCH):.1f} SQL statements per batch of {BATCH}")
    print(f"  of which parsing alone:            {rate['parse']:8.0f} mails/s ({parsing:.2f} s, "
          f"{parsing / alone:.0%} of the pipeline)")
    if args.latency:
        ours_ms = await latency(account, hub, coach_id, args.latency)
        await reader.stop()
        bare_ms = await bare_idle_latency(account, args.latency)
        print(f"  delivery to timeline under IDLE, {len(ours_ms)} mails one at a time:")
        print(f"    APPEND -> exchange committed and published: median {percentile(ours_ms, 50):6.1f} ms   "
              f"p95 {percentile(ours_ms, 95):6.1f} ms   max {max(ours_ms):6.1f} ms")
        print(f"    APPEND -> EXISTS at a bare IDLE client:     median {percentile(bare_ms, 50):6.1f} ms   "
              f"p95 {percentile(bare_ms, 95):6.1f} ms   (Dovecot's own notification delay)")
        rate["latency_p50"] = percentile(ours_ms, 50)
    await reader.stop()
    await engine.dispose()  # type: ignore[attr-defined]
    async with account.client() as imap:  # the next run starts from an empty folder of processed mail
        await imap.delete("ecoach-processed")
    return rate


if __name__ == "__main__":
    asyncio.run(main())
