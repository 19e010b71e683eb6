"""IMAP ingest against a real Dovecot, on both databases: ingest and move, resume from the
stored position, duplicates, a UIDVALIDITY change, IDLE, polling and COPY/EXPUNGE on a
plainer server, reconnects, and mailbox problems that are logged and retried."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from ecoach.channels.mail.imap import ImapIngest, fetched_bodies, mailbox_name, uid_set
from ecoach.logbook.mail_models import InboundMail, MailboxCursor, Quarantine
from ecoach.logbook.models import Exchange
from ecoach.settings import Settings
from tests.conftest import START
from tests.dovecot import Dovecot, ImapAccount, dovecot, dovecot_server, require_dovecot, wait_until  # noqa: F401

PROCESSED = "ecoach-processed"
# The transport alone (IDLE, polling, reconnects, refusals): one database is enough.
TRANSPORT_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
SANNE = "sanne@example.org"


def coachee_mail(n: int, *, sender: str = SANNE, message_id: str | None = None, to: str = "coach@coaching.test",
                 text: str | None = None) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Sanne <{sender}>"
    mail["To"] = to
    mail["Subject"] = f"Week {n}"
    mail["Date"] = format_datetime(START)
    mail["Message-ID"] = message_id or f"<week-{n}@mail.example.org>"
    mail.set_content(text or f"Dit is mijn verslag van week {n}.\n")
    return mail.as_bytes()


def settings_for(db_url: str, server: ImapAccount, **box: Any) -> Settings:
    values: dict[str, Any] = dict(name="main", host=server.host, port=server.port, security="none",
                                  username=server.user, password=server.password, poll_seconds=1)
    values.update(box)
    return Settings(database_url=db_url, secret_key="imap-test-secret", auto_migrate=False,
                    mail=dict(enabled=True, domain="coaching.test", notify_coach="off", mailboxes=[values]))


@asynccontextmanager
async def reading(settings: Settings, sessions, hub, clock, **kwargs: Any) -> AsyncIterator[ImapIngest]:  # type: ignore[no-untyped-def]
    kwargs.setdefault("backoff_max", 1.0)
    reader = ImapIngest(settings, settings.mail.mailboxes[0], sessions, clock, **kwargs)
    reader.start()
    try:
        yield reader
    finally:
        await reader.stop()


async def exchanges(sessions) -> list[Exchange]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return list((await session.execute(select(Exchange).order_by(Exchange.id))).scalars())


async def count(sessions, model) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def cursor(sessions) -> tuple[int, int] | None:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        row = (await session.execute(select(MailboxCursor.uidvalidity, MailboxCursor.last_uid))).first()
        return (row[0], row[1]) if row else None


def subjects(rows: list[Exchange]) -> list[str]:
    return [row.meta["subject"] for row in rows]


@pytest.fixture
async def engagement(make_coach, make_engagement):  # type: ignore[no-untyped-def]
    coach = await make_coach(email="coach@coaching.test")
    return (await make_engagement(coach, coachee_name="Sanne", coachee_email=SANNE)).engagement


async def test_mail_is_taken_in_once_and_moved(db_url, sessions, hub, clock, dovecot, engagement) -> None:  # type: ignore[no-untyped-def]
    await dovecot.append(coachee_mail(1), coachee_mail(2), coachee_mail(3, sender="stranger@example.net"))
    settings = settings_for(db_url, dovecot)
    async with reading(settings, sessions, hub, clock):
        await dovecot.wait_count(PROCESSED, 3)  # moved: only after the commit
        rows = await exchanges(sessions)
    assert subjects(rows) == ["Week 1", "Week 2"]
    assert {(r.engagement_id, r.channel, r.direction) for r in rows} == {(engagement.id, "mail", "in")}
    assert await count(sessions, Quarantine) == 1  # the stranger: held, not dropped
    assert await count(sessions, InboundMail) == 3
    assert await dovecot.count("INBOX") == 0
    assert await cursor(sessions) == (await dovecot.uidvalidity("INBOX"), 3)


async def test_restart_resumes_from_the_stored_position(db_url, sessions, hub, clock, dovecot, engagement) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(db_url, dovecot)
    await dovecot.append(coachee_mail(1), coachee_mail(2))
    async with reading(settings, sessions, hub, clock):
        await dovecot.wait_count(PROCESSED, 2)
    await dovecot.append(coachee_mail(3), coachee_mail(4))
    async with reading(settings, sessions, hub, clock):
        await dovecot.wait_count(PROCESSED, 4)
    assert subjects(await exchanges(sessions)) == ["Week 1", "Week 2", "Week 3", "Week 4"]
    assert (await cursor(sessions))[1] == 4  # type: ignore[index]


async def test_committed_but_not_moved_is_moved_without_a_second_copy(db_url, sessions, hub, clock, dovecot, engagement) -> None:  # type: ignore[no-untyped-def]
    """The process died between the commit and the move: the mail is still in the folder,
    at or below the stored position. It is moved, not taken in again."""
    settings = settings_for(db_url, dovecot)
    await dovecot.append(coachee_mail(1), coachee_mail(2))
    reader = ImapIngest(settings, settings.mail.mailboxes[0], sessions, clock)
    validity = await dovecot.uidvalidity()
    await reader.take(await dovecot.messages(), uidvalidity=validity, last_uid=2)  # commit, no move
    assert await dovecot.count("INBOX") == 2
    async with reading(settings, sessions, hub, clock):
        await dovecot.wait_count(PROCESSED, 2)
    assert subjects(await exchanges(sessions)) == ["Week 1", "Week 2"]
    assert await dovecot.count("INBOX") == 0


async def test_the_same_mail_twice_is_stored_once(db_url, sessions, hub, clock, dovecot, engagement) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(db_url, dovecot)
    await dovecot.append(coachee_mail(1), coachee_mail(1))  # e.g. delivered twice by the MTA
    async with reading(settings, sessions, hub, clock):
        await dovecot.wait_count(PROCESSED, 2)
        await dovecot.append(coachee_mail(1))  # and once more, later, while reading
        await dovecot.wait_count(PROCESSED, 3)
    assert subjects(await exchanges(sessions)) == ["Week 1"]
    assert await count(sessions, InboundMail) == 1


async def test_uidvalidity_change_resyncs_without_reimport(db_url, sessions, hub, clock, dovecot, engagement, caplog) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(db_url, dovecot, folder="Coaching")
    await dovecot.append(coachee_mail(1), coachee_mail(2), folder="Coaching")
    async with reading(settings, sessions, hub, clock):
        await dovecot.wait_count(PROCESSED, 2)
    old = await cursor(sessions)
    # The folder is rebuilt: a new UIDVALIDITY, UIDs from 1 again. The first UID is new mail
    # (a reader that trusted the old position would skip it); the others were seen before.
    await dovecot.recreate("Coaching")
    await dovecot.append(coachee_mail(3), coachee_mail(1), coachee_mail(2), folder="Coaching")
    caplog.set_level(logging.WARNING, logger="ecoach.channels.mail.imap")
    async with reading(settings, sessions, hub, clock):
        await dovecot.wait_count(PROCESSED, 5)
    assert subjects(await exchanges(sessions)) == ["Week 1", "Week 2", "Week 3"]
    assert await count(sessions, InboundMail) == 3
    new = await cursor(sessions)
    assert new is not None and old is not None and new[0] != old[0] and new[1] == 3
    assert await dovecot.count("Coaching") == 0
    assert "UIDVALIDITY changed" in caplog.text


async def test_idle_brings_new_mail_without_polling(db_url, sessions, hub, clock, dovecot, engagement) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(db_url, dovecot, poll_seconds=3600, idle_seconds=1500)
    async with reading(settings, sessions, hub, clock) as reader:
        await wait_until(lambda: reader.idles >= 1)  # read the folder, now waiting in IDLE
        await dovecot.append(coachee_mail(1))
        await wait_until(lambda: count(sessions, Exchange))
        assert reader.connects == 1  # no reconnect, no poll: IDLE told it
        await dovecot.wait_count(PROCESSED, 1)


@TRANSPORT_ONLY
async def test_idle_is_reissued(db_url, sessions, hub, clock, dovecot, engagement) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(db_url, dovecot, poll_seconds=3600, idle_seconds=10)
    async with reading(settings, sessions, hub, clock) as reader:
        await wait_until(lambda: reader.idles >= 2, timeout=40)
        await dovecot.append(coachee_mail(1))
        await wait_until(lambda: count(sessions, Exchange))
        assert reader.connects == 1


@TRANSPORT_ONLY
async def test_plain_server_polls_and_copies(db_url, sessions, hub, clock, engagement) -> None:  # type: ignore[no-untyped-def]
    """No IDLE, no MOVE: poll every poll_seconds, then COPY, flag \\Deleted, UID EXPUNGE."""
    require_dovecot()
    plain = Dovecot(idle=False, move=False)
    plain.start()
    try:
        server = plain.account()
        settings = settings_for(db_url, server, poll_seconds=1)
        async with reading(settings, sessions, hub, clock) as reader:
            await wait_until(reader.connected.is_set)
            await server.append(coachee_mail(1), coachee_mail(2))
            await server.wait_count(PROCESSED, 2)
            assert await server.count("INBOX") == 0
            assert reader.connects == 1
        assert subjects(await exchanges(sessions)) == ["Week 1", "Week 2"]
    finally:
        plain.cleanup()


@TRANSPORT_ONLY
@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_tls_and_starttls(db_url, sessions, hub, clock, engagement, security, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    require_dovecot()
    secure = Dovecot(tls=True)
    secure.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(secure.ca_file))  # trust the test certificate, verify as usual
    try:
        server = secure.account()
        port = secure.tls_port if security == "tls" else secure.port
        settings = settings_for(db_url, server, security=security, port=port)
        await server.append(coachee_mail(1))
        async with reading(settings, sessions, hub, clock) as reader:
            await server.wait_count(PROCESSED, 1)
            assert reader.connects == 1 and reader.problem is None
        assert subjects(await exchanges(sessions)) == ["Week 1"]
        # The test's own client logs in without TLS; the reader's login is the one with it.
        logins = [line for line in secure.log().splitlines() if f"Login: user=<{server.user}>" in line]
        assert sum(", TLS" in line for line in logins) == 1, logins
    finally:
        secure.cleanup()


@TRANSPORT_ONLY
async def test_an_untrusted_certificate_is_refused_and_reported(db_url, sessions, hub, clock, engagement, caplog) -> None:  # type: ignore[no-untyped-def]
    require_dovecot()
    caplog.set_level(logging.ERROR, logger="ecoach.channels.mail.imap")
    secure = Dovecot(tls=True)
    secure.start()
    try:
        server = secure.account()
        settings = settings_for(db_url, server, security="tls", port=secure.tls_port)
        await server.append(coachee_mail(1))
        async with reading(settings, sessions, hub, clock) as reader:
            await wait_until(lambda: reader.problem and "CERTIFICATE_VERIFY_FAILED" in reader.problem)
        assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
        assert await server.count("INBOX") == 1 and await count(sessions, Exchange) == 0
    finally:
        secure.cleanup()


@TRANSPORT_ONLY
async def test_reconnects_after_the_server_restarts(db_url, sessions, hub, clock, dovecot, engagement) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(db_url, dovecot, poll_seconds=3600)
    async with reading(settings, sessions, hub, clock) as reader:
        await dovecot.append(coachee_mail(1))
        await dovecot.wait_count(PROCESSED, 1)
        await asyncio.to_thread(dovecot.server.stop)
        await wait_until(lambda: not reader.connected.is_set())
        await asyncio.to_thread(dovecot.server.start)
        await dovecot.append(coachee_mail(2))
        await dovecot.wait_count(PROCESSED, 2)
        assert reader.connects >= 2
    assert subjects(await exchanges(sessions)) == ["Week 1", "Week 2"]


@TRANSPORT_ONLY
async def test_refused_login_is_reported_and_retried(db_url, sessions, hub, clock, dovecot, engagement, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.ERROR, logger="ecoach.channels.mail.imap")
    settings = settings_for(db_url, dovecot, password="wrong")
    await dovecot.append(coachee_mail(1))
    async with reading(settings, sessions, hub, clock) as reader:
        await wait_until(lambda: reader.problem and "refused" in reader.problem)
        assert f"login as {dovecot.user!r} refused" in caplog.text
        dovecot.set_password("wrong")  # the admin fixes it; the reader retries by itself
        await dovecot.wait_count(PROCESSED, 1)
        assert reader.problem is None
    assert subjects(await exchanges(sessions)) == ["Week 1"]


@TRANSPORT_ONLY
async def test_missing_folder_is_reported_and_retried(db_url, sessions, hub, clock, dovecot, engagement, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.ERROR, logger="ecoach.channels.mail.imap")
    settings = settings_for(db_url, dovecot, folder="Coaching")
    async with reading(settings, sessions, hub, clock) as reader:
        await wait_until(lambda: reader.problem and "Coaching" in reader.problem)
        assert "folder 'Coaching' cannot be opened" in caplog.text
        await dovecot.append(coachee_mail(1), folder="Coaching")
        await dovecot.wait_count(PROCESSED, 1)
    assert subjects(await exchanges(sessions)) == ["Week 1"]


def test_uid_sets_and_folder_names() -> None:
    assert uid_set([5, 1, 2, 3, 9, 10]) == "1:3,5,9:10"
    assert mailbox_name("INBOX") == '"INBOX"'
    assert mailbox_name('Coach "A"') == '"Coach \\"A\\""'
    assert mailbox_name("Verwerkt & klaar") == '"Verwerkt &- klaar"'
    assert mailbox_name("Coachées") == '"Coach&AOk-es"'  # RFC 3501 modified UTF-7


def test_fetch_answers_are_read_whatever_the_item_order() -> None:
    lines = [b"1 FETCH (UID 7 BODY[] {5}", bytearray(b"hello"), b")",
             b"2 FETCH (BODY[] {3}", bytearray(b"bye"), b" UID 9)",
             b"3 FETCH (FLAGS (\\Seen))", b"Fetch completed."]
    assert dict(fetched_bodies(lines)) == {7: b"hello", 9: b"bye"}


@TRANSPORT_ONLY
async def test_healthz_reports_a_mailbox_that_cannot_be_read(db_url, clock, dovecot) -> None:  # type: ignore[no-untyped-def]
    from tests.support import app_client

    settings = settings_for(db_url, dovecot, password="wrong")
    async with app_client(settings, clock) as client:
        await wait_until(lambda: _reader(client).problem is not None)
        response = await client.get("/healthz")
        body = await response.json()
        assert response.status == 200 and body["status"] == "degraded"
        assert "refused" in body["mailboxes"]["main"]
        dovecot.set_password("wrong")  # the admin fixes it: healthy again without a restart
        await wait_until(lambda: _reader(client).problem is None and _reader(client).connected.is_set())
        assert await (await client.get("/healthz")).json() == {"status": "ok", "readers": {"main": "reading"}}


def _reader(client) -> ImapIngest:  # type: ignore[no-untyped-def]
    from ecoach.keys import MAIL_READERS

    return client.server.app[MAIL_READERS][0]
