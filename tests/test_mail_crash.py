"""Crash test: 500 mails in a real Dovecot mailbox, read by the real ``ecoach serve`` that is
killed with SIGKILL at random moments, several times. After the last restart the logbook
holds exactly 500 exchanges, none twice, and the folder is empty: nothing lost, nothing
stored twice, whatever instant the process died at (mid-FETCH, mid-commit, between the
commit and the move)."""

from __future__ import annotations

import asyncio
import json
import random
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import func, select

from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.mail_models import InboundMail
from ecoach.logbook.models import Exchange
from tests.conftest import START
from tests.dovecot import ImapAccount, dovecot, dovecot_server, wait_until  # noqa: F401 - fixtures
from tests.server_process import ServerProcess
from tests.conftest import fresh_keyring

MAILS = 500
COACHEES = 5
KILLS = 5
PROCESSED = "ecoach-processed"


def mail(n: int) -> bytes:
    message = EmailMessage()
    who = n % COACHEES
    message["From"] = f"Coachee {who} <coachee{who}@example.org>"
    message["To"] = "coach@coaching.test"
    message["Subject"] = f"Verslag {n}"
    message["Date"] = format_datetime(START)
    message["Message-ID"] = f"<crash-{n}@example.org>"
    message.set_content(f"Verslag nummer {n}: het gaat stap voor stap beter.\n")
    return message.as_bytes()


def serve(tmp_path: Path, db_url: str, account: ImapAccount) -> ServerProcess:
    box = {"name": "main", "host": account.host, "port": account.port, "security": "none",
           "username": account.user, "password": account.password}
    # The restarted process is another reader: it takes the mailbox over once the killed
    # one's lease has run out (one second here, to keep the test short).
    return ServerProcess(tmp_path, db_url, clock_runs=True, ECOACH_MAIL__ENABLED="true", ECOACH_MAIL__DOMAIN="coaching.test",
                         ECOACH_MAIL__NOTIFY_COACH="off", ECOACH_MAIL__MAILBOXES=json.dumps([box]),
                         ECOACH_MAIL__READER_LEASE_SECONDS="1")


async def stored(sessions) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        exchanges = (await session.execute(select(func.count()).select_from(Exchange))).scalar_one()
        inbound = (await session.execute(select(func.count()).select_from(InboundMail))).scalar_one()
    return int(exchanges), int(inbound)


async def test_sigkill_at_random_moments_loses_nothing_and_doubles_nothing(
    db_url, make_coach, make_engagement, dovecot, tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    coach = await make_coach(email="coach@coaching.test")
    for who in range(COACHEES):
        await make_engagement(coach, coachee_name=f"Coachee {who}", coachee_email=f"coachee{who}@example.org")
    await dovecot.append(*(mail(n) for n in range(MAILS)))
    engine = create_engine(db_url)
    sessions = session_factory(engine, None, fresh_keyring())
    server = serve(tmp_path, db_url, dovecot)
    rng = random.Random()
    kills = []
    try:
        for round_ in range(KILLS):
            # Each round dies somewhere in a later slice of the work: after the logbook holds
            # at least a random number of mails, plus a random few milliseconds more.
            target = rng.randint(round_ * MAILS // (KILLS + 1), (round_ + 1) * MAILS // (KILLS + 1))
            await asyncio.to_thread(server.start)
            await wait_until(lambda: _reached(sessions, target), timeout=60, interval=0.005)
            # A batch of 50 takes ~50 ms (set-based pipeline): a few batch cycles at most,
            # so the kill lands mid-FETCH, mid-commit or before the MOVE, not after the end.
            await asyncio.sleep(rng.uniform(0, 0.1))
            server.kill()
            kills.append(await stored(sessions))
        await asyncio.to_thread(server.start)
        await dovecot.wait_count(PROCESSED, MAILS, timeout=90)
        assert await dovecot.count("INBOX") == 0
        assert await stored(sessions) == (MAILS, MAILS), kills
        async with sessions() as session:
            ids = [meta["message_id"] for meta in (await session.execute(select(Exchange.meta))).scalars()]
        assert sorted(ids) == sorted(f"<crash-{n}@example.org>" for n in range(MAILS))
        moved = await dovecot.messages(PROCESSED)
        assert len(moved) == MAILS and len(set(moved)) == MAILS
        assert kills[0][0] < MAILS, kills  # at least the first kill hit the work in progress
    finally:
        server.stop()
        await engine.dispose()


async def _reached(sessions, target: int) -> bool:  # type: ignore[no-untyped-def]
    return (await stored(sessions))[0] >= target
