"""Locks that make billing exact under concurrency, on PostgreSQL and on SQLite alike.

Each is a *write* taken as the first statement of its transaction: on PostgreSQL it locks
one row until the commit (others wait); on SQLite the first write takes the database's
write lock, and reads made before it (outside the transaction, as pysqlite does) cannot
go stale, since everything after it is read under that lock.

- ``lock_invoice_numbers``: the coach's number sequence of a year. Numbers are taken and
  the invoices stored in the same transaction, so a rollback gives the numbers back: the
  sequence has no gaps and no number is given twice.
- ``lock_plan``: a plan's balance, while one usage entry is weighed against it (a session
  held and a reply at the same moment both see the other's use).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.billing_models import EngagementPlan, InvoiceNumber


async def lock_invoice_numbers(session: AsyncSession, coach_id: int, year: int) -> int:
    """Lock the sequence of ``coach_id`` in ``year`` (made at 0 on first use); the last number taken."""
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    await session.execute(dialect.insert(InvoiceNumber).values(coach_id=coach_id, year=year, last=0)
                          .on_conflict_do_nothing())
    stmt = (select(InvoiceNumber.last).where(InvoiceNumber.coach_id == coach_id, InvoiceNumber.year == year)
            .with_for_update())
    return int((await session.execute(stmt)).scalar_one())


async def set_last_invoice_number(session: AsyncSession, coach_id: int, year: int, last: int) -> None:
    await session.execute(update(InvoiceNumber).where(InvoiceNumber.coach_id == coach_id, InvoiceNumber.year == year)
                          .values(last=last))


async def lock_plan(session: AsyncSession, plan_id: int) -> EngagementPlan | None:
    """Lock a plan that is still active and read it afresh; None when it has ended."""
    locked = await session.execute(update(EngagementPlan)
                                   .where(EngagementPlan.id == plan_id, EngagementPlan.ended_at.is_(None))
                                   .values(warned=EngagementPlan.warned))
    if not locked.rowcount:  # type: ignore[attr-defined]
        return None
    stmt = select(EngagementPlan).where(EngagementPlan.id == plan_id).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one()
