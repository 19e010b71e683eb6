"""Reading coaching groups: a coach's groups, members, the conversation, group sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.booking_models import Booking
from ecoach.logbook.group_models import CoachingGroup, GroupMember, GroupMemberLeft, GroupMessage, GroupSession
from ecoach.logbook.models import Coachee, Engagement, Exchange


@dataclass(frozen=True)
class GroupRow:
    group: CoachingGroup
    members: int


@dataclass(frozen=True)
class Membership:
    """One engagement's time in one group, now or before (``left_at`` None: still in it)."""
    group: CoachingGroup
    periods: tuple[tuple[datetime, datetime | None], ...]

    @property
    def current(self) -> bool:
        return any(end is None for _start, end in self.periods)


@dataclass(frozen=True)
class MemberRow:
    engagement: Engagement
    name: str


async def get_groups(session: AsyncSession, coach_id: int) -> list[GroupRow]:
    members = (select(GroupMember.group_id, func.count().label("n")).group_by(GroupMember.group_id)).subquery()
    stmt = (select(CoachingGroup, func.coalesce(members.c.n, 0))
            .outerjoin(members, members.c.group_id == CoachingGroup.id)
            .where(CoachingGroup.coach_id == coach_id).order_by(CoachingGroup.id.desc()))
    return [GroupRow(row[0], int(row[1])) for row in await session.execute(stmt)]


async def get_unread_groups(session: AsyncSession, coach_id: int, *,
                            since: datetime | None = None) -> list[CoachingGroup]:
    """The coach's groups with members' messages not read yet, newest first (the inbox; the
    digest with ``since``). One probe of ``ix_coaching_group_coach`` for a coach without groups."""
    stmt = select(CoachingGroup).where(CoachingGroup.coach_id == coach_id, CoachingGroup.coach_unread > 0)
    if since is not None:
        stmt = stmt.where(CoachingGroup.last_message_at > since)
    rows = list((await session.execute(stmt)).scalars())
    return sorted(rows, key=lambda g: (g.last_message_at is not None, g.last_message_at), reverse=True)


async def get_group(session: AsyncSession, coach_id: int, group_id: int) -> CoachingGroup | None:
    """The group if it is this coach's, else None."""
    stmt = select(CoachingGroup).where(CoachingGroup.id == group_id, CoachingGroup.coach_id == coach_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_group_by_id(session: AsyncSession, group_id: int) -> CoachingGroup | None:
    """Any group: only for a caller that proved membership (``get_membership``)."""
    return await session.get(CoachingGroup, group_id)


async def get_membership(session: AsyncSession, group_id: int, engagement_id: int) -> GroupMember | None:
    stmt = select(GroupMember).where(GroupMember.group_id == group_id, GroupMember.engagement_id == engagement_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def count_members(session: AsyncSession, group_id: int) -> int:
    return int(await session.scalar(select(func.count()).select_from(GroupMember)
                                     .where(GroupMember.group_id == group_id)) or 0)


async def get_members(session: AsyncSession, group_id: int) -> list[MemberRow]:
    stmt = (select(Engagement, Coachee.name).join(GroupMember, GroupMember.engagement_id == Engagement.id)
            .join(Coachee, Coachee.id == Engagement.coachee_id)
            .where(GroupMember.group_id == group_id).order_by(GroupMember.id))
    return [MemberRow(row[0], row[1]) for row in await session.execute(stmt)]


async def get_member_engagements(session: AsyncSession, group_id: int) -> list[Engagement]:
    stmt = (select(Engagement).join(GroupMember, GroupMember.engagement_id == Engagement.id)
            .where(GroupMember.group_id == group_id).order_by(GroupMember.id))
    return list((await session.execute(stmt)).scalars())


async def get_member_coachees(session: AsyncSession, coachee_ids: list[int]) -> dict[int, Coachee]:
    """The members' coachees in one query (a group session's invites)."""
    if not coachee_ids:
        return {}
    rows = await session.execute(select(Coachee).where(Coachee.id.in_(sorted(set(coachee_ids)))))
    return {c.id: c for c in rows.scalars()}


async def get_groups_of(session: AsyncSession, engagement_id: int) -> list[CoachingGroup]:
    """The groups this engagement's coachee is in."""
    stmt = (select(CoachingGroup).join(GroupMember, GroupMember.group_id == CoachingGroup.id)
            .where(GroupMember.engagement_id == engagement_id).order_by(CoachingGroup.id))
    return list((await session.execute(stmt)).scalars())


async def get_messages(session: AsyncSession, group_id: int, *, after_id: int | None = None,
                       limit: int = 200) -> list[GroupMessage]:
    """The conversation in order: the newest ``limit``, or those after ``after_id``."""
    stmt = select(GroupMessage).where(GroupMessage.group_id == group_id)
    if after_id is not None:
        stmt = stmt.where(GroupMessage.id > after_id).order_by(GroupMessage.id.asc()).limit(limit)
        return list((await session.execute(stmt)).scalars())
    rows = list((await session.execute(stmt.order_by(GroupMessage.id.desc()).limit(limit))).scalars())
    rows.reverse()
    return rows


async def get_message_by_external_id(session: AsyncSession, group_id: int, external_id: str) -> GroupMessage | None:
    stmt = select(GroupMessage).where(GroupMessage.group_id == group_id, GroupMessage.external_id == external_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_group_sessions(session: AsyncSession, group_id: int, since: datetime) -> list[Booking]:
    stmt = (select(Booking).join(GroupSession, GroupSession.booking_id == Booking.id)
            .where(GroupSession.group_id == group_id, Booking.ends_at > since, Booking.status == "confirmed")
            .order_by(Booking.starts_at))
    return list((await session.execute(stmt)).scalars())


async def get_memberships(session: AsyncSession, engagement_id: int) -> list[Membership]:
    """Every group this engagement is or was in, with its periods (the data package)."""
    periods: dict[int, list[tuple[datetime, datetime | None]]] = {}
    now_in = select(GroupMember.group_id, GroupMember.joined_at).where(GroupMember.engagement_id == engagement_id)
    for group_id, joined in await session.execute(now_in):
        periods.setdefault(group_id, []).append((joined, None))
    left = select(GroupMemberLeft.group_id, GroupMemberLeft.joined_at, GroupMemberLeft.left_at).where(
        GroupMemberLeft.engagement_id == engagement_id)
    for group_id, joined, ended in await session.execute(left):
        periods.setdefault(group_id, []).append((joined, ended))
    if not periods:
        return []
    groups = (await session.execute(select(CoachingGroup).where(CoachingGroup.id.in_(periods))
                                    .order_by(CoachingGroup.id))).scalars()
    return [Membership(g, tuple(sorted(periods[g.id], key=lambda p: p[0]))) for g in groups]


async def get_readable_page(session: AsyncSession, membership: Membership, engagement_id: int, *,
                            after_id: int, up_to: datetime, limit: int) -> list[GroupMessage]:
    """The group's messages this member could read: their own, and everyone's written while
    they were in the group; in order, after ``after_id``, not after ``up_to``."""
    during = [and_(GroupMessage.created_at >= start, GroupMessage.created_at <= (end or up_to))
              for start, end in membership.periods]
    stmt = (select(GroupMessage)
            .where(GroupMessage.group_id == membership.group.id, GroupMessage.id > after_id,
                   GroupMessage.created_at <= up_to, or_(GroupMessage.engagement_id == engagement_id, *during))
            .order_by(GroupMessage.id).limit(limit))
    return list((await session.execute(stmt)).scalars())


async def get_group_booking(session: AsyncSession, group_id: int, booking_id: int) -> Booking | None:
    """One session of this group (any status), else None."""
    stmt = (select(Booking).join(GroupSession, GroupSession.booking_id == Booking.id)
            .where(GroupSession.group_id == group_id, Booking.id == booking_id))
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_told_engagements(session: AsyncSession, group_id: int, external_id: str) -> list[Engagement]:
    """The engagements of the group, now or before, whose timeline holds ``external_id``
    (a group session's first entry: who got the session, so who hears of its change).
    Looked up per engagement through the exchange's (engagement, external id) key."""
    ever = select(GroupMember.engagement_id).where(GroupMember.group_id == group_id).union(
        select(GroupMemberLeft.engagement_id).where(GroupMemberLeft.group_id == group_id))
    told = select(Exchange.engagement_id).where(Exchange.engagement_id.in_(ever), Exchange.external_id == external_id)
    stmt = select(Engagement).where(Engagement.id.in_(told)).order_by(Engagement.id)
    return list((await session.execute(stmt)).scalars())
