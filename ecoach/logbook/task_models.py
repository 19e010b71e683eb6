"""Tables of the durable task runner: due work as rows, and the firings of recurring jobs.

A task's ``run_at`` is when a runner may next claim it: its due time (or retry time) while
pending, its lease expiry while running, and NULL once finished. The claim query is then
one range scan of one small index (``run_at <= now``), whatever the number of finished
tasks, and a task whose process died becomes claimable again when its lease runs out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, literal_column
from sqlalchemy.orm import Mapped, mapped_column

from ecoach.logbook.models import Base, BigId, JsonType, UtcDateTime

# Statuses. Open: pending (waiting for run_at), running (leased until run_at).
# Finished: done, parked (failed too often, kept with its error for an admin),
# replaced (failed while a newer scheduling of its key was already pending).
PENDING, RUNNING, DONE, PARKED, REPLACED = "pending", "running", "done", "parked", "replaced"
OPEN = (PENDING, RUNNING)

# Written as a literal, not a bound parameter, so both databases can prove a query's
# condition implies the partial index's condition (and so use the index).
IS_PENDING_SQL = "status = 'pending'"
PENDING_LITERAL = literal_column("'pending'")

# The key's index compares bytes on PostgreSQL too, so a key prefix is an index range.
TaskKey = String(200).with_variant(String(200, collation="C"), "postgresql")


class Task(Base):
    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_claim", "run_at", sqlite_where=literal_column("run_at IS NOT NULL"),
              postgresql_where=literal_column("run_at IS NOT NULL")),
        Index("uq_task_pending_key", "key", unique=True,
              sqlite_where=literal_column(IS_PENDING_SQL),
              postgresql_where=literal_column(IS_PENDING_SQL)),
        Index("ix_task_status", "status", "finished_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict[str, Any]] = mapped_column(JsonType)
    key: Mapped[str | None] = mapped_column(TaskKey)
    status: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    run_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(100))  # host:pid of the last claim
    last_error: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class TaskFiring(Base):
    """One row per firing of a recurring job: the process that inserts it schedules the
    task, every other process firing the same time finds it and does nothing."""

    __tablename__ = "task_firing"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    fire_time: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    fired_at: Mapped[datetime] = mapped_column(UtcDateTime())
