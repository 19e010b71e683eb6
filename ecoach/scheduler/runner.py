"""The durable task runner: claims due tasks with a lease and runs them exactly once.

An APScheduler ``AsyncIOScheduler`` (its job store in memory, per process) drives it: an
interval job looks for due tasks every ``scheduler.poll_seconds`` and drains them batch
by batch, and each recurring job (``TaskRegistry.add_recurring``) schedules a task per
firing. ``wake()`` looks at once (something was just scheduled for now).

A run: the handler works in a fresh unit of work, and in that same transaction the task
is marked done, guarded by its lease token. If the lease was lost meanwhile (another
process claimed the task after it expired) the run is rolled back, so its writes (and the
events its actions registered) count once. A handler that raises is rolled back and
retried later with exponential backoff (plus jitter); after ``scheduler.max_attempts``
attempts the task is parked with its error (``ecoach tasks list``). A process killed
mid-run leaves the task leased: once the lease runs out, another process (or this one,
restarted) claims it again.

Tests drive it by hand: ``run_once()`` claims and runs one batch at the injected clock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions.audit import Origin, acting
from ecoach.actions.unit import unit_of_work
from ecoach.core.clock import Clock
from ecoach.logbook.task_leases import (
    ClaimedTask,
    claim_due_tasks,
    mark_done,
    park,
    record_firing,
    requeue,
    retry_delay,
)
from ecoach.scheduler.registry import TaskContext, TaskRegistry
from ecoach.logbook.tasks import schedule_task
from ecoach.settings import Settings

log = logging.getLogger(__name__)

TICK_JOB = "tasks:tick"
RECURRING = "recurring:"
SHUTDOWN_GRACE = 10.0  # seconds a stopping runner lets the running tasks finish
DONE, RETRY, PARKED, LOST, RELEASED = "done", "retry", "parked", "lost", "released"


class _LeaseLost(Exception):
    """Another process took the task over during this run."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def describe(exc: BaseException) -> str:
    """The error an admin sees: type, message and where it was raised."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (at {last.filename}:{last.lineno} in {last.name})"
    return text


class TaskRunner:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: TaskRegistry,
        settings: Settings,
        clock: Clock,
        *,
        jitter: Callable[[], float] = random.random,
        worker: str | None = None,
    ) -> None:
        self._sessions = sessions
        self.registry = registry
        self._settings = settings
        self._cfg = settings.scheduler
        self._clock = clock
        self._jitter = jitter
        self.worker = worker or worker_name()
        # SQLite has one writer at a time: running tasks side by side only adds waiting.
        self._concurrency = 1 if settings.is_sqlite else self._cfg.concurrency
        lease = self._cfg.lease_seconds
        self._margin = min(lease / 10, 10.0)  # a run never starts or lasts this close to the lease's end
        self.scheduler: AsyncIOScheduler | None = None
        self._fire_times: dict[str, datetime] = {}
        self._draining = False
        self._again = False
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._spawned: set[asyncio.Task[None]] = set()

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Start the APScheduler jobs: the claim loop and every recurring job."""
        self.registry.check()
        scheduler = AsyncIOScheduler(timezone=timezone.utc)
        # A second instance of the tick only notes that it was due (see _tick_job).
        scheduler.add_job(self._tick_job, IntervalTrigger(seconds=self._cfg.poll_seconds), id=TICK_JOB,
                          next_run_time=datetime.now(timezone.utc), max_instances=2, coalesce=True,
                          misfire_grace_time=None)  # late is fine: never skip a look
        for name, trigger in self.registry.recurring.items():
            scheduler.add_job(self._fire_job, trigger, args=[name], id=RECURRING + name, coalesce=True,
                              max_instances=1, misfire_grace_time=max(60, int(self._cfg.lease_seconds)))
        scheduler.add_listener(self._on_submitted, EVENT_JOB_SUBMITTED)
        scheduler.start()
        self.scheduler = scheduler
        log.info("task runner %s started: %d handlers, %d recurring jobs", self.worker,
                 len(self.registry.handlers), len(self.registry.recurring))

    async def stop(self) -> None:
        """Stop claiming; give running tasks a moment to finish (claimed tasks not yet
        started are handed back at once), then cancel what is left."""
        self._stopping = True
        if self.scheduler is not None:
            self.scheduler.pause()
        try:
            await asyncio.wait_for(self._idle.wait(), SHUTDOWN_GRACE)
        except asyncio.TimeoutError:
            log.warning("tasks still running at shutdown; their leases will expire")
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        for spawned in list(self._spawned):
            spawned.cancel()

    def wake(self) -> None:
        """Look for due tasks now (call after committing a task due now)."""
        if self.scheduler is None or self._stopping:
            return
        if self._draining:
            self._again = True
            return
        spawned = asyncio.get_running_loop().create_task(self._drain(), name="tasks-wake")
        self._spawned.add(spawned)
        spawned.add_done_callback(self._spawned.discard)
        self._draining = True  # set before the task starts, so a second wake() just notes it
        self._idle.clear()

    async def idle(self) -> None:
        """Wait until no drain is in progress (for tests and shutdown)."""
        await self._idle.wait()

    # --- the claim loop -------------------------------------------------------------

    async def _tick_job(self) -> None:
        if self._draining:
            self._again = True
            return
        self._draining = True
        self._idle.clear()
        await self._drain()

    async def _drain(self) -> None:
        try:
            while not self._stopping:
                self._again = False
                try:
                    claimed = await self.run_once()
                except Exception:  # noqa: BLE001 - e.g. the database is down: the next tick retries
                    log.exception("claiming due tasks failed")
                    return
                if claimed < self._cfg.batch_size and not self._again:
                    return
        finally:
            self._draining = False
            self._idle.set()

    async def run_once(self) -> int:
        """Claim one batch of due tasks and run them; how many were claimed."""
        async with unit_of_work(self._sessions) as session:
            batch = await claim_due_tasks(session, self._clock.now(), self._cfg.lease_seconds,
                                          self._cfg.batch_size, self.worker)
        if not batch:
            return 0
        limit = asyncio.Semaphore(self._concurrency)

        async def run(task: ClaimedTask) -> None:
            async with limit:
                try:
                    await self.run_task(task)
                except Exception:  # noqa: BLE001 - recording the outcome failed; the lease expires
                    log.exception("task %s (%s): recording its outcome failed", task.id, task.name)

        await asyncio.gather(*(run(task) for task in batch))
        return len(batch)

    # --- one run --------------------------------------------------------------------

    async def run_task(self, task: ClaimedTask) -> str:
        """Run one claimed task; its outcome (done, retry, parked, lost or released)."""
        now = self._clock.now()
        left = (task.lease_until - now).total_seconds()
        if self._stopping or left < 2 * self._margin:
            # Not started: give it back without counting the attempt.
            await self._requeue(task, now, now, error=None, attempts=task.attempts - 1)
            return RELEASED
        if task.attempts > self._cfg.max_attempts:
            # Each earlier claim ended without a result: the process died or hung in it.
            error = f"no run finished within its lease in {task.attempts - 1} attempts"
            return await self._failed(task, error)
        handler = self.registry.get(task.name)
        if handler is None:
            return await self._failed(task, f"no handler for task {task.name!r} in this process")
        deadline = asyncio.timeout(left - self._margin)
        try:
            async with unit_of_work(self._sessions) as session:
                ctx = TaskContext(session=session, now=now, settings=self._settings, clock=self._clock,
                                  task_id=task.id, name=task.name, key=task.key, attempt=task.attempts,
                                  due_at=task.due_at)
                async with deadline:
                    with acting(Origin(via="task", device=task.name[:60], at=now)):  # for the audit trail
                        await handler(ctx, dict(task.params))
                if not await mark_done(session, task, self._clock.now()):
                    raise _LeaseLost()  # rolls the run back: its writes and events never happen
        except _LeaseLost:
            log.warning("task %s (%s): lease lost during the run; rolled back", task.id, task.name)
            return LOST
        except Exception as exc:  # noqa: BLE001 - a handler's failure is recorded and retried
            if deadline.expired():
                return await self._failed(task, f"ran past its lease ({left - self._margin:.0f} s)")
            return await self._failed(task, describe(exc))
        return DONE

    async def _requeue(self, task: ClaimedTask, now: datetime, run_at: datetime, *, error: str | None,
                       attempts: int) -> bool:
        for _ in range(2):  # a concurrent schedule_task of the same key: the second try sees it
            try:
                async with unit_of_work(self._sessions) as session:
                    return await requeue(session, task, now, run_at, error=error, attempts=attempts)
            except IntegrityError:
                log.info("task %s: its key %r was scheduled again meanwhile", task.id, task.key)
        return False

    async def _failed(self, task: ClaimedTask, error: str) -> str:
        now = self._clock.now()
        if task.attempts >= self._cfg.max_attempts:
            async with unit_of_work(self._sessions) as session:
                kept = await park(session, task, now, error)
            if kept:
                log.error("task %s (%s) parked after %d attempts: %s", task.id, task.name, task.attempts, error)
            return PARKED if kept else LOST
        delay = retry_delay(task.attempts, self._cfg.retry_base_seconds, self._cfg.retry_max_seconds,
                            self._jitter())
        kept = await self._requeue(task, now, now + timedelta(seconds=delay), error=error,
                                   attempts=task.attempts)
        log.warning("task %s (%s) attempt %d failed, retry in %.0f s: %s", task.id, task.name,
                    task.attempts, delay, error)
        return RETRY if kept else LOST

    # --- recurring jobs -------------------------------------------------------------

    def _on_submitted(self, event: JobSubmissionEvent) -> None:
        # APScheduler does not pass the firing time to the job; its submission event,
        # dispatched before the job's coroutine starts, does.
        if event.job_id.startswith(RECURRING) and event.scheduled_run_times:
            self._fire_times[event.job_id] = event.scheduled_run_times[-1]

    async def _fire_job(self, name: str) -> None:
        fire_time = self._fire_times.pop(RECURRING + name, None)
        if fire_time is None:
            log.warning("recurring job %s ran without a firing time; skipped", name)
            return
        try:
            await self.fire_recurring(name, fire_time)
        except Exception:  # noqa: BLE001 - logged; the next firing tries again
            log.exception("recurring job %s could not schedule its task", name)

    async def fire_recurring(self, name: str, fire_time: datetime) -> bool:
        """Schedule the task of one firing of a recurring job, unless another process did
        already; True when this call scheduled it."""
        fire_time = fire_time.astimezone(timezone.utc)
        stamp = fire_time.isoformat()
        async with unit_of_work(self._sessions) as session:
            now = self._clock.now()
            first = await record_firing(session, name, fire_time, now)
            if first:
                await schedule_task(session, name, now, {"fire_time": stamp}, key=f"{name}:{stamp}", now=now)
        if first:
            self.wake()
        return first
