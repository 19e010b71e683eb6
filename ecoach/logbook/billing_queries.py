"""Reading bundles, usage and invoices. Every query of a coach's data takes the coach's id:
a coach never reads another coach's products, clients, plans, usage or invoices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.core.bundles import Used
from ecoach.logbook.billing_models import (
    BillingClient, EngagementPlan, InvoiceRecord, InvoiceUsage, PracticeProfile, Product, UsageEntry,
)
from ecoach.logbook.booking_models import ACTIVE, Booking


async def get_practice(session: AsyncSession, coach_id: int) -> PracticeProfile | None:
    return await session.get(PracticeProfile, coach_id)


async def get_products(session: AsyncSession, coach_id: int, *, active_only: bool = False) -> list[Product]:
    stmt = select(Product).where(Product.coach_id == coach_id)
    if active_only:
        stmt = stmt.where(Product.active.is_(True))
    return list((await session.execute(stmt.order_by(Product.active.desc(), Product.name, Product.id))).scalars())


async def get_product(session: AsyncSession, coach_id: int, product_id: int) -> Product | None:
    stmt = select(Product).where(Product.id == product_id, Product.coach_id == coach_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_client(session: AsyncSession, coach_id: int, client_id: int) -> BillingClient | None:
    stmt = select(BillingClient).where(BillingClient.id == client_id, BillingClient.coach_id == coach_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_organisations(session: AsyncSession, coach_id: int) -> list[BillingClient]:
    stmt = select(BillingClient).where(BillingClient.coach_id == coach_id,
                                       BillingClient.organisation.is_(True)).order_by(BillingClient.id)
    return list((await session.execute(stmt)).scalars())


async def get_private_client(session: AsyncSession, engagement_id: int) -> BillingClient | None:
    stmt = select(BillingClient).where(BillingClient.engagement_id == engagement_id).order_by(BillingClient.id)
    return (await session.execute(stmt.limit(1))).scalar_one_or_none()


async def get_active_plan(session: AsyncSession, engagement_id: int) -> EngagementPlan | None:
    stmt = select(EngagementPlan).where(EngagementPlan.engagement_id == engagement_id,
                                        EngagementPlan.ended_at.is_(None))
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_used(session: AsyncSession, plan: EngagementPlan) -> Used:
    """Sessions and minutes the ledger counts against ``plan`` (one indexed aggregate), and
    the engagement's sessions booked but not yet held."""
    stmt = select(func.coalesce(func.sum(UsageEntry.sessions), 0),
                  func.coalesce(func.sum(UsageEntry.minutes), 0)).where(UsageEntry.plan_id == plan.id)
    sessions, minutes = (await session.execute(stmt)).one()
    booked = await session.scalar(select(func.count()).select_from(Booking).where(
        Booking.engagement_id == plan.engagement_id, Booking.status.in_(ACTIVE), Booking.held_at.is_(None)))
    return Used(int(sessions), int(minutes), int(booked or 0))


async def get_usage_entry(session: AsyncSession, source: str) -> UsageEntry | None:
    return (await session.execute(select(UsageEntry).where(UsageEntry.source == source))).scalar_one_or_none()


async def get_engagement_usage(session: AsyncSession, engagement_id: int, *, limit: int = 100) -> list[UsageEntry]:
    stmt = (select(UsageEntry).where(UsageEntry.engagement_id == engagement_id)
            .order_by(UsageEntry.id.desc()).limit(limit))
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True)
class Unbilled:
    entry: UsageEntry
    plan: EngagementPlan | None
    client: BillingClient | None


def _open_usage(coach_id: int, first: date, last: date):  # type: ignore[no-untyped-def]
    billed = select(InvoiceUsage.usage_id).where(InvoiceUsage.usage_id == UsageEntry.id).exists()
    return and_(UsageEntry.coach_id == coach_id, UsageEntry.day >= first, UsageEntry.day <= last,
                UsageEntry.quantity > 0, UsageEntry.unit_price > 0, ~billed)


async def get_unbilled(session: AsyncSession, coach_id: int, first: date, last: date) -> list[Unbilled]:
    """Billable usage of the coach between two days that no invoice holds, with the plan
    and client it is billed to (None: detached by an erasure, or no billing details)."""
    stmt = (select(UsageEntry, EngagementPlan, BillingClient)
            .outerjoin(EngagementPlan, EngagementPlan.id == UsageEntry.plan_id)
            .outerjoin(BillingClient, and_(BillingClient.id == EngagementPlan.client_id,
                                           BillingClient.coach_id == coach_id))
            .where(_open_usage(coach_id, first, last)).order_by(UsageEntry.day, UsageEntry.id))
    return [Unbilled(entry, plan, client) for entry, plan, client in (await session.execute(stmt)).all()]


async def get_invoices(session: AsyncSession, coach_id: int, first: date, last: date,
                       client_number: str | None = None) -> list[InvoiceRecord]:
    """Invoices and credit notes whose period starts between two days, by number."""
    stmt = select(InvoiceRecord).where(InvoiceRecord.coach_id == coach_id, InvoiceRecord.period_start >= first,
                                       InvoiceRecord.period_start <= last)
    if client_number:
        stmt = stmt.where(InvoiceRecord.client_number == client_number)
    return list((await session.execute(stmt.order_by(InvoiceRecord.id))).scalars())


async def get_invoice(session: AsyncSession, coach_id: int, invoice_id: int) -> InvoiceRecord | None:
    stmt = select(InvoiceRecord).where(InvoiceRecord.id == invoice_id, InvoiceRecord.coach_id == coach_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_credited_ids(session: AsyncSession, invoice_ids: list[int]) -> set[int]:
    """Which of these invoices a credit note credits."""
    if not invoice_ids:
        return set()
    stmt = select(InvoiceRecord.credited_id).where(InvoiceRecord.credited_id.in_(invoice_ids))
    return {row for row in (await session.execute(stmt)).scalars()}
