"""Reading the session structure: forms by link or by session, closes, reviews, the
number of sessions held. Every query is by an indexed column (token digest, booking,
engagement)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.booking_models import Booking
from ecoach.logbook.nudge_models import ActionStep
from ecoach.logbook.session_models import FormRequest, SessionClose, SessionReview


async def get_form_by_token(session: AsyncSession, digest: str) -> FormRequest | None:
    stmt = select(FormRequest).where(FormRequest.token_hash == digest)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_current_form(session: AsyncSession, engagement_id: int, kind: str, *, booking_id: int | None = None,
                           round: str | None = None, respondent: str = "coachee") -> FormRequest | None:
    """The newest form of this kind (for this session or round) not replaced by another."""
    stmt = select(FormRequest).where(
        FormRequest.engagement_id == engagement_id, FormRequest.kind == kind,
        FormRequest.respondent == respondent, FormRequest.replaced_at.is_(None),
    )
    stmt = stmt.where(FormRequest.booking_id == booking_id if booking_id is not None
                      else FormRequest.booking_id.is_(None))
    stmt = stmt.where(FormRequest.round == round if round is not None else FormRequest.round.is_(None))
    return (await session.execute(stmt.order_by(FormRequest.id.desc()).limit(1))).scalar_one_or_none()


async def get_session_forms(session: AsyncSession, booking_ids: Sequence[int]) -> list[FormRequest]:
    """Check-ins and feedback forms of these sessions that were not replaced."""
    if not booking_ids:
        return []
    stmt = (select(FormRequest)
            .where(FormRequest.booking_id.in_(list(booking_ids)), FormRequest.replaced_at.is_(None))
            .order_by(FormRequest.id))
    return list((await session.execute(stmt)).scalars())


async def get_engagement_forms(session: AsyncSession, engagement_id: int, kinds: Sequence[str]) -> list[FormRequest]:
    stmt = (select(FormRequest)
            .where(FormRequest.engagement_id == engagement_id, FormRequest.kind.in_(list(kinds)),
                   FormRequest.replaced_at.is_(None))
            .order_by(FormRequest.id))
    return list((await session.execute(stmt)).scalars())


async def get_open_forms(session: AsyncSession, engagement_id: int, now: datetime) -> list[FormRequest]:
    """The coachee's forms still to answer (not answered, replaced or expired)."""
    stmt = (select(FormRequest)
            .where(FormRequest.engagement_id == engagement_id, FormRequest.respondent == "coachee",
                   FormRequest.answered_at.is_(None), FormRequest.replaced_at.is_(None),
                   or_(FormRequest.expires_at.is_(None), FormRequest.expires_at > now))
            .order_by(FormRequest.id))
    return list((await session.execute(stmt)).scalars())


async def get_closes(session: AsyncSession, booking_ids: Sequence[int]) -> dict[int, SessionClose]:
    if not booking_ids:
        return {}
    stmt = select(SessionClose).where(SessionClose.booking_id.in_(list(booking_ids)))
    return {c.booking_id: c for c in (await session.execute(stmt)).scalars()}


async def get_close(session: AsyncSession, booking_id: int) -> SessionClose | None:
    stmt = select(SessionClose).where(SessionClose.booking_id == booking_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_session_steps(session: AsyncSession, booking_id: int) -> list[ActionStep]:
    stmt = (select(ActionStep).where(ActionStep.booking_id == booking_id, ActionStep.cancelled_at.is_(None))
            .order_by(ActionStep.due_on, ActionStep.id))
    return list((await session.execute(stmt)).scalars())


async def count_sessions_held(session: AsyncSession, engagement_id: int, until: datetime) -> int:
    """Confirmed sessions of the engagement that ended by ``until`` (the n-th session)."""
    stmt = select(func.count()).select_from(Booking).where(
        Booking.engagement_id == engagement_id, Booking.status == "confirmed", Booking.ends_at <= until)
    return int((await session.execute(stmt)).scalar_one())


async def get_reviews(session: AsyncSession, engagement_id: int) -> list[SessionReview]:
    stmt = (select(SessionReview).where(SessionReview.engagement_id == engagement_id)
            .order_by(SessionReview.session_number))
    return list((await session.execute(stmt)).scalars())


async def get_review(session: AsyncSession, engagement_id: int, review_id: int) -> SessionReview | None:
    review = await session.get(SessionReview, review_id)
    return review if review is not None and review.engagement_id == engagement_id else None
