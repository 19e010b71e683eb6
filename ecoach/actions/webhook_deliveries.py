"""One delivery of a webhook: its body, built from the database when it is sent, and what
became of it (delivered; retried with backoff; failed after ``webhooks.max_attempts``;
the endpoint turned off after ``webhooks.disable_after_hours`` of failures).

The body says no more than the coach chose: ids, channels, states and times; the text of
an exchange only when the endpoint has ``include_text``. It is built at send time, so a
retry sends what the database holds then, and nothing personal is ever stored for it.
An engagement that has changed hands since (or is gone) is not sent: a coach never
receives another coach's data.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import N_
from ecoach.actions.unit import emit
from ecoach.actions.webhooks import DELIVER_TASK, disable, signing_secret
from ecoach.core import topics
from ecoach.core.webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TEST, signature
from ecoach.logbook import webhook_queries as wq
from ecoach.logbook.availability_models import Commitment
from ecoach.logbook.booking_models import Booking, SessionType
from ecoach.logbook.models import Engagement, Exchange
from ecoach.logbook.task_leases import retry_delay
from ecoach.logbook.tasks import schedule_task
from ecoach.logbook.webhook_models import DELIVERED, FAILED, PENDING, SKIPPED, WebhookDelivery, WebhookEndpoint
from ecoach.settings import Settings

log = logging.getLogger(__name__)

USER_AGENT = "ecoach-webhooks/1"


@dataclass(frozen=True)
class Prepared:
    """A delivery ready to send."""

    delivery_id: int
    endpoint_id: int
    coach_id: int
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class SendResult:
    ok: bool
    summary: str  # "HTTP 200", "timeout after 10 s", "address 10.0.0.1 is private", ...


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


async def prepare_delivery(session: AsyncSession, delivery_id: int, *, secret_key: str,
                           now: datetime) -> Prepared | None:
    """The signed request for a pending delivery; None when there is nothing to send (it
    was sent or cancelled meanwhile, its endpoint is off, its engagement changed hands)."""
    found = await wq.get_delivery_to_send(session, delivery_id)
    if found is None or found[0].status != PENDING:
        return None
    delivery, endpoint = found
    if not endpoint.enabled:
        delivery.status, delivery.last_result = FAILED, N_("not sent: the webhook was turned off")
        return None
    data = await _data(session, delivery, endpoint)
    if data is None:
        delivery.status, delivery.last_result = SKIPPED, N_("not sent: the engagement is no longer yours")
        emit(session, topics.FACTS, {"type": "webhook.delivery", "outcome": "skipped"})
        return None
    envelope = {"id": str(delivery.id), "type": delivery.event_type, "occurred_at": _iso(delivery.created_at),
                "endpoint_id": endpoint.id, "data": data}
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, EVENT_HEADER: delivery.event_type,
               DELIVERY_HEADER: str(delivery.id),
               SIGNATURE_HEADER: signature(signing_secret(endpoint, secret_key), int(now.timestamp()), body)}
    return Prepared(delivery.id, endpoint.id, endpoint.coach_id, endpoint.url, body, headers)


async def _data(session: AsyncSession, delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> dict[str, Any] | None:
    kind = delivery.event_type
    if kind == TEST:
        return {"message": "A test event from ecoach: this webhook works."}
    engagement = await session.get(Engagement, delivery.engagement_id) if delivery.engagement_id else None
    if engagement is None or engagement.coach_id != endpoint.coach_id:
        return None
    data: dict[str, Any] = {"engagement_id": engagement.id}
    if kind == "exchange.created":
        exchange = await session.get(Exchange, delivery.object_id)
        if exchange is None or exchange.engagement_id != engagement.id:
            return None
        data["exchange"] = _exchange(exchange, endpoint.include_text)
    elif kind == "engagement.status_changed":
        data["status"] = delivery.detail
        data["current_status"] = engagement.status
    elif kind.startswith("booking."):
        booking = await session.get(Booking, delivery.object_id)
        if booking is None or booking.engagement_id != engagement.id:
            return None
        data["booking"] = await _booking(session, booking)
    elif kind == "commitment.breached":
        commitment = await session.get(Commitment, delivery.object_id)
        if commitment is None or commitment.engagement_id != engagement.id:
            return None
        data["commitment"] = {"id": commitment.id, "channel": commitment.channel,
                              "received_at": _iso(commitment.received_at), "due_at": _iso(commitment.due_at),
                              "breached_at": _iso(commitment.breached_at), "state": commitment.state}
    return data


def _exchange(exchange: Exchange, include_text: bool) -> dict[str, Any]:
    found: dict[str, Any] = {"id": exchange.id, "channel": exchange.channel, "direction": exchange.direction,
                             "author": exchange.author, "created_at": _iso(exchange.created_at),
                             "delivery_state": exchange.delivery_state}
    if include_text:
        found["text"] = exchange.body_text
        subject = (exchange.meta or {}).get("subject")
        if subject:
            found["subject"] = subject
    return found


async def _booking(session: AsyncSession, booking: Booking) -> dict[str, Any]:
    kind = await session.get(SessionType, booking.session_type_id)
    return {"id": booking.id, "status": booking.status, "channel": booking.channel,
            "session_type": kind.name if kind else None, "starts_at": _iso(booking.starts_at),
            "ends_at": _iso(booking.ends_at), "cancelled_by": booking.cancelled_by}


# --- after the attempt -------------------------------------------------------------------------


async def do_record_outcome(session: AsyncSession, prepared: Prepared, result: SendResult, *, settings: Settings,
                            now: datetime, jitter: float = 0.0) -> str:
    """Record an attempt; returns "delivered", "retrying" or "failed"."""
    found = await wq.lock_for_outcome(session, prepared.delivery_id)
    if found is None:
        return "failed"  # the endpoint was deleted meanwhile
    delivery, endpoint = found
    delivery.attempts += 1
    delivery.last_attempt_at = endpoint.last_attempt_at = now
    delivery.last_result = endpoint.last_result = result.summary[:300]
    if result.ok:
        delivery.status, delivery.delivered_at = DELIVERED, now
        endpoint.last_success_at, endpoint.failing_since = now, None
        outcome = "delivered"
    else:
        outcome = await _failed(session, delivery, endpoint, settings, now, jitter)
    emit(session, topics.FACTS, {"type": "webhook.delivery", "outcome": outcome})
    await session.flush()
    return outcome


async def _failed(session: AsyncSession, delivery: WebhookDelivery, endpoint: WebhookEndpoint, settings: Settings,
                  now: datetime, jitter: float) -> str:
    hooks = settings.webhooks
    endpoint.failing_since = endpoint.failing_since or now
    turn_off = endpoint.enabled and now - endpoint.failing_since >= timedelta(hours=hooks.disable_after_hours)
    if delivery.attempts >= hooks.max_attempts or turn_off or not endpoint.enabled or delivery.status != PENDING:
        # (turned off meanwhile, by the coach or by another delivery's failure: no retry)
        delivery.status, outcome = FAILED, "failed"
    else:
        delay = retry_delay(delivery.attempts, hooks.retry_base_seconds, hooks.retry_max_seconds, jitter)
        await schedule_task(session, DELIVER_TASK, now + timedelta(seconds=delay), {"delivery_id": delivery.id},
                            key=wq.delivery_key(endpoint.id, delivery.id), now=now)
        outcome = "retrying"
    if turn_off:
        await _turn_off(session, endpoint, settings, now)
    return outcome


async def _turn_off(session: AsyncSession, endpoint: WebhookEndpoint, settings: Settings, now: datetime) -> None:
    failed = await disable(session, endpoint, "failing", N_("not sent: the webhook was turned off after failing"), now)
    log.warning("webhook %s of coach %s turned off: failing since %s (%d waiting deliveries failed)",
                endpoint.id, endpoint.coach_id, endpoint.failing_since, failed)
    emit(session, topics.coach(endpoint.coach_id), {"type": "webhook_disabled", "endpoint_id": endpoint.id})
    if settings.mail.enabled:
        from ecoach.actions.webhook_notice import queue_disabled_notice

        await queue_disabled_notice(session, endpoint, settings, now)
