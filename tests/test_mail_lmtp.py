"""The LMTP server in a real LMTP session (stdlib ``smtplib.LMTP``, in a thread, against
the server on the test's event loop): unknown recipients refused at RCPT time, one reply
per recipient after DATA, and 250 only once the mail is committed."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select

from ecoach.channels.mail.lmtp import LmtpServer
from ecoach.core.topics import coach as coach_topic
from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.mail_models import InboundMail, Quarantine
from ecoach.logbook.models import Exchange
from tests.mail_support import COACHEE, DOMAIN, all_rows, build_mail, count, make_world, reply_to
from tests.smtp_relay import free_port
from tests.support import app_client
from tests.conftest import fresh_keyring

T = TypeVar("T")
HOST = "127.0.0.1"


async def in_thread(fn: Callable[[], T]) -> T:
    """smtplib blocks: the client runs in a thread while the server serves on this loop."""
    return await asyncio.to_thread(fn)


def session_with(port: int, steps: Callable[[smtplib.LMTP], T]) -> T:
    client = smtplib.LMTP(HOST, port, timeout=30)
    try:
        client.ehlo_or_helo_if_needed()
        return steps(client)
    finally:
        client.close()


def send(client: smtplib.LMTP, mail_from: str, rcpts: list[str], raw: bytes) -> dict[str, Any]:
    """MAIL, RCPT per recipient, DATA, then one reply per accepted recipient (RFC 2033)."""
    result: dict[str, Any] = {"mail": client.mail(mail_from), "rcpt": {}, "data": []}
    accepted = []
    for rcpt in rcpts:
        reply = client.rcpt(rcpt)
        result["rcpt"][rcpt] = reply
        if reply[0] == 250:
            accepted.append(rcpt)
    if not accepted:
        client.rset()
        return result
    result["data"].append(client.data(raw))  # the first recipient's reply
    result["data"].extend(client.getreply() for _ in accepted[1:])
    return result


async def test_recipients_are_checked_at_rcpt_time(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    server = LmtpServer(world.settings, sessions, clock, port=free_port())
    await server.start()
    try:
        good = reply_to(world.engagement_id)
        forged = reply_to(world.engagement_id, secret="someone-else")
        unknown_engagement = reply_to(999_999)
        rcpts = [good, forged, unknown_engagement, f"coach+not-a-token@{DOMAIN}", f"coach@{DOMAIN}",
                 "postmaster@elsewhere.test", f"COACH@{DOMAIN.upper()}"]
        result = await in_thread(lambda: session_with(server.port, lambda c: send(
            c, COACHEE, rcpts, build_mail(to=good, text="Via LMTP"))))
    finally:
        await server.stop()
    codes = {rcpt: reply[0] for rcpt, reply in result["rcpt"].items()}
    assert codes == {good: 250, forged: 550, unknown_engagement: 550, f"coach+not-a-token@{DOMAIN}": 550,
                     f"coach@{DOMAIN}": 250, "postmaster@elsewhere.test": 550, f"COACH@{DOMAIN.upper()}": 250}
    assert b"5.1.1" in result["rcpt"][forged][1]
    # One reply per accepted recipient; the mail is stored once (same Message-ID).
    assert [reply[0] for reply in result["data"]] == [250, 250, 250]
    assert await count(sessions, Exchange, Exchange.channel == "mail") == 1
    assert await count(sessions, InboundMail) == 1


async def test_250_only_after_commit(sessions, clock, hub, db_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    sub = hub.subscribe(coach_topic(world.coach_id))
    raw = build_mail(message_id=None, text="Zonder Message-ID, via LMTP")
    # First the database is unreachable: the mail is refused for now (451), nothing is
    # stored, and the MTA keeps it.
    broken = create_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/db.sqlite")
    down = LmtpServer(world.settings, session_factory(broken, None, fresh_keyring()), clock, port=free_port())
    await down.start()
    try:
        refused = await in_thread(lambda: session_with(down.port, lambda c: send(
            c, COACHEE, [f"coach@{DOMAIN}"], raw)))
    finally:
        await down.stop()
        await broken.dispose()
    assert [r[0] for r in refused["data"]] == [451]
    assert await count(sessions, InboundMail) == 0 and sub.queue.empty()

    server = LmtpServer(world.settings, sessions, clock, port=free_port())
    await server.start()
    try:
        def deliver(client: smtplib.LMTP) -> list[tuple[int, bytes]]:
            return send(client, COACHEE, [f"coach@{DOMAIN}"], raw)["data"]

        first = await in_thread(lambda: session_with(server.port, deliver))
        # The client has its 250: the exchange is committed and visible to a new session,
        # and the coach's browser was told only after that commit.
        assert [r[0] for r in first] == [250]
        async with sessions() as session:
            [exchange] = (await session.execute(select(Exchange).where(Exchange.channel == "mail"))).scalars()
        assert exchange.body_text == "Zonder Message-ID, via LMTP"
        event = sub.queue.get_nowait()
        assert event["type"] == "exchange" and event["exchange"]["id"] == exchange.id
        # The MTA's retry (it never saw the 250, say) is acknowledged and not stored twice.
        retry = await in_thread(lambda: session_with(server.port, deliver))
        assert [r[0] for r in retry] == [250]
    finally:
        await server.stop()
    assert await count(sessions, Exchange, Exchange.channel == "mail") == 1
    assert await count(sessions, InboundMail) == 1


async def test_bounce_and_quarantine_over_lmtp(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    server = LmtpServer(world.settings, sessions, clock, port=free_port())
    await server.start()
    try:
        # An empty return path marks an automatic mail; a stranger's mail is held.
        result = await in_thread(lambda: session_with(server.port, lambda c: send(
            c, "", [f"coach@{DOMAIN}"], build_mail(sender="stranger@else.test", text="Wie ben jij?"))))
    finally:
        await server.stop()
    assert [r[0] for r in result["data"]] == [250]
    async with sessions() as session:
        entry = (await session.execute(select(Quarantine))).scalar_one()
    assert (entry.reason_code, entry.coach_id) == ("unknown_sender", world.coach_id)
    assert entry.raw.startswith(b"Return-Path: <>\r\nDelivered-To: coach@" + DOMAIN.encode())


async def test_app_runs_the_lmtp_server(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    world = await make_world(sessions, clock, db_url, lmtp_enabled=True, lmtp_host=HOST, lmtp_port=port,
                             smtp_port=free_port())
    async with app_client(world.settings, clock):
        result = await in_thread(lambda: session_with(port, lambda c: send(
            c, COACHEE, [reply_to(world.engagement_id), "nobody@elsewhere.test"], build_mail(text="Via de app"))))
    assert result["rcpt"]["nobody@elsewhere.test"][0] == 550
    assert [r[0] for r in result["data"]] == [250]
    assert [x.body_text for x in await all_rows(sessions, Exchange)] == ["Via de app"]
