"""Outgoing webhooks: a coach's endpoints, and deliveries queued by the event path.

``stage_hook`` is added to the event bus (``EventBus.add_stage_hook``): inside every
committing transaction it turns the committed events that stand for webhook events
(``ecoach.core.webhooks.occurrences``) into delivery rows for the subscribed, enabled
endpoints of the coach concerned, each with a task due now that sends it. Rows and tasks
commit with their cause or not at all: a rolled-back action is never delivered. With no
endpoint of the coaches concerned, the cost is nothing when the process keeps which
coaches have one (``logbook/webhook_cache.py``), else one indexed SELECT per transaction.

The endpoint's secret is shown once, when made (or replaced); it is stored encrypted
with a key derived from the server's secret key, as the TOTP secrets are.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ecoach.actions.audit import record_audit
from ecoach.actions.errors import ActionError, Conflict, N_, NotFound, TooMany
from ecoach.core.clock import Clock
from ecoach.core.events import Event
from ecoach.core.webhooks import CHOICES, TEST, UrlRefused, check_url, choices_of, occurrences
from ecoach.logbook import webhook_queries as wq
from ecoach.logbook.tasks import cancel_tasks, schedule_task
from ecoach.logbook.transactions import add_callback
from ecoach.logbook.webhook_cache import EndpointCoaches
from ecoach.logbook.webhook_models import FAILED, PENDING, WebhookDelivery, WebhookEndpoint
from ecoach.settings import WebhookSettings

log = logging.getLogger(__name__)

DELIVER_TASK = "webhooks.deliver"
MAX_DESCRIPTION = 200

_URL_ERRORS = {
    "url_invalid": N_("Give a web address starting with https:// or http://."),
    "url_credentials": N_("The address must not contain a user name or password; the signature proves "
                          "the sender."),
    "url_too_long": N_("This address is too long (at most 2000 characters)."),
    "address_private": N_("This address is in a private or local network, which webhooks may not reach."),
}


def _fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"webhook:{secret_key}".encode()).digest()))


def signing_secret(endpoint: WebhookEndpoint, secret_key: str) -> str:
    return _fernet(secret_key).decrypt(endpoint.secret.encode()).decode()


def _new_secret(secret_key: str) -> tuple[str, str]:
    """(the secret to show once, its stored encrypted form)."""
    secret = "whsec_" + secrets.token_urlsafe(32)
    return secret, _fernet(secret_key).encrypt(secret.encode()).decode()


# --- checks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointForm:
    url: str
    events: tuple[str, ...]
    description: str
    include_text: bool


def check_endpoint(url: Any, events: Iterable[Any], description: Any, include_text: Any,
                   settings: WebhookSettings) -> EndpointForm:
    try:
        checked = check_url(str(url or ""), allow_private=settings.allow_private_addresses)
    except UrlRefused as exc:
        raise ActionError(exc.code, _URL_ERRORS[exc.code]) from None
    chosen = tuple(choice for choice in CHOICES if choice in {str(e) for e in events})
    if not chosen:
        raise ActionError("events_missing", N_("Choose at least one kind of event to send."))
    text = str(description or "").strip()
    if len(text) > MAX_DESCRIPTION:
        raise ActionError("description_too_long", N_("The description can be at most 200 characters."))
    return EndpointForm(checked, chosen, text, bool(include_text))


async def _endpoint(session: AsyncSession, coach_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await wq.get_endpoint(session, coach_id, endpoint_id)
    if endpoint is None:
        raise NotFound("webhook_unknown", N_("This webhook does not exist."))
    return endpoint


# --- endpoints ----------------------------------------------------------------------------


async def do_create_endpoint(session: AsyncSession, coach_id: int, form: EndpointForm, *, settings: WebhookSettings,
                             secret_key: str, now: datetime) -> tuple[WebhookEndpoint, str]:
    """A new enabled endpoint; returns it with its signing secret (shown this once)."""
    if await wq.count_endpoints(session, coach_id) >= settings.endpoints_per_coach:
        raise TooMany("webhooks_too_many", N_("You have %(limit)s webhooks already, the most allowed."),
                      limit=settings.endpoints_per_coach)
    secret, stored = _new_secret(secret_key)
    endpoint = WebhookEndpoint(coach_id=coach_id, url=form.url, description=form.description,
                               events=",".join(form.events), include_text=form.include_text, secret=stored,
                               enabled=True, created_at=now)
    session.add(endpoint)
    await session.flush()
    record_audit(session, "webhook_changed", coach_id=coach_id, now=now, webhook=endpoint.id, change="added")
    log.info("coach %s added webhook %s", coach_id, endpoint.id)
    return endpoint, secret


async def do_update_endpoint(session: AsyncSession, coach_id: int, endpoint_id: int, form: EndpointForm) -> WebhookEndpoint:
    endpoint = await _endpoint(session, coach_id, endpoint_id)
    endpoint.url, endpoint.events = form.url, ",".join(form.events)
    endpoint.description, endpoint.include_text = form.description, form.include_text
    await session.flush()
    record_audit(session, "webhook_changed", coach_id=coach_id, webhook=endpoint.id, change="changed",
                 include_text=form.include_text)
    return endpoint


async def do_rotate_secret(session: AsyncSession, coach_id: int, endpoint_id: int, *, secret_key: str) -> str:
    """A new signing secret (the old one stops at once); returns it, shown this once."""
    endpoint = await _endpoint(session, coach_id, endpoint_id)
    secret, endpoint.secret = _new_secret(secret_key)
    await session.flush()
    record_audit(session, "webhook_changed", coach_id=coach_id, webhook=endpoint.id, change="new_secret")
    return secret


async def do_delete_endpoint(session: AsyncSession, coach_id: int, endpoint_id: int) -> None:
    endpoint = await _endpoint(session, coach_id, endpoint_id)
    await cancel_tasks(session, key_prefix=wq.endpoint_prefix(endpoint.id))
    await session.delete(endpoint)  # its deliveries go with it (ON DELETE CASCADE)
    await session.flush()
    record_audit(session, "webhook_changed", coach_id=coach_id, webhook=endpoint_id, change="deleted")


async def do_set_enabled(session: AsyncSession, coach_id: int, endpoint_id: int, enabled: bool, *,
                         now: datetime) -> WebhookEndpoint:
    """Turn an endpoint on (a fresh start: failures so far are forgotten) or off (what
    waits to be sent fails; "retry" sends it once the endpoint is on again)."""
    endpoint = await _endpoint(session, coach_id, endpoint_id)
    if enabled:
        endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason, endpoint.failing_since = True, None, None, None
    elif endpoint.enabled:
        await disable(session, endpoint, "coach", N_("not sent: the webhook was turned off"), now)
    await session.flush()
    record_audit(session, "webhook_changed", coach_id=coach_id, now=now, webhook=endpoint.id,
                 change="on" if enabled else "off")
    return endpoint


async def disable(session: AsyncSession, endpoint: WebhookEndpoint, reason: str, result: str, now: datetime) -> int:
    """Turn an endpoint off: its waiting deliveries fail with ``result``; how many."""
    endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason = False, now, reason
    await cancel_tasks(session, key_prefix=wq.endpoint_prefix(endpoint.id))
    return await wq.fail_pending(session, endpoint.id, result, now)


# --- deliveries the coach asks for ----------------------------------------------------------


async def do_send_test(session: AsyncSession, coach_id: int, endpoint_id: int, *, now: datetime) -> WebhookDelivery:
    """Queue a ``webhook.test`` delivery now (the caller wakes the task runner after commit)."""
    endpoint = await _endpoint(session, coach_id, endpoint_id)
    if not endpoint.enabled:
        raise Conflict("webhook_disabled", N_("Turn this webhook on first."))
    delivery = WebhookDelivery(endpoint_id=endpoint.id, event_type=TEST, status=PENDING, attempts=0, created_at=now)
    session.add(delivery)
    await session.flush()
    await schedule_task(session, DELIVER_TASK, now, {"delivery_id": delivery.id},
                        key=wq.delivery_key(endpoint.id, delivery.id), now=now)
    return delivery


async def do_retry_delivery(session: AsyncSession, coach_id: int, delivery_id: int, *, now: datetime) -> WebhookDelivery:
    """Send a failed delivery again now, with a fresh count of attempts."""
    found = await wq.get_delivery(session, coach_id, delivery_id)
    if found is None:
        raise NotFound("delivery_unknown", N_("This delivery does not exist."))
    delivery, endpoint = found
    if not endpoint.enabled:
        raise Conflict("webhook_disabled", N_("Turn this webhook on first."))
    if delivery.status not in (FAILED, PENDING):
        raise Conflict("delivery_done", N_("This delivery has been handled already."))
    delivery.status, delivery.attempts = PENDING, 0
    await session.flush()
    await schedule_task(session, DELIVER_TASK, now, {"delivery_id": delivery.id},
                        key=wq.delivery_key(endpoint.id, delivery.id), now=now)
    return delivery


# --- the event path ---------------------------------------------------------------------------


def stage_hook(clock: Clock, wake: Callable[[], None], coaches: EndpointCoaches | None = None,
               ) -> Callable[[Session, Sequence[Event]], None]:
    """The bus's stage hook: deliveries for a transaction's webhook events, in that
    transaction; ``wake()`` (the task runner) once it has committed. ``coaches``: the
    process's copy of which coaches have endpoints (none of them: no statement)."""

    def stage(session: Session, events: Sequence[Event]) -> None:
        found = occurrences(events)
        if not found:
            return
        coach_ids = {o.coach_id for o in found}
        if coaches is not None and not coaches.among(session, coach_ids):
            return
        endpoints = wq.endpoints_for(session, coach_ids)
        if not endpoints:
            return
        now = clock.now()
        rows = [dict(endpoint_id=endpoint.id, event_type=o.type, engagement_id=o.engagement_id,
                     object_id=o.object_id, detail=o.detail, status=PENDING, attempts=0, created_at=now)
                for o in found for endpoint in endpoints
                if endpoint.coach_id == o.coach_id and o.choice in choices_of(endpoint.events)]
        if rows:
            wq.insert_deliveries(session, rows, DELIVER_TASK, now)
            add_callback(session, wake)

    return stage
