"""Helpers for the inbound mail tests: a coach with engagements on a real database,
mails built with the stdlib, and the pipeline's entry point."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from sqlalchemy import func, select

from ecoach.actions.coaches import do_add_coach
from ecoach.actions.engagements import do_create_engagement
from ecoach.actions.mail_inbound import Outcome, take_in_mail
from ecoach.core.clock import FixedClock
from ecoach.core.hub import Hub
from ecoach.core.reply_tokens import make_token, reply_address
from ecoach.logbook.mail_models import InboundMail, MailSource, Quarantine
from ecoach.logbook.models import Exchange
from ecoach.settings import Settings
from tests.support import PASSWORD, settings_for

DOMAIN = "coaching.test"
SECRET = "test-secret-key"  # tests.support.settings_for uses it
COACHEE = "sanne@example.test"
_numbers = itertools.count(1)


def mail_settings(db_url: str, **mail: Any) -> Settings:
    return settings_for(db_url, mail={"enabled": True, "domain": DOMAIN, **mail})


def reply_to(engagement_id: int, secret: str = SECRET) -> str:
    return reply_address(make_token(secret, engagement_id), local="coach", domain=DOMAIN,
                         form="{local}+{token}@{domain}")


@dataclass
class World:
    settings: Settings
    coach_id: int
    coach_email: str
    engagement_id: int
    coachee_email: str
    other_coach_id: int | None = None
    other_coach_email: str | None = None


async def make_world(sessions, clock: FixedClock, db_url: str, *, second_coach: bool = False,  # type: ignore[no-untyped-def]
                     **mail: Any) -> World:
    """A coach (Marieke) with one active engagement whose coachee is COACHEE; with
    ``second_coach`` another coach with an engagement of their own."""
    async with sessions() as session:
        coach = await do_add_coach(session, name="Marieke Bos", email="marieke@coaching.test",
                                   password=PASSWORD, language="nl", time_zone="Europe/Amsterdam",
                                   now=clock.now())
        created = await do_create_engagement(session, coach, coachee_name="Sanne", coachee_email=COACHEE,
                                             now=clock.now(), secret=SECRET)
        world = World(mail_settings(db_url, **mail), coach.id, coach.email, created.engagement.id, COACHEE)
        if second_coach:
            other = await do_add_coach(session, name="Joost Kok", email="joost@coaching.test",
                                       password=PASSWORD, language="en", time_zone="Europe/London",
                                       now=clock.now())
            await do_create_engagement(session, other, coachee_name="Pim", coachee_email="pim@example.test",
                                       now=clock.now(), secret=SECRET)
            world.other_coach_id, world.other_coach_email = other.id, other.email
        await session.commit()
    return world


def build_mail(*, sender: str = COACHEE, sender_name: str = "Sanne de Vries", to: str | None = None,
               cc: str | None = None, subject: str = "Hoe gaat het", text: str = "Hallo coach, het gaat goed.",
               message_id: str | None = "auto", headers: dict[str, str] | None = None,
               attachments: tuple[tuple[str, str, bytes], ...] = (), html: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = f"{sender_name} <{sender}>" if sender_name else sender
    message["To"] = to or f"coach@{DOMAIN}"
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Date"] = "Wed, 25 Nov 2026 09:00:00 +0000"
    if message_id == "auto":
        message_id = f"<m{next(_numbers)}.{id(message)}@example.test>"
    if message_id:
        message["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, ctype, data in attachments:
        main, _, sub = ctype.partition("/")
        message.add_attachment(data, maintype=main, subtype=sub, filename=filename)
    return message.as_bytes()


def dsn(original_message_id: str, *, action: str = "failed", status: str = "5.1.1",
        recipient: str = COACHEE) -> bytes:
    """A delivery status notification (RFC 3464) as Postfix sends it."""
    return (
        "From: MAILER-DAEMON@relay.test (Mail Delivery System)\r\n"
        f"To: coach@{DOMAIN}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <dsn.{next(_numbers)}@relay.test>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn-b"\r\n\r\n'
        "--dsn-b\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message "
        "could not be delivered.\r\n"
        "--dsn-b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; relay.test\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected\r\n\r\n"
        "--dsn-b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: Marieke Bos <coach@{DOMAIN}>\r\nTo: {recipient}\r\nSubject: Re: Hoe gaat het\r\n"
        f"Message-ID: {original_message_id}\r\n\r\n"
        "--dsn-b--\r\n"
    ).encode()


async def take(world: World, sessions, hub: Hub, clock: FixedClock, raw: bytes, **kw: Any) -> Outcome:  # type: ignore[no-untyped-def]
    """Take one mail in; its events reach the hub of ``sessions``' event bus (``hub``, in tests)."""
    return await take_in_mail(sessions, raw, source="test", settings=world.settings, clock=clock, **kw)


async def count(sessions, model, *where) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        stmt = select(func.count()).select_from(model)
        for clause in where:
            stmt = stmt.where(clause)
        return int((await session.execute(stmt)).scalar_one())


async def all_rows(sessions, model, *where):  # type: ignore[no-untyped-def]
    async with sessions() as session:
        stmt = select(model).order_by(model.id if hasattr(model, "id") else model.exchange_id)
        for clause in where:
            stmt = stmt.where(clause)
        return list((await session.execute(stmt)).scalars())


async def placed_once(sessions, outcome: Outcome) -> None:  # type: ignore[no-untyped-def]
    """The mail is in the logbook or the quarantine exactly once, with one dedupe row."""
    key = outcome.mail.dedupe_key
    assert await count(sessions, InboundMail, InboundMail.dedupe_key == key) == 1
    exchanges = await count(sessions, Exchange, Exchange.channel == "mail", Exchange.direction == "in",
                            Exchange.external_id.like("mail:%"))
    held = await count(sessions, Quarantine)
    if outcome.kind == "exchange":
        assert outcome.recorded is not None
        assert (exchanges, held) == (1, 0)
        assert await count(sessions, MailSource, MailSource.exchange_id == outcome.recorded.exchange.id) == 1
    elif outcome.kind == "quarantine":
        assert (exchanges, held) == (0, 1)
    else:
        assert outcome.kind == "bounce"
        assert (exchanges, held) == (0, 0)

