"""Inbound mail that does not become an exchange: delivery reports about mail we sent
(bounces), and the quarantine that holds whatever cannot be placed safely, with its
reason, for the coach to assign, release or discard."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import N_
from ecoach.actions.mail_outbox import DeliveryChange, do_mark_bounced
from ecoach.actions.mail_routing import Route
from ecoach.core.mail.parse import ParsedMail
from ecoach.core.text import snippet
from ecoach.logbook.mail_models import MailOutbox, Quarantine
from ecoach.logbook.models import Coach

log = logging.getLogger(__name__)

# Reasons shown to the coach in the quarantine list (translated where shown).
REASONS = {
    "unknown_sender": N_("The sender is not a coachee of any engagement."),
    "ambiguous": N_("The sender has several active engagements and the mail carries no reply token."),
    "bad_token": N_("The reply address carries a token that is not valid."),
    "sender_mismatch": N_("The sender is not this engagement's coachee."),
    "engagement_closed": N_("The engagement this mail belongs to is closed."),
    "bounce_unmatched": N_("A delivery failure report that matches no mail we sent."),
}


@dataclass
class Bounce:
    bounced: int  # outbox rows it failed (0 for a delay or success report)
    changes: list[DeliveryChange] = field(default_factory=list)  # the coach sees them after commit


async def do_take_bounce(session: AsyncSession, parsed: ParsedMail, now: datetime) -> Bounce | None:
    """A delivery report about a mail we sent. Only a failure changes anything; a delay
    or success report is kept as a bounce. One about no mail of ours (None) is quarantined."""
    ids = parsed.bounce_original_message_ids
    status = parsed.bounce_status or ""
    failed = parsed.bounce_action == "failed" or (parsed.bounce_action is None and status.startswith("5"))
    changes: list[DeliveryChange] = []
    if failed:
        matched = await do_mark_bounced(session, ids, status or "bounced", now, changes=changes)
    else:
        matched = await _sent_by_us(session, ids)
    if not matched:
        return None
    return Bounce(matched if failed else 0, changes)


async def _sent_by_us(session: AsyncSession, message_ids: list[str]) -> int:
    wanted = {v for mid in message_ids for v in (mid, mid.strip("<>"))}
    if not wanted:
        return 0
    stmt = select(func.count()).where(MailOutbox.message_id.in_(wanted))
    return int((await session.execute(stmt)).scalar_one())


async def do_hold_mails(
    session: AsyncSession, held: Sequence[tuple[ParsedMail, bytes, Route]], now: datetime
) -> list[Quarantine]:
    """Held whole, as they came: the coach decides what becomes of them (one INSERT)."""
    entries = []
    for parsed, raw, route in held:
        reason = route.reason or "unknown_sender"
        entries.append(Quarantine(
            coach_id=route.coach_id, engagement_id=route.engagement.id if route.engagement else None,
            reason_code=reason, reason_detail=REASONS[reason], from_address=parsed.from_address,
            subject=parsed.subject[:1000], snippet=snippet(parsed.new_text or parsed.text or "", 500),
            raw=raw, received_at=now, status="held",
        ))
        if route.coach_id is None:
            log.warning("mail %s quarantined (%s) with no coach to see it: `ecoach quarantine list` "
                        "shows it; set mail.mailboxes coach_email or mail.lmtp_coach_email",
                        parsed.dedupe_key, reason)
        log.info("mail %s quarantined: %s", parsed.dedupe_key, reason)
    if entries:
        session.add_all(entries)
        await session.flush()
    return entries


async def get_default_owner(session: AsyncSession) -> int | None:
    """Mail no engagement claims is shown to the server's only coach, if there is one."""
    ids = (await session.execute(select(Coach.id).order_by(Coach.id).limit(2))).scalars().all()
    return ids[0] if len(ids) == 1 else None


async def count_held(session: AsyncSession, coach_id: int) -> int:
    return (await count_held_by_coach(session, {coach_id})).get(coach_id, 0)


async def count_held_by_coach(session: AsyncSession, coach_ids: set[int]) -> dict[int, int]:
    """Each coach's held mail (the inbox badge), in one query."""
    if not coach_ids:
        return {}
    stmt = (select(Quarantine.coach_id, func.count())
            .where(Quarantine.coach_id.in_(sorted(coach_ids)), Quarantine.status == "held")
            .group_by(Quarantine.coach_id))
    counts = {coach_id: 0 for coach_id in coach_ids}
    counts.update({coach_id: int(n) for coach_id, n in (await session.execute(stmt)).all()})
    return counts
