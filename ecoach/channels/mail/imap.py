"""IMAP ingest: read one mailbox folder, hand every mail to the inbound pipeline, and only
after that commit move it to the processed folder.

Exactly once, whatever instant the process dies at:
- mails are taken in in UID order, a batch per transaction, and the folder's position
  ``(UIDVALIDITY, last UID)`` is saved in that same transaction;
- a mail still in the folder at or below the saved UID was committed but not yet moved
  (the process died in between): it is moved without being fetched again;
- the pipeline's dedupe record (Message-ID, else a hash of the raw mail) stops anything
  that slips past the position, e.g. after a UIDVALIDITY change, when the whole folder
  is read again and what was seen before is only moved.

One process at a time reads a mailbox (``reader_lease.py``): every process runs a reader,
but only the lease holder reads; the others stand by and take over when it dies. Each
batch's transaction checks the lease, so a reader that lost it commits nothing.

The reader waits with IMAP IDLE (re-issued after ``idle_seconds``), or polls every
``poll_seconds`` when the server has no IDLE, and reconnects with exponential backoff after
any error: a refused login or a missing folder is logged as such and retried, never a
crash loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import ssl
from datetime import datetime

from aioimaplib import AioImapException
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions.mail_inbound import Outcome, take_in_mails
from ecoach.channels.mail.imap_client import (  # noqa: F401 - the wire helpers, re-exported
    Connection, MailboxProblem, batches, client_for, fetched_bodies, mailbox_name, uid_set,
)
from ecoach.channels.mail.reader_lease import LeaseLost, MailboxLease
from ecoach.core.clock import Clock
from ecoach.logbook import mail_queries
from ecoach.settings import Mailbox, Settings

log = logging.getLogger(__name__)

BATCH_MAILS = 50  # mails per FETCH and per transaction
BATCH_BYTES = 20 * 1024 * 1024  # ... unless they are large
# New mails looked at per pass: aioimaplib rescans a FETCH answer's earlier lines at each
# new line, so an answer is kept to a few hundred lines.
WINDOW = 200
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 300.0


def process_holder(settings: Settings) -> str:
    """Who holds a mailbox: this host and process (and its name, when it has one)."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    return f"{name}:{settings.process_name}"[:200] if settings.process_name else name[:200]


class ImapIngest:
    """Reads one configured mailbox until stopped."""

    def __init__(self, settings: Settings, box: Mailbox, sessions: async_sessionmaker[AsyncSession],
                 clock: Clock, *, holder: str | None = None, batch_mails: int = BATCH_MAILS,
                 backoff_max: float = BACKOFF_MAX) -> None:
        self.box = box
        self._settings = settings
        self._sessions = sessions
        self._clock = clock
        self.lease = MailboxLease(sessions, box.name, holder or process_holder(settings), clock,
                                  settings.mail.reader_lease_seconds)
        self.state = "standby"  # or "reading": this process holds the mailbox
        self._owner: int | None = None
        self._batch_mails = batch_mails
        self._backoff_max = backoff_max
        self._task: asyncio.Task[None] | None = None
        self.problem: str | None = None  # the last error, for the admin; None when reading fine
        self.connected = asyncio.Event()  # set while logged in and reading
        self.connects = 0  # logins so far
        self.idles = 0  # IDLE commands issued so far

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"imap-{self.box.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.lease.release()  # another process may take over at once

    async def _run(self) -> None:
        """Read while this process holds the mailbox; on standby while another does."""
        while True:
            self.state = "standby"
            await self.lease.acquire()
            self.state = "reading"
            reading = asyncio.create_task(self._read_with_backoff(), name=f"imap-read-{self.box.name}")
            keeping = asyncio.create_task(self.lease.keep(), name=f"imap-lease-{self.box.name}")
            try:
                await asyncio.wait({reading, keeping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (reading, keeping):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, LeaseLost):
                        await task
            self.connected.clear()

    async def _read_with_backoff(self) -> None:
        """Until the lease is lost: read, and after any error reconnect with backoff."""
        delay = BACKOFF_FIRST
        while True:
            try:
                await self._read()
            except LeaseLost:
                return
            except (MailboxProblem, ssl.SSLError) as exc:  # the admin has to look (a bad certificate too)
                self._trouble(logging.ERROR, f"mailbox {self.box.name!r}: {exc}")
            except (OSError, asyncio.TimeoutError, AioImapException) as exc:
                self._trouble(logging.WARNING, f"mailbox {self.box.name!r}: connection: {exc or type(exc).__name__}")
            except Exception as exc:  # noqa: BLE001 - never a crash loop: log, wait, retry
                log.exception("mailbox %r: reading failed", self.box.name)
                self.problem = f"{type(exc).__name__}: {exc}"
            if self.connected.is_set():  # it worked for a while: start the backoff afresh
                delay = BACKOFF_FIRST
            self.connected.clear()
            pause = delay * random.uniform(0.8, 1.2)
            log.info("mailbox %r: reconnecting in %.1fs", self.box.name, pause)
            await asyncio.sleep(pause)
            delay = min(delay * 2, self._backoff_max)

    def _trouble(self, level: int, message: str) -> None:
        self.problem = message
        log.log(level, "%s (retrying with backoff)", message)

    async def _read(self) -> None:
        conn = Connection(client_for(self.box), self.box)
        try:
            await conn.open()
            self._owner = await self._mailbox_coach()
            self.problem = None
            self.connects += 1
            self.connected.set()
            log.info("mailbox %r: reading %s (UIDVALIDITY %d)", self.box.name, self.box.folder, conn.uidvalidity)
            while True:
                while True:
                    conn.imap.protocol.changed.clear()
                    if not await self._drain(conn) and not conn.imap.protocol.changed.is_set():
                        break
                self.idles += conn.has("IDLE")
                await conn.wait_for_news()
        finally:
            await conn.close()

    async def _drain(self, conn: Connection) -> bool:
        """One pass over the folder; True when it found mail (look again: more may have come)."""
        cursor = await self._cursor()
        last = 0
        if cursor is not None and cursor[0] == conn.uidvalidity:
            last = cursor[1]
        elif cursor is not None:
            log.warning("mailbox %r: UIDVALIDITY changed (%d -> %d): reading the folder again; mail seen "
                        "before is only moved", self.box.name, cursor[0], conn.uidvalidity)
        uids = await conn.uids()
        done = [uid for uid in uids if uid <= last]
        for i in range(0, len(done), self._batch_mails):  # committed before an earlier run could move them
            await conn.acknowledge(done[i:i + self._batch_mails])
        new = [uid for uid in uids if uid > last][:WINDOW]
        listing = await conn.sizes(new) if new else []
        await self._take_batches(conn, list(batches(listing, self._batch_mails, BATCH_BYTES)))
        return bool(uids)

    async def _take_batches(self, conn: Connection, todo: list[list[int]]) -> None:
        """Commit each batch, then move it; the next batch is fetched meanwhile."""
        fetching = asyncio.ensure_future(conn.bodies(todo[0])) if todo else None
        try:
            for i, batch in enumerate(todo):
                assert fetching is not None
                raws = await fetching
                fetching = asyncio.ensure_future(conn.bodies(todo[i + 1])) if i + 1 < len(todo) else None
                await self._check_missing(conn, [uid for uid in batch if uid not in raws])
                await self.take([raws[uid] for uid in batch if uid in raws],
                                uidvalidity=conn.uidvalidity, last_uid=batch[-1])
                if raws:
                    await conn.acknowledge([uid for uid in batch if uid in raws])
        finally:
            if fetching is not None:
                fetching.cancel()
                with contextlib.suppress(BaseException):
                    await fetching

    async def _check_missing(self, conn: Connection, missing: list[int]) -> None:
        """A UID asked for but not returned was expunged meanwhile (by another client): gone,
        nothing to take in. If it is still there, the position must not pass it."""
        if not missing:
            return
        still = sorted(set(missing) & set(await conn.uids()))
        if still:
            raise MailboxProblem(f"mails with UIDs {still} are there but cannot be read")
        log.warning("mailbox %r: UIDs %s vanished before they were read", self.box.name, missing)

    async def _cursor(self) -> tuple[int, int] | None:
        async with self._sessions() as session:
            return await mail_queries.get_mailbox_position(session, self.box.name)

    async def _mailbox_coach(self) -> int | None:
        """The coach who sees this mailbox's unplaceable mail (None: the pipeline's default)."""
        if not self.box.coach_email:
            return None
        async with self._sessions() as session:
            coach_id = await mail_queries.get_coach_id_by_email(session, self.box.coach_email)
        if coach_id is None:
            log.error("mailbox %r: coach_email %r is no coach here", self.box.name, self.box.coach_email)
        return coach_id

    async def take(self, raws: list[bytes], *, uidvalidity: int, last_uid: int) -> list[Outcome]:
        """Commit a batch of mails together with the folder's new position, provided this
        process still reads the mailbox (else LeaseLost, and nothing is committed)."""

        async def in_transaction(session: AsyncSession, now: datetime) -> None:
            await self.lease.fence(session)
            await mail_queries.save_mailbox_position(session, now, mailbox=self.box.name,
                                                     uidvalidity=uidvalidity, last_uid=last_uid)

        return await take_in_mails(
            self._sessions, raws, source=f"imap:{self.box.name}", settings=self._settings,
            clock=self._clock, owner_coach_id=self._owner, in_transaction=in_transaction)
