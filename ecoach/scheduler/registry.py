"""What task handlers are given and how they are registered.

Each area exposes ``register_tasks(registry)``; ``ecoach.app`` calls them all, then the
runner runs claimed tasks by name. A handler runs in the runner's unit of work
(``ctx.session``): its writes commit together with marking the task done, or not at all,
and so do the events its actions register (``ecoach.actions.unit.emit``): handlers never
commit or publish themselves. Raise to retry later with backoff; after
``scheduler.max_attempts`` the task is parked. Other in-process work that must wait for the
commit goes in ``ctx.after_commit``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.unit import on_commit
from ecoach.core.clock import Clock
from ecoach.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class TaskContext:
    """One run of one task."""

    session: AsyncSession  # the runner's transaction, committed with the task's "done"
    now: datetime  # the clock's time when the run started
    settings: Settings
    clock: Clock
    task_id: int = 0
    name: str = ""
    key: str | None = None
    attempt: int = 1  # 1 on the first run, 2 on the first retry, ...
    due_at: datetime | None = None

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` once this run's transaction has committed (in the order added);
        never when the run fails or loses its lease."""
        on_commit(self.session, fn)


Handler = Callable[[TaskContext, dict[str, Any]], Awaitable[None]]


class TaskRegistry:
    """Handlers by task name, and the recurring jobs that schedule tasks."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.recurring: dict[str, BaseTrigger] = {}

    def handler(self, name: str) -> Callable[[Handler], Handler]:
        """Decorator: ``@registry.handler("commitments.reminder")``."""

        def register(fn: Handler) -> Handler:
            if name in self.handlers:
                raise ValueError(f"task handler {name!r} is registered twice")
            self.handlers[name] = fn
            return fn

        return register

    def add_recurring(self, name: str, trigger: BaseTrigger) -> None:
        """Schedule a ``name`` task at every firing of ``trigger`` (an APScheduler trigger),
        once across all processes. The handler gets ``{"fire_time": <ISO time>}``.

        Every process must compute the same firing times: use a ``CronTrigger`` (wall-clock
        aligned) or give an ``IntervalTrigger`` a fixed ``start_date``."""
        if name in self.recurring:
            raise ValueError(f"recurring job {name!r} is added twice")
        self.recurring[name] = trigger

    def get(self, name: str) -> Handler | None:
        return self.handlers.get(name)

    def check(self) -> None:
        """Every recurring job needs a handler for the tasks it schedules."""
        missing = sorted(set(self.recurring) - set(self.handlers))
        if missing:
            raise ValueError(f"recurring jobs without a task handler: {', '.join(missing)}")
