"""Scheduling due work: a task is a row (name, JSON parameters, due time), written in the
caller's transaction, so it exists exactly when the change that asked for it commits.

A runner process claims it when due and runs the handler registered under its name (see
``ecoach.scheduler.runner``). ``key`` names the work (e.g. ``"nudge:42"``): among pending
tasks it is unique, so scheduling the same key again moves the pending task instead of
adding one, and ``cancel_tasks`` can find it. A task that is already running does not
hold its key: a handler may schedule the next run of its own key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.task_models import PARKED, PENDING, PENDING_LITERAL, Task

log = logging.getLogger(__name__)

MAX_KEY = 200


class TaskError(Exception):
    """An admin operation on a task was refused; the message says why."""


async def schedule_task(
    session: AsyncSession,
    name: str,
    due_at: datetime,
    params: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    now: datetime | None = None,
) -> None:
    """Schedule ``name(params)`` at ``due_at`` in the caller's transaction.

    With ``key``, idempotent: a pending task with that key gets the new name, due time and
    parameters (and a fresh attempt count) instead of a second task. ``now`` is only the
    recorded creation time (the database's clock when not given)."""
    values = task_values(name, due_at, params, key=key, now=now)
    if key is None:
        await session.execute(insert(Task).values(**values))
        return
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Task).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Task.key],
        index_where=Task.status == PENDING_LITERAL,
        set_=dict(name=stmt.excluded.name, params=stmt.excluded.params, due_at=stmt.excluded.due_at,
                  run_at=stmt.excluded.run_at, attempts=0, last_error=None),
    )
    await session.execute(stmt)


def task_values(name: str, due_at: datetime, params: dict[str, Any] | None = None, *, key: str | None = None,
                now: datetime | None = None) -> dict[str, Any]:
    """The columns of a new pending task (for ``insert(Task)``, also many at once; a new
    key must not be pending already)."""
    if due_at.tzinfo is None:
        raise ValueError("due_at must be an aware datetime")
    if key is not None and not 0 < len(key) <= MAX_KEY:
        raise ValueError(f"task key must be 1 to {MAX_KEY} characters")
    return dict(
        name=name, params=params or {}, key=key, status=PENDING, due_at=due_at, run_at=due_at,
        attempts=0, created_at=now if now is not None else func.current_timestamp(),
    )


async def cancel_tasks(
    session: AsyncSession, *, key: str | None = None, key_prefix: str | None = None
) -> int:
    """Delete the pending tasks with this key, or whose key starts with ``key_prefix``, in
    the caller's transaction; returns how many. A task already running runs to its end."""
    if (key is None) == (key_prefix is None):
        raise ValueError("give exactly one of key and key_prefix")
    stmt = delete(Task).where(Task.status == PENDING_LITERAL)
    if key is not None:
        stmt = stmt.where(Task.key == key)
    else:
        if not key_prefix:
            raise ValueError("key_prefix must not be empty")
        # A range, not LIKE: exact (keys compare as bytes) and an index range scan.
        upper = key_prefix[:-1] + chr(ord(key_prefix[-1]) + 1)
        stmt = stmt.where(Task.key >= key_prefix, Task.key < upper)
    result = await session.execute(stmt.execution_options(synchronize_session=False))
    return result.rowcount or 0


async def get_tasks(
    session: AsyncSession, statuses: Sequence[str], *, limit: int = 100, failing: bool = False
) -> list[Task]:
    """Tasks in ``statuses``, newest first (``failing``: only those with an error)."""
    stmt = select(Task).where(Task.status.in_(statuses))
    if failing:
        stmt = stmt.where(Task.last_error.is_not(None))
    result = await session.execute(stmt.order_by(Task.id.desc()).limit(limit))
    return list(result.scalars())


async def do_retry_task(session: AsyncSession, task_id: int, now: datetime) -> Task:
    """Give a parked task (or a pending one waiting out its backoff) a fresh start now."""
    task = await session.get(Task, task_id)
    if task is None:
        raise TaskError(f"no task {task_id}")
    if task.status not in (PARKED, PENDING):
        raise TaskError(f"task {task_id} is {task.status}; only parked or pending tasks can be retried")
    stmt = (
        update(Task)
        .where(Task.id == task_id, Task.status == task.status)
        .values(status=PENDING, run_at=now, attempts=0, finished_at=None, lease_token=None,
                lease_until=None)
        .execution_options(synchronize_session=False)
    )
    try:
        await session.execute(stmt)
    except IntegrityError:
        raise TaskError(f"a pending task with key {task.key!r} exists already") from None
    await session.refresh(task)
    return task
