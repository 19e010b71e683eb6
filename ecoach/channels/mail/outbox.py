"""The outbox dispatcher: delivers queued mail over SMTP and records what became of it.

Each round claims due rows with a lease and commits the claim, sends them over one SMTP
connection, then records every result in one transaction (a unit of work: the delivery
events reach the coach after it commits). A 4xx, a timeout or a lost connection is tried again later with
backoff; a 5xx fails the mail at once with the server's reason. When the relay cannot be
reached the round stops: the rows not tried are handed back without counting an attempt.

``wake()`` starts a round at once (``ecoach.app`` calls it for every committed
``topics.OUTBOX`` event: a mail was queued in this process); a periodic tick picks up
retries that have come due, and mail other processes queued. ``run_once()`` is one round, for tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass, field
from datetime import timedelta

import aiosmtplib
from aiosmtplib import (
    SMTPException,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseException,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions.mail_outbox import (
    ClaimedMail,
    DeliveryChange,
    claim_due_mail,
    do_mark_failed,
    do_mark_retry,
    do_mark_sent,
    release_claims,
)
from ecoach.actions.unit import unit_of_work
from ecoach.core.clock import Clock
from ecoach.settings import MailSettings

log = logging.getLogger(__name__)

SENT, RETRY, FAILED, DOWN = "sent", "retry", "failed", "down"
TICK_SECONDS = 5.0
BATCH_SIZE = 100


@dataclass
class Round:
    """What one round did; ``stopped`` when the relay could not be reached."""

    claimed: int = 0
    sent: list[ClaimedMail] = field(default_factory=list)
    retry: list[tuple[ClaimedMail, str]] = field(default_factory=list)
    failed: list[tuple[ClaimedMail, str]] = field(default_factory=list)
    released: list[ClaimedMail] = field(default_factory=list)
    stopped: bool = False

    @property
    def progressed(self) -> bool:
        return bool(self.sent or self.retry or self.failed)


def classify_reply(code: int, message: str) -> tuple[str, str]:
    detail = f"{code} {message}".strip()
    if code == 421:  # the server is closing the connection: a relay problem, not this mail's
        return DOWN, detail
    if 500 <= code < 600:
        return FAILED, detail
    return RETRY, detail


async def deliver(smtp: aiosmtplib.SMTP, mail: ClaimedMail) -> tuple[str, str | None]:
    """Send one stored mail as it is; the verdict and the server's reply on failure."""
    try:
        await smtp.sendmail(mail.sender, [mail.recipient], mail.raw)
    except SMTPRecipientsRefused as exc:
        refused = exc.recipients[0]
        return classify_reply(refused.code, refused.message)
    except SMTPResponseException as exc:
        return classify_reply(exc.code, exc.message)
    except (ValueError, SMTPNotSupported) as exc:  # an address no relay will take
        return FAILED, f"not sendable: {exc}"
    except (SMTPException, OSError, asyncio.TimeoutError) as exc:
        return DOWN, _describe(exc)
    return SENT, None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SMTPResponseException):
        return f"{exc.code} {exc.message}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class OutboxDispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        mail: MailSettings,
        clock: Clock,
        *,
        tick_seconds: float = TICK_SECONDS,
        batch_size: int = BATCH_SIZE,
        lease_seconds: float | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._sessions = sessions
        self._mail = mail
        self._clock = clock
        self._tick = tick_seconds
        self._batch_size = batch_size
        # A send never starts with less than this much lease left (MAIL, RCPT, DATA and
        # the end of data may each take up to the timeout), so no other process can
        # claim a row while it is being sent.
        self._lease = lease_seconds if lease_seconds is not None else max(60.0, 10 * mail.smtp_timeout)
        self._margin = timedelta(seconds=min(4 * mail.smtp_timeout, self._lease / 2))
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0  # rounds the background loop has finished (observable in tests)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mail-outbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                result = await self.run_once()
            except Exception:  # noqa: BLE001 - e.g. the database is down; the tick retries
                log.exception("outbox round failed")
                result = Round(stopped=True)
            self.rounds += 1
            if result.progressed and not result.stopped:
                continue  # more may be due: the next mail to each recipient, a full batch
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._tick)

    async def run_once(self) -> Round:
        """Claim, send, record: one round."""
        async with unit_of_work(self._sessions) as session:
            batch = await claim_due_mail(session, self._clock.now(), self._lease, self._batch_size)
        result = Round(claimed=len(batch))
        if batch:
            await self._send(batch, result)
            await self._record(result)
        return result

    async def _send(self, batch: list[ClaimedMail], result: Round) -> None:
        smtp = self._client()
        try:
            await smtp.connect()
        except (SMTPException, OSError, asyncio.TimeoutError) as exc:
            log.warning("SMTP relay %s:%s unreachable: %s", self._mail.smtp_host, self._mail.smtp_port,
                        _describe(exc))
            result.retry.append((batch[0], _describe(exc)))
            result.released.extend(batch[1:])
            result.stopped = True
            return
        try:
            await self._send_batch(smtp, batch, result)
        finally:
            await _close(smtp)

    async def _send_batch(self, smtp: aiosmtplib.SMTP, batch: list[ClaimedMail], result: Round) -> None:
        for index, mail in enumerate(batch):
            if self._clock.now() + self._margin > mail.lease_until:
                result.released.extend(batch[index:])  # the rest go in the next round
                return
            verdict, detail = await deliver(smtp, mail)
            if verdict == SENT:
                result.sent.append(mail)
            elif verdict == FAILED:
                result.failed.append((mail, detail or "failed"))
            else:
                result.retry.append((mail, detail or "try again"))
            if verdict == DOWN:
                log.warning("SMTP connection lost: %s", detail)
                result.released.extend(batch[index + 1:])
                result.stopped = True
                return

    async def _record(self, result: Round) -> list[DeliveryChange]:
        async with unit_of_work(self._sessions) as session:
            now = self._clock.now()
            changes = await do_mark_sent(session, result.sent, now)
            changes += await do_mark_retry(session, result.retry, now, self._mail, jitter=self._rng.random)
            changes += await do_mark_failed(session, result.failed, now)
            await release_claims(session, result.released)
        for mail, detail in result.failed:
            log.warning("mail %s to %s failed: %s", mail.id, mail.recipient, detail)
        if result.sent:
            log.debug("%d mail(s) sent", len(result.sent))
        return changes

    def _client(self) -> aiosmtplib.SMTP:
        mail = self._mail
        return aiosmtplib.SMTP(
            hostname=mail.smtp_host,
            port=mail.smtp_port,
            username=mail.smtp_username or None,
            password=mail.smtp_password if mail.smtp_username else None,
            timeout=mail.smtp_timeout,
            use_tls=mail.smtp_security == "tls",
            start_tls=mail.smtp_security == "starttls",
            local_hostname=mail.domain,
        )


async def _close(smtp: aiosmtplib.SMTP) -> None:
    if not smtp.is_connected:
        return
    try:
        await smtp.quit()
    except (SMTPException, OSError, asyncio.TimeoutError):
        smtp.close()
