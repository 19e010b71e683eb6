"""Reading bookings, session types and booking links. Coach-facing reads are scoped by
coach id, so another coach's sessions are simply not found."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.booking_models import ACTIVE, Booking, BookingLink, BookingProfile, SessionType
from ecoach.logbook.models import Coachee, Engagement


async def get_session_types(session: AsyncSession, coach_id: int, *, active_only: bool = True,
                            intake: bool | None = None) -> list[SessionType]:
    stmt = select(SessionType).where(SessionType.coach_id == coach_id)
    if active_only:
        stmt = stmt.where(SessionType.active.is_(True))
    if intake is not None:
        stmt = stmt.where(SessionType.intake.is_(intake))
    stmt = stmt.order_by(SessionType.active.desc(), SessionType.name, SessionType.id)
    return list((await session.execute(stmt)).scalars())


async def get_session_type(session: AsyncSession, coach_id: int, type_id: int) -> SessionType | None:
    stmt = select(SessionType).where(SessionType.id == type_id, SessionType.coach_id == coach_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_profile(session: AsyncSession, coach_id: int) -> BookingProfile | None:
    return await session.get(BookingProfile, coach_id)


async def get_profile_by_feed(session: AsyncSession, digest: str) -> BookingProfile | None:
    stmt = select(BookingProfile).where(BookingProfile.feed_token_hash == digest)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_busy(session: AsyncSession, coach_id: int, start: datetime, end: datetime,
                   *, exclude_id: int | None = None) -> list[Booking]:
    """Active bookings whose busy range (with buffers) touches [start, end)."""
    stmt = select(Booking).where(
        Booking.coach_id == coach_id, Booking.status.in_(ACTIVE),
        Booking.busy_from < end, Booking.busy_until > start,
    )
    if exclude_id is not None:
        stmt = stmt.where(Booking.id != exclude_id)
    return list((await session.execute(stmt.order_by(Booking.busy_from))).scalars())


async def get_booking(session: AsyncSession, coach_id: int, booking_id: int) -> Booking | None:
    stmt = select(Booking).where(Booking.id == booking_id, Booking.coach_id == coach_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_booking_by_manage(session: AsyncSession, digest: str) -> Booking | None:
    stmt = select(Booking).where(Booking.manage_token_hash == digest)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_engagement_bookings(session: AsyncSession, engagement_id: int, *, limit: int = 50) -> list[Booking]:
    """An engagement's sessions, latest start first (cancelled ones too)."""
    stmt = (select(Booking).where(Booking.engagement_id == engagement_id)
            .order_by(Booking.starts_at.desc(), Booking.id.desc()).limit(limit))
    return list((await session.execute(stmt)).scalars())


async def get_coach_agenda(session: AsyncSession, coach_id: int, since: datetime, *,
                           limit: int = 200) -> list[tuple[Booking, str | None]]:
    """Active bookings ending after ``since``, soonest first, with the coachee's name."""
    stmt = (
        select(Booking, Coachee.name)
        .outerjoin(Engagement, Engagement.id == Booking.engagement_id)
        .outerjoin(Coachee, Coachee.id == Engagement.coachee_id)
        .where(Booking.coach_id == coach_id, Booking.status.in_(ACTIVE), Booking.ends_at > since)
        .order_by(Booking.starts_at).limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


async def get_feed_bookings(session: AsyncSession, coach_id: int, since: datetime) -> list[Booking]:
    stmt = (select(Booking).where(Booking.coach_id == coach_id, Booking.status.in_(ACTIVE),
                                  Booking.ends_at > since).order_by(Booking.starts_at))
    return list((await session.execute(stmt)).scalars())


async def get_booking_link(session: AsyncSession, digest: str) -> BookingLink | None:
    stmt = select(BookingLink).where(BookingLink.token_hash == digest)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_active_booking_link(session: AsyncSession, coach_id: int, engagement_id: int | None,
                                  now: datetime) -> BookingLink | None:
    owner = (BookingLink.engagement_id.is_(None) if engagement_id is None
             else BookingLink.engagement_id == engagement_id)
    stmt = (
        select(BookingLink)
        .where(BookingLink.coach_id == coach_id, owner, BookingLink.revoked_at.is_(None),
               or_(BookingLink.expires_at.is_(None), BookingLink.expires_at > now))
        .order_by(BookingLink.id.desc()).limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def count_requests(session: AsyncSession, coach_id: int, now: datetime) -> int:
    """Intake requests still waiting for the coach's answer (the badge in the navigation)."""
    from sqlalchemy import func

    stmt = select(func.count()).select_from(Booking).where(
        Booking.coach_id == coach_id, Booking.status == "requested", Booking.starts_at > now)
    return int((await session.execute(stmt)).scalar_one())
