"""Claiming due tasks with a lease, and recording how each run ended.

A claim is one UPDATE over the due open tasks: it sets a fresh lease token, moves
``run_at`` to the lease's end and counts the attempt. On PostgreSQL the candidate rows
are locked ``FOR UPDATE SKIP LOCKED``, so processes claiming at the same moment take
different tasks; on SQLite the UPDATE holds the database's write lock. Every later write
about a run is guarded by its lease token: a process that lost its lease (it ran past
it, and another process claimed the task) changes nothing.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ecoach.logbook.task_models import (
    DONE,
    PARKED,
    PENDING,
    PENDING_LITERAL,
    REPLACED,
    RUNNING,
    Task,
    TaskFiring,
)

log = logging.getLogger(__name__)

JITTER = 0.2  # a retry comes up to 20% late, so tasks that failed together spread out
MAX_ERROR = 2000


@dataclass(frozen=True)
class ClaimedTask:
    id: int
    name: str
    params: dict[str, Any]
    key: str | None
    attempts: int  # including this run
    due_at: datetime
    lease_token: str
    lease_until: datetime


def retry_delay(attempts: int, base: float, cap: float, jitter: float) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: doubling from
    ``base``, at most ``cap``, plus up to ``JITTER`` of it for ``jitter`` in [0, 1)."""
    delay = min(cap, base * 2.0 ** min(max(attempts - 1, 0), 60))
    return delay * (1.0 + JITTER * jitter)


async def claim_due_tasks(
    session: AsyncSession, now: datetime, lease_seconds: float, limit: int, worker: str
) -> list[ClaimedTask]:
    """Lease up to ``limit`` due open tasks, earliest first; the caller commits at once."""
    token = secrets.token_hex(16)
    until = now + timedelta(seconds=lease_seconds)
    # run_at is NULL for finished tasks: "run_at <= now" is a range of ix_task_claim.
    due = select(Task.id).where(Task.run_at <= now).order_by(Task.run_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claim = (
        update(Task)
        .where(Task.id.in_(due.scalar_subquery()))
        .values(status=RUNNING, lease_token=token, lease_until=until, run_at=until,
                attempts=Task.attempts + 1, claimed_by=worker)
        .returning(Task.id, Task.name, Task.params, Task.key, Task.attempts, Task.due_at)
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(claim)).all()
    claimed = [ClaimedTask(id=r.id, name=r.name, params=r.params or {}, key=r.key, attempts=r.attempts,
                           due_at=r.due_at, lease_token=token, lease_until=until) for r in rows]
    return sorted(claimed, key=lambda task: task.id)


def _leased(task: ClaimedTask):  # type: ignore[no-untyped-def]
    return and_(Task.id == task.id, Task.lease_token == task.lease_token)


async def mark_done(session: AsyncSession, task: ClaimedTask, now: datetime) -> bool:
    """In the run's transaction: True when this process still held the lease (the caller
    commits); False when it lost it (the caller rolls the run back)."""
    result = await session.execute(
        update(Task).where(_leased(task))
        .values(status=DONE, finished_at=now, run_at=None, lease_token=None, lease_until=None,
                last_error=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def park(session: AsyncSession, task: ClaimedTask, now: datetime, error: str) -> bool:
    result = await session.execute(
        update(Task).where(_leased(task))
        .values(status=PARKED, finished_at=now, run_at=None, lease_token=None, lease_until=None,
                last_error=error[:MAX_ERROR])
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def requeue(
    session: AsyncSession,
    task: ClaimedTask,
    now: datetime,
    run_at: datetime,
    *,
    error: str | None,
    attempts: int,
) -> bool:
    """Make a claimed task pending again (a retry, or a claim given back), in the caller's
    transaction. When a newer scheduling of its key is pending meanwhile, that one takes
    its place and this one ends as "replaced". False when the lease was lost. A concurrent
    ``schedule_task`` of the same key can make the commit fail (IntegrityError): the
    caller tries again, and then sees it."""
    return await _requeue(session, task, now, run_at, error, attempts)


async def _requeue(session: AsyncSession, task: ClaimedTask, now: datetime, run_at: datetime,
                   error: str | None, attempts: int) -> bool:
    # A claim given back (no error) keeps the error of the attempt before.
    noted = {} if error is None else {"last_error": error[:MAX_ERROR]}
    other = aliased(Task, name="other")
    taken = exists().where(other.key == task.key, other.status == PENDING_LITERAL)
    guard = _leased(task) if task.key is None else and_(_leased(task), ~taken)
    result = await session.execute(
        update(Task).where(guard)
        .values(status=PENDING, run_at=run_at, lease_token=None, lease_until=None, attempts=attempts,
                **noted)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1 or task.key is None:
        return result.rowcount == 1
    result = await session.execute(
        update(Task).where(_leased(task))
        .values(status=REPLACED, finished_at=now, run_at=None, lease_token=None, lease_until=None,
                **noted)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def record_firing(session: AsyncSession, name: str, fire_time: datetime, now: datetime) -> bool:
    """True for the first process to record this firing of a recurring job (the caller
    schedules its task in the same transaction), False for every later one."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = (
        insert(TaskFiring).values(name=name, fire_time=fire_time, fired_at=now)
        .on_conflict_do_nothing(index_elements=[TaskFiring.name, TaskFiring.fire_time])
        .returning(TaskFiring.name)
    )
    return (await session.execute(stmt)).first() is not None


async def prune_finished(session: AsyncSession, before: datetime) -> int:
    """Forget done and replaced tasks, and recurring firings, older than ``before``
    (parked tasks stay until an admin retries them)."""
    tasks = await session.execute(
        delete(Task).where(Task.status.in_((DONE, REPLACED)), Task.finished_at < before)
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(TaskFiring).where(TaskFiring.fire_time < before))
    return tasks.rowcount or 0
