"""Other coaches on an engagement: co-coaches and supervisors, and what a supervisor may read.

Only the engagement's owner adds or removes them (``access.get_owned_engagement``). A
co-coach reaches the engagement as its owner does (``ecoach.logbook.access``); removing
one takes effect at once: every page asks the database again, and the event
``access_removed`` on the co-coach's topic makes their open sockets forget the engagement.

A supervisor reads only the exchanges the coach shares with them, one by one, never a
private note, and every read is in the audit trail (``do_read_shared``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.audit import do_note_view, record_audit
from ecoach.actions.errors import ActionError, Conflict, N_, NotFound
from ecoach.actions.unit import emit
from ecoach.core import topics
from ecoach.core.inputs import parse_int
from ecoach.logbook import queries
from ecoach.logbook import team_queries as tq
from ecoach.logbook.group_models import CO_COACH, ROLES, SUPERVISOR, EngagementMember, SupervisionItem
from ecoach.logbook.models import Coach, Engagement, Exchange

MAX_SHARED = 200


async def check_other_coach(session: AsyncSession, owner: Coach, engagement: Engagement, email: object) -> Coach:
    """The coach account behind ``email``: active, not the owner, not on the engagement yet."""
    found = await queries.get_coach_by_email(session, str(email or "")[:320])
    if found is None or found.deactivated_at is not None:
        raise ActionError("coach_unknown", N_("There is no coach with this e-mail address in this practice."))
    if found.id == owner.id:
        raise ActionError("coach_is_owner", N_("You are this coachee's coach already."))
    taken = await session.scalar(select(EngagementMember.role).where(
        EngagementMember.engagement_id == engagement.id, EngagementMember.coach_id == found.id))
    if taken is not None:
        raise Conflict("coach_on_engagement", N_("%(name)s is on this engagement already."), name=found.name)
    return found


async def do_add_member(session: AsyncSession, owner: Coach, engagement: Engagement, *, email: object,
                        role: object, now: datetime) -> EngagementMember:
    if role not in ROLES:
        raise ActionError("role_unknown", N_("Choose co-coach or supervisor."))
    other = await check_other_coach(session, owner, engagement, email)
    member = EngagementMember(engagement_id=engagement.id, coach_id=other.id, role=str(role), added_at=now)
    session.add(member)
    await session.flush()
    record_audit(session, f"{role}_added", coach_id=owner.id, engagement_id=engagement.id, now=now, member=other.id)
    emit(session, topics.coach(other.id), {"type": "access_added", "engagement_id": engagement.id,
                                           "coach_id": owner.id, "role": role})
    return member


async def do_remove_member(session: AsyncSession, owner: Coach, engagement: Engagement, member_id: object,
                           *, now: datetime) -> EngagementMember:
    """Remove a co-coach or supervisor (and everything shared with that supervisor)."""
    number = parse_int(member_id)
    member = await session.get(EngagementMember, number) if number is not None else None
    if member is None or member.engagement_id != engagement.id:
        raise NotFound("member_unknown", N_("This coach is not on this engagement (any more)."))
    await session.execute(delete(SupervisionItem).where(
        SupervisionItem.engagement_id == engagement.id, SupervisionItem.supervisor_id == member.coach_id))
    await session.delete(member)
    await session.flush()
    record_audit(session, f"{member.role}_removed", coach_id=owner.id, engagement_id=engagement.id, now=now,
                 member=member.coach_id)
    # The removed coach's open sockets forget the engagement at once (channels/chat/co_coaching).
    emit(session, topics.coach(member.coach_id), {"type": "access_removed", "engagement_id": engagement.id})
    return member


async def _supervisor(session: AsyncSession, engagement: Engagement, supervisor_id: object) -> int:
    number = parse_int(supervisor_id)
    role = await session.scalar(select(EngagementMember.role).where(
        EngagementMember.engagement_id == engagement.id, EngagementMember.coach_id == number))
    if number is None or role != SUPERVISOR:
        raise NotFound("supervisor_unknown", N_("Add this coach as a supervisor of the engagement first."))
    return number


async def do_share_with_supervisor(session: AsyncSession, owner: Coach, engagement: Engagement, *,
                                   supervisor_id: object, exchange_ids: Iterable[object], now: datetime) -> int:
    """Share these exchanges with the supervisor; returns how many were new. Private notes
    (and anything internal) are refused, whatever ids a form sends."""
    supervisor = await _supervisor(session, engagement, supervisor_id)
    wanted = {n for n in (parse_int(i) for i in exchange_ids) if n is not None}
    if not wanted:
        raise ActionError("nothing_chosen", N_("Choose at least one message to share."))
    if len(wanted) > MAX_SHARED:
        raise ActionError("too_many_chosen", N_("Share at most %(limit)s messages at once."), limit=MAX_SHARED)
    rows = (await session.execute(select(Exchange.id, Exchange.direction).where(
        Exchange.id.in_(wanted), Exchange.engagement_id == engagement.id))).all()
    if len(rows) != len(wanted):
        raise NotFound("exchange_unknown", N_("One of the chosen messages is not in this engagement."))
    if any(direction == "internal" for _, direction in rows):
        raise ActionError("note_private", N_("Private notes are never shared with a supervisor."))
    already = set((await session.execute(select(SupervisionItem.exchange_id).where(
        SupervisionItem.supervisor_id == supervisor, SupervisionItem.exchange_id.in_(wanted)))).scalars())
    for exchange_id in sorted(wanted - already):
        session.add(SupervisionItem(engagement_id=engagement.id, exchange_id=exchange_id, supervisor_id=supervisor,
                                    shared_at=now))
    await session.flush()
    record_audit(session, "supervision_shared", coach_id=owner.id, engagement_id=engagement.id, now=now,
                 member=supervisor, count=len(wanted - already))
    return len(wanted - already)


async def do_withdraw_shares(session: AsyncSession, owner: Coach, engagement: Engagement, *,
                             supervisor_id: object, now: datetime) -> None:
    supervisor = await _supervisor(session, engagement, supervisor_id)
    await session.execute(delete(SupervisionItem).where(
        SupervisionItem.engagement_id == engagement.id, SupervisionItem.supervisor_id == supervisor))
    record_audit(session, "supervision_withdrawn", coach_id=owner.id, engagement_id=engagement.id, now=now,
                 member=supervisor)


async def do_read_shared(session: AsyncSession, supervisor: Coach, engagement_id: int,
                         *, now: datetime) -> tq.SharedCase:
    """What was shared with this supervisor on one engagement; the read is audited (in the
    owner's trail, with the supervisor as actor)."""
    case = await tq.get_shared_case(session, supervisor.id, engagement_id)
    if case is None:
        raise NotFound("nothing_shared", N_("Nothing of this engagement has been shared with you."))
    await do_note_view(session, "supervision_viewed", case.owner_id, engagement_id=engagement_id, now=now,
                       count=len(case.exchanges))
    return case


def is_co_coach(role: str | None) -> bool:
    return role == CO_COACH
