"""The mail outbox: save first, deliver second.

An outgoing mail is a ``mail_outbox`` row written in the same transaction as its exchange
(``do_enqueue_mail``, whose local event wakes this process's dispatcher after the commit).
The dispatcher claims due rows with a lease (``claim_due_mail``), commits the claim,
sends, then records every result in one transaction (``do_mark_*``, which register the
delivery events the coach sees after that commit).

Per recipient, mail goes out in the order it was queued: only the oldest unfinished row
to an address can be claimed, so a relay outage or a 4xx never reorders a coachee's mail.
Delivery is at least once: a crash between the relay's 250 and the commit that records
it sends that mail again once the lease runs out (receivers can dedupe on Message-ID).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ecoach.actions.unit import emit
from ecoach.core import topics
from ecoach.core.text import redact_addresses
from ecoach.logbook.mail_models import MailOutbox
from ecoach.logbook.models import Engagement, Exchange
from ecoach.settings import MailSettings

log = logging.getLogger(__name__)

UNFINISHED = ("queued", "retrying")
JITTER = 0.1  # a retry comes up to 10% early, so mails refused together spread out


@dataclass(frozen=True)
class ClaimedMail:
    """A row this process holds the lease on, with what sending and reporting need."""

    id: int
    message_id: str
    sender: str
    recipient: str
    raw: bytes
    attempts: int
    exchange_id: int | None
    engagement_id: int | None
    coach_id: int | None
    lease_until: datetime


@dataclass(frozen=True)
class DeliveryChange:
    """A delivery state change; the coach sees it after its transaction commits."""

    coach_id: int | None
    engagement_id: int | None
    exchange_id: int | None
    state: str
    detail: str | None

    def event(self) -> dict[str, Any]:
        return {"type": "delivery", "engagement_id": self.engagement_id,
                "exchange_id": self.exchange_id, "state": self.state, "detail": self.detail}


def emit_deliveries(session: AsyncSession, changes: Sequence[DeliveryChange]) -> None:
    """After commit, tell the coach. Only mail that is an exchange in a logbook has a
    delivery state to show."""
    for change in changes:
        if change.exchange_id is not None and change.coach_id is not None:
            emit(session, topics.coach(change.coach_id), change.event())


def retry_delay(attempts: int, base: float, cap: float, jitter: float) -> float:
    """Seconds before attempt ``attempts + 1``: doubling from ``base``, at most ``cap``;
    ``jitter`` in [0, 1) takes up to 10% off."""
    delay = min(cap, base * 2.0 ** min(max(attempts - 1, 0), 60))
    return delay * (1.0 - JITTER * jitter)


async def do_enqueue_mail(
    session: AsyncSession,
    *,
    raw: bytes,
    message_id: str,
    sender: str,
    recipient: str,
    kind: str,
    exchange_id: int | None = None,
    engagement_id: int | None = None,
    now: datetime,
) -> MailOutbox:
    """Queue a composed mail in the caller's transaction, together with the exchange
    (whose delivery_state it recorded as "queued"); once that commits, the outbox
    dispatcher wakes up (a local event)."""
    row = MailOutbox(
        exchange_id=exchange_id, engagement_id=engagement_id, kind=kind, message_id=message_id,
        sender=sender, recipient=recipient, raw=raw, state="queued", attempts=0,
        next_attempt_at=now, created_at=now,
    )
    session.add(row)
    await session.flush()
    emit(session, topics.OUTBOX, {"type": "mail_queued"})  # this process's dispatcher sends it at once
    return row


def _due_ids(session: AsyncSession, now: datetime, limit: int):  # type: ignore[no-untyped-def]
    cand = aliased(MailOutbox, name="cand")
    earlier = aliased(MailOutbox, name="earlier")
    # An older unfinished mail to the same address goes first (an index on the address's
    # blind index and id, ix_mail_outbox_recipient, keeps this probe cheap).
    waits_behind = exists().where(
        earlier.recipient_index == cand.recipient_index, earlier.id < cand.id, earlier.state.in_(UNFINISHED)
    )
    stmt = (
        select(cand.id)
        .where(cand.state.in_(UNFINISHED), cand.next_attempt_at <= now,
               or_(cand.claimed_until.is_(None), cand.claimed_until < now), ~waits_behind)
        .order_by(cand.id)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        # Several server processes: each takes rows the others have not locked.
        stmt = stmt.with_for_update(skip_locked=True)
    return stmt


async def claim_due_mail(
    session: AsyncSession, now: datetime, lease_seconds: float, limit: int
) -> list[ClaimedMail]:
    """Lease up to ``limit`` due rows, oldest first. The caller commits before sending.

    One UPDATE statement: on SQLite it takes the write lock before reading, so two
    processes never claim the same row; on PostgreSQL the rows are locked SKIP LOCKED."""
    until = now + timedelta(seconds=lease_seconds)
    claim = (
        update(MailOutbox)
        .where(MailOutbox.id.in_(_due_ids(session, now, limit)))
        .values(claimed_until=until)
        .returning(MailOutbox.id)
        .execution_options(synchronize_session=False)
    )
    ids = [row.id for row in await session.execute(claim)]
    if not ids:
        return []
    owner = func.coalesce(MailOutbox.engagement_id, Exchange.engagement_id)
    stmt = (
        select(MailOutbox.id, MailOutbox.message_id, MailOutbox.sender, MailOutbox.recipient.label("recipient"),
               MailOutbox.raw.label("raw"), MailOutbox.attempts, MailOutbox.exchange_id,
               owner.label("engagement_id"), Engagement.coach_id)
        .outerjoin(Exchange, Exchange.id == MailOutbox.exchange_id)
        .outerjoin(Engagement, Engagement.id == owner)
        .where(MailOutbox.id.in_(ids))
        .order_by(MailOutbox.id)
    )
    return [ClaimedMail(**row._asdict(), lease_until=until) for row in await session.execute(stmt)]


async def release_claims(session: AsyncSession, mails: Sequence[ClaimedMail]) -> None:
    """Give rows back untried (the batch stopped early): no attempt is counted."""
    if mails:
        await session.execute(
            update(MailOutbox)
            .where(MailOutbox.id.in_([m.id for m in mails]),
                   MailOutbox.claimed_until == mails[0].lease_until)
            .values(claimed_until=None)
            .execution_options(synchronize_session=False)
        )


async def do_mark_sent(
    session: AsyncSession, mails: Sequence[ClaimedMail], now: datetime
) -> list[DeliveryChange]:
    if not mails:
        return []
    await session.execute(
        update(MailOutbox)
        .where(MailOutbox.id.in_([m.id for m in mails]))
        .values(state="sent", sent_at=now, attempts=MailOutbox.attempts + 1,
                claimed_until=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return await _set_exchanges(session, [(m, "sent", None) for m in mails])


async def do_mark_retry(
    session: AsyncSession,
    failures: Sequence[tuple[ClaimedMail, str]],
    now: datetime,
    mail: MailSettings,
    *,
    jitter: Callable[[], float] = lambda: 0.0,
) -> list[DeliveryChange]:
    """A temporary failure (4xx, connection, timeout): try again later with backoff, or
    give up after ``mail.retry_max_attempts`` attempts."""
    retry: list[tuple[ClaimedMail, str, dict[str, Any]]] = []
    given_up: list[tuple[ClaimedMail, str]] = []
    for item, error in failures:
        attempts = item.attempts + 1
        if attempts >= mail.retry_max_attempts:
            given_up.append((item, f"{error} (gave up after {attempts} attempts)"))
            continue
        delay = retry_delay(attempts, mail.retry_base_seconds, mail.retry_max_seconds, jitter())
        retry.append((item, error, dict(
            id=item.id, state="retrying", attempts=attempts, claimed_until=None,
            next_attempt_at=now + timedelta(seconds=delay), last_error=redact_addresses(error)[:1000])))
    if retry:
        await session.execute(update(MailOutbox), [params for _, _, params in retry])
    changes = await _set_exchanges(session, [(item, "retrying", error) for item, error, _ in retry])
    return changes + await do_mark_failed(session, given_up, now)


async def do_mark_failed(
    session: AsyncSession,
    failures: Sequence[tuple[ClaimedMail, str]],
    now: datetime,
    *,
    counts_attempt: bool = True,
) -> list[DeliveryChange]:
    """A permanent failure (5xx, an unsendable address, or retries used up)."""
    if not failures:
        return []
    extra = 1 if counts_attempt else 0
    await session.execute(
        update(MailOutbox),
        [dict(id=item.id, state="failed", attempts=item.attempts + extra, claimed_until=None,
              last_error=redact_addresses(error)[:1000]) for item, error in failures],
    )
    return await _set_exchanges(session, [(item, "failed", error) for item, error in failures])


async def _set_exchanges(
    session: AsyncSession, results: Sequence[tuple[ClaimedMail, str, str | None]]
) -> list[DeliveryChange]:
    """delivery_state and delivery_detail are the only exchange columns that may change.
    The relay's reason is kept without the addresses it may name (stored unsealed)."""
    results = [(m, state, redact_addresses(detail) if detail else None) for m, state, detail in results]
    params = [dict(id=m.exchange_id, delivery_state=state, delivery_detail=detail[:500] if detail else None)
              for m, state, detail in results if m.exchange_id is not None]
    if params:
        await session.execute(update(Exchange), params)
    changes = [DeliveryChange(m.coach_id, m.engagement_id, m.exchange_id, state, detail)
               for m, state, detail in results]
    emit_deliveries(session, changes)
    if results:  # every outcome, of notifications too, for /metrics
        emit(session, topics.FACTS, {"type": "mail.delivery", "state": results[0][1], "count": len(results)})
    return changes


async def do_mark_bounced(
    session: AsyncSession,
    message_ids: list[str],
    status: str,
    now: datetime,
    *,
    changes: list[DeliveryChange] | None = None,
) -> int:
    """A delivery status notification came back: the mails it names (by Message-ID, with
    or without angle brackets) and their exchanges are failed with its status. Returns
    how many outbox rows matched; ``changes`` collects the delivery changes (their events
    are registered on the session)."""
    wanted: set[str] = set()
    for value in message_ids:
        bare = value.strip().strip("<>").strip()
        if bare:
            wanted.update((bare, f"<{bare}>"))
    if not wanted:
        return 0
    owner = func.coalesce(MailOutbox.engagement_id, Exchange.engagement_id)
    stmt = (
        select(MailOutbox.id, MailOutbox.message_id, MailOutbox.sender, MailOutbox.recipient.label("recipient"),
               MailOutbox.attempts, MailOutbox.exchange_id, owner.label("engagement_id"),
               Engagement.coach_id)
        .outerjoin(Exchange, Exchange.id == MailOutbox.exchange_id)
        .outerjoin(Engagement, Engagement.id == owner)
        .where(MailOutbox.message_id.in_(wanted))
    )
    rows = [ClaimedMail(**row._asdict(), raw=b"", lease_until=now) for row in await session.execute(stmt)]
    detail = status.strip() or "bounced"
    found = await do_mark_failed(session, [(row, detail) for row in rows], now, counts_attempt=False)
    if changes is not None:
        changes.extend(found)
    log.info("bounce %s matched %d outbox row(s)", detail, len(rows))
    return len(rows)
