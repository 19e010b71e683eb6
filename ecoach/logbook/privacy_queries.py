"""Read queries of the data-rights area: export requests, retention plans, and the pages
of an engagement that its data package streams (keyset pages, never all rows at once)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.booking_models import Booking, SessionType
from ecoach.logbook.mail_models import Attachment
from ecoach.logbook.models import Coachee, Engagement, Exchange
from ecoach.logbook.nudge_models import ActionStep
from ecoach.logbook.privacy_models import REQUESTED, ExportRequest, RetentionPlan

# --- export requests ----------------------------------------------------------------------


async def get_latest_export_request(session: AsyncSession, engagement_id: int) -> ExportRequest | None:
    stmt = (select(ExportRequest).where(ExportRequest.engagement_id == engagement_id)
            .order_by(ExportRequest.id.desc()).limit(1))
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_export_request(session: AsyncSession, coach_id: int, request_id: int) -> ExportRequest | None:
    """The coach's own request, else None."""
    stmt = select(ExportRequest).where(ExportRequest.id == request_id, ExportRequest.coach_id == coach_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_export_request_by_token(session: AsyncSession, digest: str) -> ExportRequest | None:
    stmt = select(ExportRequest).where(ExportRequest.token_hash == digest)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_engagement_export_requests(session: AsyncSession, engagement_id: int, *,
                                         limit: int = 5) -> list[ExportRequest]:
    stmt = (select(ExportRequest).where(ExportRequest.engagement_id == engagement_id)
            .order_by(ExportRequest.id.desc()).limit(limit))
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True)
class WaitingRequest:
    request_id: int
    engagement_id: int
    coachee_name: str
    requested_at: datetime


async def get_waiting_export_requests(session: AsyncSession, coach_id: int, *, limit: int = 20) -> list[WaitingRequest]:
    """The coach's requests waiting for approval, oldest first (the inbox's notices)."""
    stmt = (
        select(ExportRequest.id, ExportRequest.engagement_id, Coachee.name, ExportRequest.requested_at)
        .join(Engagement, Engagement.id == ExportRequest.engagement_id)
        .join(Coachee, Coachee.id == Engagement.coachee_id)
        .where(ExportRequest.coach_id == coach_id, ExportRequest.status == REQUESTED)
        .order_by(ExportRequest.id).limit(limit)
    )
    return [WaitingRequest(*row) for row in await session.execute(stmt)]


# --- retention ----------------------------------------------------------------------------


async def get_retention_plan(session: AsyncSession, engagement_id: int) -> RetentionPlan | None:
    return await session.get(RetentionPlan, engagement_id)


async def get_engagements_to_plan(session: AsyncSession, policy_months: int, *,
                                  limit: int) -> list[tuple[Engagement, RetentionPlan | None]]:
    """Closed engagements without a plan, whose plan follows a policy that changed, or
    whose plan was made while they ran (a choice of months, no moment yet)."""
    own_months = RetentionPlan.keep_months > 0
    unplanned = and_(RetentionPlan.erase_at.is_(None),
                     or_(own_months, RetentionPlan.keep_months.is_(None)) if policy_months > 0 else own_months)
    stmt = (
        select(Engagement, RetentionPlan)
        .outerjoin(RetentionPlan, RetentionPlan.engagement_id == Engagement.id)
        .where(Engagement.status == "closed",
               or_(RetentionPlan.engagement_id.is_(None), RetentionPlan.policy_months != policy_months, unplanned))
        .order_by(Engagement.id).limit(limit)
    )
    return [(row[0], row[1]) for row in await session.execute(stmt)]


@dataclass(frozen=True)
class ErasureNotice:
    engagement_id: int
    coachee_name: str
    erase_at: datetime


async def get_erasure_notices(session: AsyncSession, coach_id: int, *, limit: int = 20) -> list[ErasureNotice]:
    """The coach's engagements warned of an erasure, soonest first (the inbox's notices)."""
    stmt = (
        select(RetentionPlan.engagement_id, Coachee.name, RetentionPlan.erase_at)
        .join(Engagement, Engagement.id == RetentionPlan.engagement_id)
        .join(Coachee, Coachee.id == Engagement.coachee_id)
        .where(Engagement.coach_id == coach_id, RetentionPlan.warned_at.is_not(None),
               RetentionPlan.erase_at.is_not(None))
        .order_by(RetentionPlan.erase_at).limit(limit)
    )
    return [ErasureNotice(*row) for row in await session.execute(stmt)]


# --- what a data package streams ----------------------------------------------------------


def _timeline(engagement_id: int, include_internal: bool):  # type: ignore[no-untyped-def]
    stmt = select(Exchange).where(Exchange.engagement_id == engagement_id)
    return stmt if include_internal else stmt.where(Exchange.direction != "internal")


async def get_exchange_page(session: AsyncSession, engagement_id: int, *, after_id: int, up_to_id: int,
                            limit: int, include_internal: bool) -> list[Exchange]:
    """The next page of the logbook after ``after_id`` (up to ``up_to_id``: the package
    holds the logbook as it was when it began)."""
    stmt = (_timeline(engagement_id, include_internal)
            .where(Exchange.id > after_id, Exchange.id <= up_to_id).order_by(Exchange.id).limit(limit))
    return list((await session.execute(stmt)).scalars())


async def get_last_exchange_id(session: AsyncSession, engagement_id: int) -> int:
    stmt = select(func.max(Exchange.id)).where(Exchange.engagement_id == engagement_id)
    return (await session.execute(stmt)).scalar() or 0


@dataclass(frozen=True)
class AttachmentRow:
    id: int
    exchange_id: int
    filename: str
    content_type: str
    size: int


async def get_attachment_page(session: AsyncSession, engagement_id: int, *, after_id: int, up_to_exchange: int,
                              limit: int, include_internal: bool) -> list[AttachmentRow]:
    """Names and sizes of the next page of the engagement's attachments (not their data)."""
    stmt = (
        select(Attachment.id, Attachment.exchange_id, Attachment.filename, Attachment.content_type, Attachment.size)
        .join(Exchange, Exchange.id == Attachment.exchange_id)
        .where(Exchange.engagement_id == engagement_id, Exchange.id <= up_to_exchange, Attachment.id > after_id)
        .order_by(Attachment.id).limit(limit)
    )
    if not include_internal:
        stmt = stmt.where(Exchange.direction != "internal")
    return [AttachmentRow(*row) for row in await session.execute(stmt)]


async def get_attachments_of(session: AsyncSession, exchange_ids: Sequence[int]) -> dict[int, list[AttachmentRow]]:
    if not exchange_ids:
        return {}
    stmt = (select(Attachment.id, Attachment.exchange_id, Attachment.filename, Attachment.content_type,
                   Attachment.size)
            .where(Attachment.exchange_id.in_(list(exchange_ids))).order_by(Attachment.id))
    found: dict[int, list[AttachmentRow]] = {}
    for row in await session.execute(stmt):
        found.setdefault(row.exchange_id, []).append(AttachmentRow(*row))
    return found


async def get_attachment_data(session: AsyncSession, attachment_id: int) -> bytes:
    return (await session.execute(select(Attachment.data).where(Attachment.id == attachment_id))).scalar_one()


async def get_engagement_sessions(session: AsyncSession, engagement_id: int) -> list[tuple[Booking, str]]:
    """Every session of the engagement (any status) with its kind's name, oldest first."""
    stmt = (select(Booking, SessionType.name).join(SessionType, SessionType.id == Booking.session_type_id)
            .where(Booking.engagement_id == engagement_id).order_by(Booking.starts_at, Booking.id))
    return [(row[0], row[1]) for row in await session.execute(stmt)]


async def get_action_steps(session: AsyncSession, engagement_id: int) -> list[ActionStep]:
    stmt = select(ActionStep).where(ActionStep.engagement_id == engagement_id).order_by(ActionStep.due_on,
                                                                                         ActionStep.id)
    return list((await session.execute(stmt)).scalars())


# --- anonymised export --------------------------------------------------------------------


async def get_shareable_exchanges(session: AsyncSession, engagement_id: int, ids: Sequence[int]) -> list[Exchange]:
    """These exchanges of the engagement in logbook order, never an internal one (private
    notes stay out of anything shared, whatever ids are asked for)."""
    if not ids:
        return []
    stmt = (select(Exchange).where(Exchange.engagement_id == engagement_id, Exchange.id.in_(list(ids)),
                                   Exchange.direction != "internal").order_by(Exchange.id))
    return list((await session.execute(stmt)).scalars())


async def get_shareable_page(session: AsyncSession, engagement_id: int, *, before_id: int | None,
                             limit: int) -> list[Exchange]:
    """A page of the engagement's exchanges that may be shared, newest page first, each
    page in logbook order."""
    stmt = select(Exchange).where(Exchange.engagement_id == engagement_id, Exchange.direction != "internal")
    if before_id is not None:
        stmt = stmt.where(Exchange.id < before_id)
    rows = list((await session.execute(stmt.order_by(Exchange.id.desc()).limit(limit))).scalars())
    rows.reverse()
    return rows
