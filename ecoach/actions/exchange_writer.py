"""The chat's write path: group commit.

Concurrent submissions (every coachee's and coach's chat message) share one transaction,
so a busy chat costs one commit per batch rather than per message. A batch is one unit of
work like any action's: its exchanges are announced (and whatever ``after_record`` queued,
e.g. notification mails, is sent) only after its commit; each submitter then gets its
exchange, or the reason it was refused.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions.errors import ActionError, N_
from ecoach.actions.exchanges import NewExchange, Recorded, record_exchanges
from ecoach.actions.unit import unit_of_work
from ecoach.core.clock import Clock

log = logging.getLogger(__name__)

MAX_BATCH = 256


AfterRecord = Callable[[AsyncSession, list[Recorded], datetime], Awaitable[object]]
# ``timing(phase, seconds)``: "queue" per message (submitted until its batch starts),
# "transaction" and "commit" per batch (see ecoach.metrics).
Timing = Callable[[str, float], None]


class ExchangeWriter:
    """Group commit: concurrent submissions share one transaction (one unit of work), and
    their events go out after its commit like any other action's."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        after_record: AfterRecord | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        # Runs inside the batch's transaction (e.g. queue notification mails).
        self._after_record = after_record
        self._queue: asyncio.Queue[tuple[NewExchange, asyncio.Future[Recorded], float]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.timing: Timing | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="exchange-writer")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        while not self._queue.empty():
            _, fut, _ = self._queue.get_nowait()
            if not fut.done():
                fut.set_exception(ActionError("shutting_down", N_("The server is restarting; try again.")))

    async def after_record(self, session: AsyncSession, recorded: list[Recorded], now: datetime) -> None:
        """What follows a recording (notification mails), for exchanges recorded outside
        the writer (files in the chat), in the caller's transaction."""
        if self._after_record is not None:
            await self._after_record(session, [r for r in recorded if r.created], now)

    async def submit(self, item: NewExchange) -> Recorded:
        if self._task is None or self._task.done():
            raise RuntimeError("ExchangeWriter is not running")
        fut: asyncio.Future[Recorded] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, fut, time.perf_counter()))  # unbounded: never waits
        return await fut

    async def _run(self) -> None:
        while True:
            queued = [await self._queue.get()]
            while len(queued) < MAX_BATCH and not self._queue.empty():
                queued.append(self._queue.get_nowait())
            if self.timing is not None:
                started = time.perf_counter()
                for _, _, submitted in queued:
                    self.timing("queue", started - submitted)
            batch = [(item, fut) for item, fut, _ in queued]
            try:
                await self._write(batch)
            except Exception:  # noqa: BLE001 - retry one by one so one bad item fails alone
                log.exception("batch of %d failed; retrying one by one", len(batch))
                for entry in batch:
                    try:
                        await self._write([entry])
                    except Exception as exc:  # noqa: BLE001
                        if not entry[1].done():
                            entry[1].set_exception(exc)

    async def _write(self, batch: list[tuple[NewExchange, asyncio.Future[Recorded]]]) -> None:
        live = [(item, fut) for item, fut in batch if not fut.done()]
        if not live:
            return
        started = time.perf_counter()
        async with unit_of_work(self._sessions) as session:
            now = self._clock.now()
            results = await record_exchanges(session, [item for item, _ in live], now)
            for (item, _), result in zip(live, results):
                if item.also is not None and isinstance(result, Recorded) and result.created:
                    await item.also(session, result)
            if self._after_record is not None:
                await self._after_record(session, [r for r in results if isinstance(r, Recorded)], now)
            committing = time.perf_counter()
        if self.timing is not None:
            self.timing("transaction", committing - started)
            self.timing("commit", time.perf_counter() - committing)
        for (_, fut), result in zip(live, results):
            if fut.done():
                continue
            if isinstance(result, ActionError):
                fut.set_exception(result)
            else:
                fut.set_result(result)
