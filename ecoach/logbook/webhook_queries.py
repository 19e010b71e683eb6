"""Reading and writing webhook endpoints and deliveries (``webhook_models``).

The stage hook's statements (``endpoints_for``, ``insert_deliveries``) run on the sync
session inside a committing transaction; everything else is async.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ecoach.logbook.task_models import PENDING_LITERAL, Task
from ecoach.logbook.tasks import task_values
from ecoach.logbook.webhook_models import DELIVERED, FAILED, PENDING, SKIPPED, WebhookDelivery, WebhookEndpoint

E, D = WebhookEndpoint, WebhookDelivery


def delivery_key(endpoint_id: int, delivery_id: int) -> str:
    """The task key of a delivery: ``cancel_tasks(key_prefix=endpoint_prefix(...))`` finds
    every pending one of an endpoint."""
    return f"{endpoint_prefix(endpoint_id)}{delivery_id}"


def endpoint_prefix(endpoint_id: int) -> str:
    return f"webhook:{endpoint_id}:"


# --- inside the committing transaction (sync) -------------------------------------------


def endpoints_for(session: Session, coach_ids: Iterable[int]) -> Sequence[Row[Any]]:
    """The enabled endpoints of these coaches: (id, coach_id, events)."""
    stmt = select(E.id, E.coach_id, E.events).where(E.coach_id.in_(sorted(coach_ids)), E.enabled.is_(True))
    return session.execute(stmt).all()


def insert_deliveries(session: Session, rows: list[dict[str, Any]], task: str, now: datetime) -> int:
    """Pending deliveries and, for each, a task due now that sends it."""
    made = session.execute(insert(D).returning(D.id, D.endpoint_id), rows).all()
    session.execute(insert(Task), [
        task_values(task, now, {"delivery_id": row.id}, key=delivery_key(row.endpoint_id, row.id), now=now)
        for row in made])
    return len(made)


# --- the coach's page ------------------------------------------------------------------


async def get_endpoints(session: AsyncSession, coach_id: int) -> list[WebhookEndpoint]:
    result = await session.execute(select(E).where(E.coach_id == coach_id).order_by(E.id))
    return list(result.scalars())


async def get_endpoint(session: AsyncSession, coach_id: int, endpoint_id: int) -> WebhookEndpoint | None:
    result = await session.execute(select(E).where(E.id == endpoint_id, E.coach_id == coach_id))
    return result.scalar_one_or_none()


async def count_endpoints(session: AsyncSession, coach_id: int) -> int:
    return int(await session.scalar(select(func.count()).select_from(E).where(E.coach_id == coach_id)) or 0)


async def get_recent_deliveries(session: AsyncSession, endpoint_id: int, limit: int) -> list[WebhookDelivery]:
    result = await session.execute(select(D).where(D.endpoint_id == endpoint_id).order_by(D.id.desc()).limit(limit))
    return list(result.scalars())


async def get_delivery(session: AsyncSession, coach_id: int, delivery_id: int) -> tuple[WebhookDelivery, WebhookEndpoint] | None:
    stmt = select(D, E).join(E, E.id == D.endpoint_id).where(D.id == delivery_id, E.coach_id == coach_id)
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def get_delivery_to_send(session: AsyncSession, delivery_id: int) -> tuple[WebhookDelivery, WebhookEndpoint] | None:
    row = (await session.execute(select(D, E).join(E, E.id == D.endpoint_id).where(D.id == delivery_id))).first()
    return (row[0], row[1]) if row else None


async def lock_for_outcome(session: AsyncSession, delivery_id: int) -> tuple[WebhookDelivery, WebhookEndpoint] | None:
    """A delivery and its endpoint, the endpoint's row locked first (PostgreSQL): the
    outcomes of one endpoint's deliveries are recorded one at a time, and always in the
    same order (endpoint, then delivery), so turning an endpoint off (which fails its
    other pending deliveries) cannot deadlock with them."""
    endpoint_id = await session.scalar(select(D.endpoint_id).where(D.id == delivery_id))
    if endpoint_id is None:
        return None
    endpoint = (await session.execute(select(E).where(E.id == endpoint_id).with_for_update())).scalar_one_or_none()
    delivery = await session.get(D, delivery_id, populate_existing=True)
    return (delivery, endpoint) if delivery is not None and endpoint is not None else None


async def fail_pending(session: AsyncSession, endpoint_id: int, result: str, now: datetime) -> int:
    """Every pending delivery of an endpoint becomes failed (its endpoint was turned off)."""
    done = await session.execute(
        update(D).where(D.endpoint_id == endpoint_id, D.status == PENDING)
        .values(status=FAILED, last_result=result[:300], last_attempt_at=now)
        .execution_options(synchronize_session=False))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


async def prune_deliveries(session: AsyncSession, before: datetime) -> int:
    """Forget finished deliveries created before ``before`` (pending ones stay)."""
    done = await session.execute(
        delete(D).where(D.status.in_((DELIVERED, FAILED, SKIPPED)), D.created_at < before)
        .execution_options(synchronize_session=False))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


async def pending_task_count(session: AsyncSession, prefix: str) -> int:
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    stmt = select(func.count()).select_from(Task).where(Task.status == PENDING_LITERAL, Task.key >= prefix,
                                                        Task.key < upper)
    return int(await session.scalar(stmt) or 0)
