"""Outgoing mail throughput: ecoach's outbox against a bare aiosmtplib loop, both sending to
the same aiosmtpd relay (tests/smtp_relay.py) in the same run.

    .venv/bin/python bench/mail_send.py [--mails 2000] [--coachees 200] [--db sqlite|postgresql]

The outbox figure is the dispatcher draining ``--mails`` answers that coaches queued
(each a mail exchange plus its outbox row, committed before the clock starts): claim a
batch with a lease, send it over one SMTP connection, record every result (outbox row and
the exchange's delivery state) in one transaction, publish. The bare loop sends the same
composed mails over one connection with ``aiosmtplib.SMTP.sendmail`` and nothing else.

The outbox keeps each recipient's mail in order (a later answer to a coachee waits for the
earlier one), so a round takes at most one mail per coachee: with few coachees and many
answers each, rounds get small. ``--coachees`` sets how many the answers go to.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import aiosmtplib

from common import bench_keyring, postgres_url  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ecoach.actions.coaches import do_add_coach  # noqa: E402
from ecoach.actions.engagements import do_create_engagement  # noqa: E402
from ecoach.actions.exchanges import NewExchange, record_exchanges  # noqa: E402
from ecoach.actions.mail_outbox import do_enqueue_mail  # noqa: E402
from ecoach.core.mail.compose import compose_mail  # noqa: E402
from ecoach.channels.mail.outbox import OutboxDispatcher  # noqa: E402
from ecoach.core.clock import SystemClock  # noqa: E402
from ecoach.logbook.db import create_engine, migrate, session_factory  # noqa: E402
from ecoach.settings import MailSettings  # noqa: E402
from tests.smtp_relay import SmtpRelay  # noqa: E402

SENDER = "coach@coaching.test"
ANSWER = ("Wat goed dat je dit hebt geprobeerd. Kijk deze week eens wanneer je aarzelt, en schrijf "
          "op wat je op dat moment denkt. Dan bespreken we het volgende keer.\n") * 4


def compose(n: int, recipient: str, coachees: int) -> tuple[bytes, str]:
    message, message_id = compose_mail(
        from_name="Marieke Bos", from_address=SENDER, to_address=recipient, to_name=None,
        reply_to=f"coach+token{n % coachees}@coaching.test", subject="Re: je verslag", text=ANSWER, html=None,
        message_id_domain="coaching.test", in_reply_to=f"<verslag-{n}@example.org>",
        references=[f"<verslag-{n}@example.org>"], date=datetime.now(timezone.utc))
    return message.as_bytes(), message_id


async def queue(db_url: str, mails: int, coachees: int) -> list[tuple[bytes, str, str]]:
    """Coaches' answers, each an exchange plus its outbox row, committed (not timed)."""
    engine = create_engine(db_url)
    await migrate(engine)
    now = datetime.now(timezone.utc)
    composed = []
    async with session_factory(engine, None, KEYRING)() as session:
        coach = await do_add_coach(session, name="Marieke Bos", email=SENDER, password="bench password 1",
                                   language="nl", time_zone="Europe/Amsterdam", now=now)
        engagements = []
        for who in range(coachees):
            created = await do_create_engagement(session, coach, coachee_name=f"Coachee {who}",
                                                 coachee_email=f"coachee{who}@example.org", now=now)
            engagements.append((created.engagement.id, f"coachee{who}@example.org"))
        for n in range(mails):
            engagement_id, recipient = engagements[n % coachees]
            raw, message_id = compose(n, recipient, coachees)
            [recorded] = await record_exchanges(session, [NewExchange(
                engagement_id, "mail", "out", "coach", "Marieke Bos", ANSWER, f"mail-out:{n}",
                delivery_state="queued", meta={"message_id": message_id})], now)
            await do_enqueue_mail(session, raw=raw, message_id=message_id, sender=SENDER, recipient=recipient,
                                  kind="reply", exchange_id=recorded.exchange.id, engagement_id=engagement_id,
                                  now=now)
            composed.append((raw, message_id, recipient))
        await session.commit()
    await engine.dispose()
    return composed


async def through_outbox(db_url: str, relay: SmtpRelay, mails: int) -> float:
    engine = create_engine(db_url)
    settings = MailSettings(enabled=True, domain="coaching.test", smtp_host=relay.host, smtp_port=relay.port)
    dispatcher = OutboxDispatcher(session_factory(engine, None, KEYRING), settings, SystemClock())
    started = time.perf_counter()
    sent = 0
    while True:
        result = await dispatcher.run_once()
        sent += len(result.sent)
        if not result.claimed:
            break
    elapsed = time.perf_counter() - started
    await engine.dispose()
    assert sent == mails and len(relay.messages) == mails, (sent, len(relay.messages))
    return elapsed


async def bare_loop(relay: SmtpRelay, composed: list[tuple[bytes, str, str]]) -> float:
    smtp = aiosmtplib.SMTP(hostname=relay.host, port=relay.port, local_hostname="coaching.test")
    started = time.perf_counter()
    await smtp.connect()
    for raw, _, recipient in composed:
        await smtp.sendmail(SENDER, [recipient], raw)
    await smtp.quit()
    elapsed = time.perf_counter() - started
    assert len(relay.messages) == len(composed)
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--coachees", type=int, default=200, help="recipients the answers are spread over")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--postgres-url", help="a server to use instead of a throwaway cluster")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    stop_pg = None
    tmp = Path(tempfile.mkdtemp(prefix="ecoach-bench-"))
    if args.db == "sqlite":
        db_url = f"sqlite+aiosqlite:///{tmp / 'send.db'}"
    else:
        import asyncpg

        server, stop_pg = postgres_url(args.postgres_url)
        name = f"bench_send_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(server.replace("postgresql+asyncpg://", "postgresql://"))
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        db_url = server.rsplit("/", 1)[0] + "/" + name
    relay = SmtpRelay()
    relay.start()
    try:
        composed = await queue(db_url, args.mails, args.coachees)
        size = sum(len(raw) for raw, _, _ in composed) / len(composed)
        print(f"{args.mails} answers of ~{size / 1024:.1f} KiB to {args.coachees} coachees; relay aiosmtpd on "
              f"port {relay.port} (in this process); database {args.db}")
        bare = await bare_loop(relay, composed)
        relay.clear()
        ours = await through_outbox(db_url, relay, args.mails)
        bare_rate, our_rate = args.mails / bare, args.mails / ours
        print(f"bare aiosmtplib loop (one connection): {bare_rate:7.0f} mails/s ({bare:.2f} s)")
        print(f"ecoach outbox (claim, send, record):   {our_rate:7.0f} mails/s ({ours:.2f} s)")
        print(f"ratio outbox / bare: {our_rate / bare_rate:.2f}   (target >= 0.7)")
    finally:
        relay.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        if stop_pg:
            stop_pg()


if __name__ == "__main__":
    asyncio.run(main())
