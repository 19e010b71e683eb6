"""Read queries for nudges (``get_*``, ``find_silent``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, cast, func, literal, literal_column, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.models import Engagement, UtcDateTime
from ecoach.logbook.nudge_models import ActionStep, Nudge, NudgePlan

# The shortest silence limit a plan may have.
MIN_SILENCE_DAYS = 3


async def get_plan(session: AsyncSession, engagement_id: int) -> NudgePlan | None:
    stmt = select(NudgePlan).where(NudgePlan.engagement_id == engagement_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_nudge(session: AsyncSession, engagement_id: int, nudge_id: int) -> Nudge | None:
    """The nudge if it belongs to this engagement (callers have checked the coach)."""
    stmt = select(Nudge).where(Nudge.id == nudge_id, Nudge.engagement_id == engagement_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_upcoming(session: AsyncSession, engagement_id: int, limit: int = 20) -> list[Nudge]:
    stmt = (
        select(Nudge)
        .where(Nudge.engagement_id == engagement_id, Nudge.status == "planned")
        .order_by(Nudge.due_at, Nudge.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def get_planned(session: AsyncSession, engagement_id: int, kind: str) -> list[Nudge]:
    stmt = (
        select(Nudge)
        .where(Nudge.engagement_id == engagement_id, Nudge.status == "planned", Nudge.kind == kind)
        .order_by(Nudge.due_at)
    )
    return list((await session.execute(stmt)).scalars())


async def get_occasions(session: AsyncSession, engagement_id: int, kind: str, since: str) -> set[str]:
    """Occasions of a kind from ``since`` on, whatever became of them (sent and skipped
    ones are not planned again)."""
    stmt = select(Nudge.occasion).where(
        Nudge.engagement_id == engagement_id, Nudge.kind == kind, Nudge.occasion >= since
    )
    return set((await session.execute(stmt)).scalars())


async def get_other_planned_between(
    session: AsyncSession, engagement_id: int, kind: str, start: datetime, end: datetime
) -> bool:
    """Is a nudge of another kind planned in [start, end)? (a more specific one that day)"""
    stmt = select(Nudge.id).where(
        Nudge.engagement_id == engagement_id, Nudge.status == "planned", Nudge.kind != kind,
        Nudge.due_at >= start, Nudge.due_at < end,
    ).limit(1)
    return (await session.execute(stmt)).first() is not None


async def get_action_steps(session: AsyncSession, engagement_id: int, limit: int = 20) -> list[ActionStep]:
    """Open action steps, soonest first."""
    stmt = (
        select(ActionStep)
        .where(ActionStep.engagement_id == engagement_id, ActionStep.cancelled_at.is_(None))
        .order_by(ActionStep.due_on.desc(), ActionStep.id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def get_alerted(session: AsyncSession, engagement_ids: list[int]) -> set[int]:
    """Which of these engagements have an unseen re-engagement alert (the inbox badge)."""
    if not engagement_ids:
        return set()
    stmt = select(NudgePlan.engagement_id).where(
        NudgePlan.engagement_id.in_(engagement_ids), NudgePlan.alert_at.is_not(None)
    )
    return set((await session.execute(stmt)).scalars())


async def get_next_session(session: AsyncSession, engagement_id: int, now: datetime) -> datetime | None:
    """Start of the next booked session, when the booking area keeps bookings."""
    try:
        from ecoach.logbook.booking_models import ACTIVE, Booking
    except ImportError:  # pragma: no cover - booking not installed
        return None
    stmt = (
        select(Booking.starts_at)
        .where(Booking.engagement_id == engagement_id, Booking.status.in_(ACTIVE), Booking.starts_at > now)
        .order_by(Booking.starts_at)
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


@dataclass(frozen=True)
class Silent:
    engagement_id: int
    quiet_since: datetime


async def get_shortest_silence(session: AsyncSession, default_days: int) -> int:
    """The shortest silence limit in use (0: none): where the index ranges below start.
    One probe of ``ix_nudge_plan_silence``."""
    shortest = (await session.execute(
        select(func.min(NudgePlan.silence_days)).where(NudgePlan.silence_days > 0))).scalar()
    return min((d for d in (default_days, shortest or 0) if d > 0), default=0)


def _silent_statement(session: AsyncSession, now: datetime, default_days: int, floor_days: int, limit: int):  # type: ignore[no-untyped-def]
    """Active engagements where nothing but our own nudges happened for their silence
    limit, not yet checked in on for this silence. One statement of two index ranges,
    both starting at the shortest limit in use:

    - the last exchange is someone's message: quiet since ``engagement.last_exchange_at``
      (``ix_engagement_silence``: status, last_exchange_at);
    - the last exchange is our nudge: quiet since ``nudge_plan.activity_at``
      (``ix_nudge_plan_activity``).

    No ORDER BY: any ``limit`` of them will do (each is marked as answered), so the
    scan stops as soon as it has enough."""
    e, p = Engagement, NudgePlan
    floor = now - timedelta(days=floor_days)
    ours = and_(p.last_nudge_exchange_id.is_not(None), p.last_nudge_exchange_id == e.last_exchange_id)
    days = func.coalesce(p.silence_days, default_days)
    common = (e.status == "active", e.waiting_since.is_(None), p.paused_at.is_(None))
    by_message = (
        select(e.id.label("engagement_id"), e.last_exchange_at.label("quiet_since"), days.label("days"),
               p.checkin_for.label("checkin_for"))
        .select_from(e).outerjoin(p, p.engagement_id == e.id)
        .where(*common, e.last_exchange_at < floor, ~func.coalesce(ours, False))
    )
    by_nudge = (
        select(e.id, p.activity_at, days, p.checkin_for)
        .select_from(p).join(e, e.id == p.engagement_id)
        .where(*common, p.activity_at < floor, ours)
    )
    u = union_all(by_message, by_nudge).subquery()
    if session.get_bind().dialect.name == "postgresql":
        older = u.c.quiet_since < cast(literal(now, UtcDateTime()), UtcDateTime()) - u.c.days * literal_column("INTERVAL '1 day'")
    else:
        stamp = now.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        older = func.julianday(u.c.quiet_since) < func.julianday(literal(stamp)) - u.c.days
    return (
        select(u.c.engagement_id, u.c.quiet_since)
        .where(u.c.days > 0, older, or_(u.c.checkin_for.is_(None), u.c.checkin_for < u.c.quiet_since))
        .limit(limit)
    )


async def find_silent(session: AsyncSession, now: datetime, default_days: int, limit: int) -> list[Silent]:
    floor_days = await get_shortest_silence(session, default_days)
    if not floor_days:
        return []
    rows = await session.execute(_silent_statement(session, now, default_days, floor_days, limit))
    return [Silent(row.engagement_id, _aware(row.quiet_since)) for row in rows]


def _aware(value: datetime | str) -> datetime:
    # Through a UNION the column type may be lost on SQLite: the stored text comes back.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)

