"""One reader per IMAP mailbox, across all server processes.

Every process that has the mail channel starts a reader per mailbox, but a reader only
reads while its process holds the mailbox's lease row (``ecoach.logbook.mailbox_leases``);
the others wait on standby and look again every third of ``mail.reader_lease_seconds``.
The holder renews at that pace too. When the holder dies (even SIGKILL) its lease runs
out and a standby process takes the mailbox over: within about 1⅓ leases (40 s with the
default of 30 s). A reader that stops gives its mailbox back at once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions.unit import unit_of_work
from ecoach.core.clock import Clock
from ecoach.logbook.mailbox_leases import fence, release_mailbox, renew_mailbox, take_mailbox

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another process reads this mailbox now."""


class MailboxLease:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], mailbox: str, holder: str, clock: Clock,
                 lease_seconds: float) -> None:
        self._sessions = sessions
        self.mailbox = mailbox
        self.holder = holder
        self._clock = clock
        self._lease = timedelta(seconds=lease_seconds)
        self.interval = lease_seconds / 3
        self.held = False

    async def acquire(self) -> None:
        """Wait until this process is the mailbox's reader (at once when it is free)."""
        announced = False
        while not await self.try_take():
            if not announced:
                log.info("mailbox %r is read by another process; %s waits on standby", self.mailbox, self.holder)
                announced = True
            await asyncio.sleep(self.interval)
        self.held = True
        log.info("mailbox %r: read by %s", self.mailbox, self.holder)

    async def keep(self) -> None:
        """Renew the lease until it is lost (returns then); the caller stops reading."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                async with unit_of_work(self._sessions) as session:
                    renewed = await renew_mailbox(session, self.mailbox, self.holder, self._clock.now() + self._lease)
            except Exception:  # noqa: BLE001 - the database is away: try again; the fence guards commits
                log.exception("mailbox %r: renewing the reader's lease failed", self.mailbox)
                continue
            if not renewed:
                self.held = False
                log.warning("mailbox %r: another process took it over; %s stops reading", self.mailbox,
                            self.holder)
                return

    async def fence(self, session: AsyncSession) -> None:
        """In a batch's transaction: raise LeaseLost (rolling it back) unless still the reader."""
        if not await fence(session, self.mailbox, self.holder):
            self.held = False
            raise LeaseLost(f"mailbox {self.mailbox!r} is read by another process now")

    async def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            async with unit_of_work(self._sessions) as session:
                await release_mailbox(session, self.mailbox, self.holder, self._clock.now())
        except Exception:  # noqa: BLE001 - shutting down: the lease runs out by itself
            log.exception("mailbox %r: giving the lease back failed", self.mailbox)

    async def try_take(self) -> bool:
        """One look: take the mailbox if it is free; True when this process reads it now."""
        try:
            async with unit_of_work(self._sessions) as session:
                now = self._clock.now()
                return await take_mailbox(session, self.mailbox, self.holder, now, now + self._lease)
        except Exception:  # noqa: BLE001 - e.g. the database is away, or another process inserted first
            log.warning("mailbox %r: could not look at its reader's lease", self.mailbox, exc_info=True)
            return False
