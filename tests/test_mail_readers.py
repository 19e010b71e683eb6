"""One reader per mailbox across server processes (the lease row), LMTP in the one process
the settings name, and the secret resolved once at start-up.

The lease's clock is the injected one: "the holder died" is its clock running past the
lease without a renewal. tests/test_event_processes.py kills a real process."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ecoach.channels.mail.imap import ImapIngest
from ecoach.channels.mail.reader_lease import LeaseLost, MailboxLease
from ecoach.logbook.mail_models import InboundMail, MailboxCursor
from ecoach.logbook.mailbox_leases import get_mailbox_reader
from ecoach.logbook.models import Exchange
from ecoach.settings import Settings
from tests.mail_support import build_mail, make_world
from tests.server_process import free_port
from tests.support import app_client, csrf_of, login, seed, settings_for

LEASE = 30.0


def lease(sessions, clock, holder: str) -> MailboxLease:  # type: ignore[no-untyped-def]
    return MailboxLease(sessions, "main", holder, clock, LEASE)


async def test_one_process_reads_and_another_takes_over_once_the_holder_stops_renewing(  # type: ignore[no-untyped-def]
    sessions, clock
) -> None:
    a, b = lease(sessions, clock, "host:1"), lease(sessions, clock, "host:2")
    assert await a.try_take() and not await b.try_take()  # b stands by
    clock.advance(seconds=LEASE / 3)
    assert await a.try_take()  # the holder renews (as keep() does)
    clock.advance(seconds=LEASE - 1)
    assert not await b.try_take()  # renewed: still a's
    clock.advance(seconds=2)  # a died: its lease ran out without a renewal
    assert await b.try_take()
    async with sessions() as session:
        assert (await get_mailbox_reader(session, "main")).holder == "host:2"
    assert not await a.try_take()  # a comes back: now it stands by


async def test_a_reader_that_lost_the_mailbox_commits_nothing(sessions, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, mailboxes=[{"name": "main"}], reader_lease_seconds=LEASE)
    settings = world.settings
    box = settings.mail.mailboxes[0]
    old = ImapIngest(settings, box, sessions, clock, holder="host:1")
    new = ImapIngest(settings, box, sessions, clock, holder="host:2")
    assert await old.lease.try_take()
    clock.advance(seconds=LEASE + 1)  # old hangs past its lease; new takes over
    assert await new.lease.try_take()
    with pytest.raises(LeaseLost):
        await old.take([build_mail(text="Te laat")], uidvalidity=7, last_uid=1)
    async with sessions() as session:
        counts = [(await session.execute(select(func.count()).select_from(model))).scalar_one()
                  for model in (Exchange, InboundMail, MailboxCursor)]
    assert counts == [0, 0, 0]
    await new.take([build_mail(text="Op tijd")], uidvalidity=7, last_uid=1)
    async with sessions() as session:
        assert (await session.execute(select(Exchange.body_text))).scalars().all() == ["Op tijd"]


async def test_stopping_gives_the_mailbox_back_at_once(sessions, clock) -> None:  # type: ignore[no-untyped-def]
    a, b = lease(sessions, clock, "host:1"), lease(sessions, clock, "host:2")
    await asyncio.wait_for(a.acquire(), 10)
    await a.release()
    assert await b.try_take()


def _lmtp_answers(port: int) -> bool:
    try:
        with smtplib.LMTP("127.0.0.1", port, timeout=5) as client:
            return client.noop()[0] == 250
    except OSError:
        return False


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_lmtp_listens_only_in_the_process_the_settings_name(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    mail = {"enabled": True, "lmtp_enabled": True, "lmtp_process": "mail", "lmtp_port": free_port()}
    for name, listens in (("web", False), ("mail", True)):
        async with app_client(settings_for(db_url, mail=mail, process_name=name), clock):
            answered = await asyncio.to_thread(_lmtp_answers, mail["lmtp_port"])
        assert answered is listens, name


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_secret_is_resolved_once_at_start_up(db_url, clock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key_file = tmp_path / "secret.key"
    settings = Settings(database_url=db_url, secret_key_file=str(key_file), auto_migrate=False,
                        scheduler={"enabled": False})
    info = await seed(db_url, clock.now(), email="marieke@example.org")
    async with app_client(settings, clock) as client:
        assert key_file.is_file()  # created at start-up
        key_file.unlink()  # from now on nothing may read it (or make a new one)
        await login(client, "marieke@example.org")
        token = await csrf_of(client, "/engagements/new")
        response = await client.post("/engagements", data={"_csrf": token, "coachee_name": "Tom"},
                                     allow_redirects=False)
        assert response.status == 303, await response.text()
        page = await client.get(response.headers["Location"])
        assert "/c/" in await page.text()  # the chat link, derived from the secret
    assert not key_file.exists() and info["engagement_id"]
