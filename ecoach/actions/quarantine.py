"""The coach decides about quarantined mail: assign it to an engagement, release it to
the engagement it was addressed to, or discard it. Discarded mail stays listed.

Every function is scoped by the coach: another coach's entry is simply not found."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.audit import record_audit
from ecoach.actions.crisis import Signalled, check_crisis, do_flag_crisis
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.exchanges import Recorded
from ecoach.actions.mail_inbound import count_held, record_mail
from ecoach.actions.unit import emit
from ecoach.core import topics
from ecoach.core.mail.parse import parse_mail
from ecoach.logbook import queries
from ecoach.logbook.mail_models import InboundMail, Quarantine
from ecoach.logbook.models import Coachee
from ecoach.settings import MailSettings

__all__ = ["count_held", "do_assign", "do_discard", "do_restore", "do_hand_to_coach", "get_quarantine", "get_unowned"]


async def get_quarantine(session: AsyncSession, coach_id: int, *, status: str = "held", limit: int = 100) -> list[Quarantine]:
    stmt = (
        select(Quarantine)
        .where(Quarantine.coach_id == coach_id, Quarantine.status == status)
        .order_by(Quarantine.received_at.desc(), Quarantine.id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def _held(session: AsyncSession, coach_id: int, entry_id: int) -> Quarantine:
    entry = await session.get(Quarantine, entry_id)
    if entry is None or entry.coach_id != coach_id:
        raise NotFound("quarantine_unknown", N_("This quarantined mail does not exist."))
    if entry.status != "held":
        raise ActionError("quarantine_resolved", N_("This mail has been dealt with already."))
    return entry


async def do_assign(
    session: AsyncSession, coach_id: int, entry_id: int, engagement_id: int | None,
    *, mail: MailSettings, now: datetime, base_url: str = "",
) -> Recorded:
    """Put a quarantined mail into an engagement's logbook (``None``: the one it was
    addressed to), in the caller's transaction. It is checked for crisis language as any
    arriving mail is (``mail_pipeline.crisis``): held mail is no less urgent."""
    entry = await _held(session, coach_id, entry_id)
    target = engagement_id if engagement_id is not None else entry.engagement_id
    if target is None:
        raise ActionError("quarantine_no_target", N_("Choose the engagement this mail belongs to."))
    engagement = await queries.get_engagement(session, coach_id, target)
    if engagement is None:
        raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    coachee = await session.get(Coachee, engagement.coachee_id)
    assert coachee is not None
    parsed = parse_mail(entry.raw, max_bytes=mail.max_bytes)
    recorded = await record_mail(session, parsed, entry.raw, engagement, coachee, now, limit=mail.max_bytes,
                                 text_limit=mail.max_text_chars)
    if recorded.created:
        signals = check_crisis(recorded.exchange.body_text, engagement.language)
        if signals:
            await do_flag_crisis(session, [Signalled(recorded, engagement.language, signals)], now=now,
                                 mail=mail, base_url=base_url, in_chat=False)
    entry.status = "assigned" if engagement_id is not None else "released"
    entry.resolved_at = now
    entry.resolved_exchange_id = recorded.exchange.id
    await session.execute(
        update(InboundMail)
        .where(InboundMail.quarantine_id == entry.id)
        .values(outcome="exchange", exchange_id=recorded.exchange.id)
    )
    await emit_held_count(session, coach_id)
    return recorded


async def do_discard(session: AsyncSession, coach_id: int, entry_id: int, *, now: datetime) -> None:
    entry = await _held(session, coach_id, entry_id)
    entry.status = "discarded"
    entry.resolved_at = now
    await emit_held_count(session, coach_id)


async def do_restore(session: AsyncSession, coach_id: int, entry_id: int) -> None:
    """Undo a discard: the mail is held again, to be assigned or released."""
    entry = await session.get(Quarantine, entry_id)
    if entry is None or entry.coach_id != coach_id or entry.status != "discarded":
        raise NotFound("quarantine_unknown", N_("This quarantined mail does not exist."))
    entry.status = "held"
    entry.resolved_at = None
    await emit_held_count(session, coach_id)


async def emit_held_count(session: AsyncSession, coach_id: int) -> None:
    """After commit, the coach's pages show the new number of held mails."""
    await session.flush()
    emit(session, topics.coach(coach_id), {"type": "quarantine", "count": await count_held(session, coach_id)})


async def get_unowned(session: AsyncSession, *, limit: int = 100) -> list[Quarantine]:
    """Held mail no coach could be found for (several coaches and no owner configured for
    the mailbox): shown to the administrator, never to every coach."""
    stmt = (
        select(Quarantine)
        .where(Quarantine.coach_id.is_(None), Quarantine.status == "held")
        .order_by(Quarantine.received_at, Quarantine.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def do_hand_to_coach(session: AsyncSession, entry_id: int, coach_email: str) -> Quarantine:
    """Give an unowned quarantined mail to a coach, who then decides about it on their
    quarantine page (in the caller's transaction)."""
    coach = await queries.get_coach_by_email(session, coach_email)
    if coach is None:
        raise NotFound("coach_unknown", N_("There is no coach with this e-mail address."))
    entry = await session.get(Quarantine, entry_id)
    if entry is None or entry.status != "held":
        raise NotFound("quarantine_unknown", N_("This quarantined mail does not exist."))
    if entry.coach_id is not None and entry.coach_id != coach.id:
        raise ActionError("quarantine_owned", N_("This mail is already with another coach."))
    entry.coach_id = coach.id
    await emit_held_count(session, coach.id)
    record_audit(session, "quarantine_handed", coach_id=coach.id, held=entry.id)  # the command's time
    return entry
