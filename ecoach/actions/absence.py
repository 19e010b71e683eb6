"""Automatic replies to a coachee's mail: the absence reply, and the acknowledgement.

Both are loop-safe (RFC 3834): sent with ``Auto-Submitted: auto-replied``, never to mail
that is itself automatic or bulk (``ParsedMail.auto_submitted``: Auto-Submitted,
Precedence, List-*, bounces), never to our own addresses, and at most once per
engagement per absence (``absence_reply`` has a unique row per pair). Threaded to the
coachee's mail, with the engagement's reply address, in the engagement's language.

The absence reply is a step of the inbound mail pipeline (``mail_inbound``), right after
the mail is recorded, in the same transaction. Set-based for a batch of mails: one query
finds the coaches who are away; only then one INSERT claims the replies and the texts are
read (coaches, calendars) for the claimed ones alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.agreement_texts import (
    ABSENCE_BODY, ABSENCE_EMERGENCY, ABSENCE_SUBJECT, ABSENCE_SUBSTITUTE, format_day,
)
from ecoach.core.crisis.resources import CrisisResource
from ecoach.core.i18n import translations
from ecoach.core.working_time import WorkingCalendar
from ecoach.logbook.availability_models import AbsenceReply, AvailabilityException
from ecoach.logbook.availability_queries import get_working_calendars
from ecoach.logbook.crisis_queries import get_resources_for
from ecoach.logbook.models import Coach, Engagement
from ecoach.settings import MailSettings

log = logging.getLogger(__name__)


async def queue_auto_reply(
    session: AsyncSession, *, mail: MailSettings, secret: str, engagement: Engagement, from_name: str,
    to_address: str, to_name: str | None, subject: str, text: str, in_reply_to: str | None,
    references: Sequence[str], kind: str, now: datetime,
) -> None:
    from ecoach.actions.mail_outbox import do_enqueue_mail
    from ecoach.core.mail.compose import compose_mail
    from ecoach.core.reply_tokens import make_token, reply_address

    token = make_token(secret, engagement.id)
    message, message_id = compose_mail(
        from_name=from_name, from_address=mail.sender, to_address=to_address, to_name=to_name,
        reply_to=reply_address(token, local=mail.reply_local, domain=mail.domain, form=mail.reply_form),
        subject=subject, text=text, html=None, message_id_domain=mail.domain, in_reply_to=in_reply_to,
        references=[*references, *([in_reply_to] if in_reply_to else [])], auto="auto-replied", date=now,
    )
    await do_enqueue_mail(session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
                          recipient=to_address, kind=kind, engagement_id=engagement.id, now=now)


def is_our_address(address: str, mail: MailSettings) -> bool:
    """Mail from ecoach itself (or anything at our reply local part) is never answered."""
    local, _, domain = address.lower().rpartition("@")
    ours_local = mail.reply_local.lower()
    return (address.lower() == mail.sender.lower()
            or (domain == mail.domain.lower() and (local == ours_local or local.startswith(ours_local + "+"))))


@dataclass(frozen=True)
class AbsenceAsk:
    """An inbound mail just recorded in ``engagement``: does it get the absence reply?"""

    engagement: Engagement
    from_address: str | None
    from_name: str | None
    subject: str
    message_id: str | None
    references: Sequence[str]
    auto_submitted: bool


@dataclass(frozen=True)
class PlannedReply:
    ask: AbsenceAsk
    exception_id: int
    coach_name: str
    text: str


def ask_for(parsed, engagement: Engagement) -> AbsenceAsk:  # type: ignore[no-untyped-def]
    """The question for a ``ParsedMail`` (not imported: actions do not import channels)."""
    return AbsenceAsk(engagement, parsed.from_address, parsed.from_name, parsed.subject, parsed.message_id,
                      parsed.references, parsed.auto_submitted)


async def plan_absence_replies(
    session: AsyncSession, asks: Sequence[AbsenceAsk], mail: MailSettings, now: datetime
) -> dict[int, PlannedReply]:
    """Which asks (by position) get an absence reply, with its text; the replies are
    claimed (at most one per engagement per absence, the earliest mail of the batch)."""
    eligible = [(i, ask) for i, ask in enumerate(asks)
                if not ask.auto_submitted and ask.from_address and not is_our_address(ask.from_address, mail)]
    if not eligible:
        return {}
    absences = await _current_absences(session, {ask.engagement.coach_id for _, ask in eligible}, now)
    first: dict[int, tuple[int, AbsenceAsk]] = {}
    for i, ask in eligible:
        if ask.engagement.coach_id in absences:
            first.setdefault(ask.engagement.id, (i, ask))
    if not first:
        return {}
    claims = {eid: absences[ask.engagement.coach_id].id for eid, (_, ask) in first.items()}
    claimed = await _claim(session, claims, now)
    if not claimed:
        return {}
    coach_ids = {first[eid][1].engagement.coach_id for eid in claimed}
    coaches = {c.id: c for c in (await session.execute(select(Coach).where(Coach.id.in_(coach_ids)))).scalars()}
    calendars = await get_working_calendars(session, coach_ids, ["mail"], since=now - timedelta(days=1))
    resources = await get_resources_for(session, {(first[eid][1].engagement.coach_id, first[eid][1].engagement.language)
                                                  for eid in claimed})
    plan = {}
    for eid in sorted(claimed, key=lambda e: first[e][0]):
        i, ask = first[eid]
        coach, absence = coaches[ask.engagement.coach_id], absences[ask.engagement.coach_id]
        text = absence_text(absence, coach, ask.engagement, calendars[(coach.id, "mail")], now,
                            resources[(coach.id, ask.engagement.language)])
        plan[i] = PlannedReply(ask, absence.id, coach.name, text)
        log.info("absence reply claimed for engagement %s (exception %s)", eid, absence.id)
    return plan


async def _current_absences(
    session: AsyncSession, coach_ids: set[int], now: datetime
) -> dict[int, AvailabilityException]:
    """Per coach, the exception with an auto-reply they are in right now (the latest ending)."""
    x = AvailabilityException
    stmt = (
        select(x)
        .where(x.coach_id.in_(sorted(coach_ids)), x.ends_at > now, x.starts_at <= now, x.auto_reply.is_(True))
        .order_by(x.coach_id, x.ends_at.desc(), x.id.desc())
    )
    found: dict[int, AvailabilityException] = {}
    for absence in (await session.execute(stmt)).scalars():
        found.setdefault(absence.coach_id, absence)
    return found


async def _claim(session: AsyncSession, claims: dict[int, int], now: datetime) -> set[int]:
    """Insert the (absence, engagement) rows in one statement; returns the engagements
    whose row is new (a reply was not sent for this absence before)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(AbsenceReply)
        .values([{"exception_id": xid, "engagement_id": eid, "sent_at": now} for eid, xid in claims.items()])
        .on_conflict_do_nothing()
        .returning(AbsenceReply.engagement_id)
    )
    return set((await session.execute(stmt)).scalars())


async def queue_absence_reply(
    session: AsyncSession, reply: PlannedReply, *, mail: MailSettings, secret: str, now: datetime
) -> None:
    ask = reply.ask
    assert ask.from_address is not None
    t = translations(ask.engagement.language)
    await queue_auto_reply(
        session, mail=mail, secret=secret, engagement=ask.engagement, from_name=reply.coach_name,
        to_address=ask.from_address, to_name=ask.from_name,
        subject=t.gettext(ABSENCE_SUBJECT) % {"subject": ask.subject}, text=reply.text,
        in_reply_to=ask.message_id, references=ask.references, kind="absence_reply", now=now,
    )


async def do_absence_reply(
    session: AsyncSession, *, engagement: Engagement, from_address: str | None, from_name: str | None,
    subject: str, message_id: str | None, references: Sequence[str], auto_submitted: bool,
    mail: MailSettings, secret: str, now: datetime,
) -> bool:
    """Answer one inbound mail when the coach is away; True if a reply was queued."""
    ask = AbsenceAsk(engagement, from_address, from_name, subject, message_id, references, auto_submitted)
    plan = await plan_absence_replies(session, [ask], mail, now)
    if 0 not in plan:
        return False
    await queue_absence_reply(session, plan[0], mail=mail, secret=secret, now=now)
    return True


def absence_text(
    absence: AvailabilityException, coach: Coach, engagement: Engagement, calendar: WorkingCalendar, now: datetime,
    resources: Sequence[CrisisResource] = (),
) -> str:
    """The reply: when the coach is back (the next working moment for mail), the note and
    the contacts, in the engagement's language; always the coach's crisis resources last."""
    back = calendar.next_open(max(absence.ends_at, now)) or absence.ends_at
    t = translations(engagement.language)
    parts = [t.gettext(ABSENCE_BODY) % {
        "coach": coach.name, "back": format_day(back, engagement.time_zone, engagement.language)}]
    if absence.return_note.strip():
        parts.append(absence.return_note.strip())
    if absence.substitute.strip():
        parts.append(t.gettext(ABSENCE_SUBSTITUTE) % {"contact": absence.substitute.strip()})
    if absence.emergency_contact.strip():
        parts.append(t.gettext(ABSENCE_EMERGENCY) % {"contact": absence.emergency_contact.strip()})
    if resources:
        from ecoach.actions.crisis import resources_text

        parts.append(resources_text(resources, engagement.language))
    return "\n\n".join(parts)
