"""The database's side of ``/metrics``: a few small indexed reads per scrape.

Each reads an index range that is small by nature (due tasks, parked tasks, mail waiting
in the outbox, deliveries not yet done), never a scan of a big table: see
``tests/test_metrics.py``, which checks the plans on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.mail_models import MailOutbox
from ecoach.logbook.task_models import PARKED, Task
from ecoach.logbook.webhook_models import FAILED, PENDING, WebhookDelivery, WebhookEndpoint

# Per-name task lag looks at this many of the oldest due tasks: a name with none among
# them lags less than the newest of them (the total lag is exact whatever the backlog).
LAG_WINDOW = 1000
OUTBOX_WAITING = ("queued", "retrying")


@dataclass
class DatabaseFigures:
    oldest_due: datetime | None = None  # the earliest run_at of an open task
    oldest_due_by_name: dict[str, datetime] = field(default_factory=dict)
    parked: dict[str, int] = field(default_factory=dict)
    outbox: dict[str, int] = field(default_factory=dict)
    outbox_oldest_due: datetime | None = None
    webhook_deliveries: dict[str, int] = field(default_factory=dict)
    webhooks_turned_off: int = 0


def statements(now: datetime) -> dict[str, object]:
    """Every statement a scrape runs (the tests EXPLAIN each)."""
    due = select(Task.name, Task.run_at).where(Task.run_at <= now).order_by(Task.run_at).limit(LAG_WINDOW).subquery()
    return {
        # run_at is the due (or retry) time of a pending task and the lease's end of a running
        # one: the smallest that has passed is the oldest work nobody is doing.
        "oldest_due": select(func.min(Task.run_at)).where(Task.run_at.is_not(None)),
        "oldest_due_by_name": select(due.c.name, func.min(due.c.run_at)).group_by(due.c.name),
        "parked": select(Task.name, func.count()).where(Task.status == PARKED).group_by(Task.name),
        "outbox": select(MailOutbox.state, func.count(), func.min(MailOutbox.next_attempt_at))
        .where(MailOutbox.state.in_(OUTBOX_WAITING)).group_by(MailOutbox.state),
        "webhook_deliveries": select(WebhookDelivery.status, func.count())
        .where(WebhookDelivery.status.in_((PENDING, FAILED))).group_by(WebhookDelivery.status),
        "webhooks_turned_off": select(func.count()).select_from(WebhookEndpoint)
        .where(WebhookEndpoint.enabled.is_(False), WebhookEndpoint.disabled_reason == "failing"),
    }


async def get_figures(session: AsyncSession, now: datetime) -> DatabaseFigures:
    stmts = statements(now)
    figures = DatabaseFigures()
    figures.oldest_due = await session.scalar(stmts["oldest_due"])  # type: ignore[arg-type]
    figures.oldest_due_by_name = {name: at for name, at in await session.execute(stmts["oldest_due_by_name"])}  # type: ignore[arg-type]
    figures.parked = {name: count for name, count in await session.execute(stmts["parked"])}  # type: ignore[arg-type]
    earliest = []
    for state, count, oldest in await session.execute(stmts["outbox"]):  # type: ignore[arg-type]
        figures.outbox[state] = count
        earliest.append(oldest)
    figures.outbox_oldest_due = min(earliest, default=None)
    figures.webhook_deliveries = {status: count for status, count in await session.execute(stmts["webhook_deliveries"])}  # type: ignore[arg-type]
    figures.webhooks_turned_off = int(await session.scalar(stmts["webhooks_turned_off"]) or 0)  # type: ignore[arg-type]
    return figures

