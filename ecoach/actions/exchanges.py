"""Recording exchanges in the logbook, exactly once.

Every exchange carries an ``external_id`` (a chat message's client id, later a mail's
Message-ID), unique per engagement: recording the same one twice returns the first. Each
new exchange is announced (``emit_recorded``) once its transaction commits.
``exchange_writer.ExchangeWriter`` records the chat's messages with group commit. A batch's
INSERT is ``exchange_rows``; the inbox summaries it moves, ``inbox_summary``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.commitments import do_track_commitments, update_next_due
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.exchange_rows import existing_exchanges, insert_new
from ecoach.actions.inbox_summary import update_summaries
from ecoach.actions.unit import emit
from ecoach.core import topics
from ecoach.core.text import normalise_message, text_to_html
from ecoach.core.types import Direction
from ecoach.logbook.keyring import keyring_of
from ecoach.logbook.models import Engagement, Exchange

log = logging.getLogger(__name__)

_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass(frozen=True)
class NewExchange:
    engagement_id: int
    channel: str
    direction: str
    author: str
    author_name: str
    text: str
    external_id: str
    html: str | None = None
    delivery_state: str = "stored"
    meta: dict[str, Any] | None = None
    # Record even if the engagement is paused: the message exists already (a mail).
    force: bool = False
    # The connection that sent it: it has the exchange from its ack already, so the
    # broadcast skips it (not stored).
    origin: str | None = None
    # Runs in the same transaction once the exchange is new (not a resend), e.g. storing a
    # chat file with it (actions/chat_files.py); not stored.
    also: Callable[[AsyncSession, Recorded], Awaitable[object]] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Recorded:
    exchange: Exchange
    created: bool  # False when the external id was recorded before (a resend)
    coach_id: int
    was_waiting: bool = False  # the coachee was already waiting for an answer before this
    # The engagement's language, for what follows in the batch (the crisis check) without
    # reading the engagement again.
    language: str | None = None
    # ``exchange_dict(exchange)`` as its event carried it (a new exchange): the sender's
    # ack reuses it (a copy) instead of building it again.
    data: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The exchange as the chat and the API send it (``exchange_dict``)."""
        return dict(self.data) if self.data is not None else exchange_dict(self.exchange)


def check_message(text: Any, max_chars: int) -> str:
    if not isinstance(text, str):
        raise ActionError("message_invalid", N_("A message must be text."))
    text = normalise_message(text)
    if not text:
        raise ActionError("message_empty", N_("An empty message cannot be sent."))
    if len(text) > max_chars:
        raise ActionError(
            "message_too_long",
            N_("This message is %(length)s characters long; the limit is %(limit)s."),
            length=len(text),
            limit=max_chars,
        )
    return text


def check_client_id(client_id: Any) -> str:
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        raise ActionError(
            "client_id_invalid", N_("Each message needs an id of 8 to 64 letters, digits, - or _.")
        )
    return client_id


def check_can_write(engagement: Engagement, direction: str) -> None:
    if direction == Direction.internal.value:
        return
    if engagement.status == "paused":
        raise ActionError("engagement_paused", N_("This coaching engagement is paused."))
    if engagement.status == "closed":
        raise ActionError("engagement_closed", N_("This coaching engagement has been closed."))


def exchange_dict(ex: Exchange) -> dict[str, Any]:
    # Each attribute read once: a sealed field's plaintext face (``meta``) is a descriptor,
    # and this runs for every live message twice (its ack and its push).
    external_id = ex.external_id
    client_id = external_id.split(":", 1)[1] if external_id.startswith("chat:") else None
    meta = ex.meta or {}
    return {
        "id": ex.id,
        "engagement_id": ex.engagement_id,
        "channel": ex.channel,
        "direction": ex.direction,
        "author": ex.author,
        "author_name": ex.author_name,
        "text": ex.body_text,
        "html": ex.body_html,
        "created_at": ex.created_at.isoformat(),
        "client_id": client_id,
        "delivery_state": ex.delivery_state,
        "delivery_detail": ex.delivery_detail,
        "subject": meta.get("subject"),
        # Rendered for each reader by its connection (core.notices.localise).
        "notice": meta.get("notice"),
        "event": meta.get("event"),
        # A file in the chat (its name is the text) and a shared resource (actions/chat_files,
        # actions/shares): what the timeline needs to offer them.
        "file": meta.get("file"),
        "share": meta.get("share"),
    }


async def record_exchanges(
    session: AsyncSession, items: list[NewExchange], now: datetime,
    *, loaded: dict[int, Engagement] | None = None,
) -> list[Recorded | ActionError]:
    """Insert exchanges and update each engagement's inbox summary, in the caller's
    transaction; each new exchange reaches the coach's and coachee's open pages after the
    commit. Per item: the recorded exchange, or the reason it was refused.
    ``loaded``: engagements the caller read in this session already (reading them again
    would return the same objects from the identity map, unrefreshed).

    A whole batch costs a fixed handful of statements (one multi-row INSERT, one
    executemany UPDATE), whatever its size: this is the chat's hot path."""
    engagements: dict[int, Any] = dict(loaded or {})
    ids = {item.engagement_id for item in items} - engagements.keys()
    if ids:
        # None of the columns is sealed: nothing to open (saves the sealing hook's look).
        stmt = select(*_FACTS).where(Engagement.id.in_(ids)).execution_options(open_sealed=False)
        if session.bind.dialect.name == "postgresql":
            # An erasure (which locks the engagement to delete it) waits for this batch, or
            # this batch waits for it and finds the engagement gone: never a half-written one.
            stmt = stmt.with_for_update(key_share=True)
        engagements.update((e.id, e) for e in await session.execute(stmt))
    results: list[Recorded | ActionError | None] = []
    accepted: dict[tuple[int, str], dict[str, Any]] = {}
    for item in items:
        engagement = engagements.get(item.engagement_id)
        if engagement is None:
            results.append(NotFound("engagement_unknown", N_("This engagement does not exist.")))
            continue
        try:
            if not item.force:
                check_can_write(engagement, item.direction)
        except ActionError as exc:
            results.append(exc)
            continue
        results.append(None)
        accepted.setdefault((item.engagement_id, item.external_id), _values(item, now))
    keys = await keyring_of(session).for_engagements(session, {key[0] for key in accepted})
    inserted = await insert_new(session, list(accepted.values()), keys)
    existing = await existing_exchanges(session, [key for key in accepted if key not in inserted])
    created = [inserted[k] for k in accepted if k in inserted]
    # Response-time commitments: set-based, in this transaction (actions/commitments.py);
    # the due times they move are set by the inbox-summary UPDATE that follows.
    due_moved = await do_track_commitments(session, created, engagements, now)
    await update_next_due(session, due_moved - await update_summaries(session, created, keys, due_moved))
    seen: set[tuple[int, str]] = set()
    final: list[Recorded | ActionError] = []
    for item, result in zip(items, results):
        if result is not None:
            final.append(result)
            continue
        key = (item.engagement_id, item.external_id)
        engagement = engagements[item.engagement_id]
        coach_id = engagement.coach_id
        if key in inserted and key not in seen:
            seen.add(key)
            recorded = Recorded(inserted[key], created=True, coach_id=coach_id,
                                was_waiting=engagement.waiting_since is not None, language=engagement.language,
                                data=exchange_dict(inserted[key]))
            emit_recorded(session, recorded, origin=item.origin)
            final.append(recorded)
        else:
            final.append(Recorded(inserted.get(key) or existing[key], created=False, coach_id=coach_id,
                                  language=engagement.language))
    return final


# What a batch reads of each engagement: these columns (rows with these attributes), not
# the mapped objects: loading 50 of them, sealed fields and all, was a tenth of a chat
# message's cost. A caller's own ``loaded`` engagements have the same attributes.
_FACTS = (Engagement.id, Engagement.coach_id, Engagement.status, Engagement.language,
          Engagement.waiting_since, Engagement.next_due_at)


def _values(item: NewExchange, now: datetime) -> dict[str, Any]:
    return dict(
        engagement_id=item.engagement_id,
        channel=item.channel,
        direction=item.direction,
        author=item.author,
        author_name=item.author_name,
        body_text=item.text,
        body_html=item.html if item.html is not None else text_to_html(item.text),
        created_at=now,
        external_id=item.external_id,
        delivery_state=item.delivery_state,
        meta=item.meta,
    )


def recorded_event(ex: Exchange, origin: str | None = None, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "exchange", "engagement_id": ex.engagement_id,
            "exchange": exchange_dict(ex) if data is None else data, "origin": origin}


def emit_recorded(session: AsyncSession, recorded: Recorded, origin: str | None = None) -> None:
    """After commit, push a newly recorded exchange to the coach and (unless internal)
    the coachee. ``origin``: the connection that sent it (it has its ack already)."""
    if not recorded.created:
        return
    ex = recorded.exchange
    chosen = [topics.coach(recorded.coach_id)]
    if ex.direction != Direction.internal.value:
        chosen.insert(0, topics.engagement(ex.engagement_id))
    emit(session, chosen, recorded_event(ex, origin, recorded.data), ref=("exchange", ex.id))


async def exchange_event(session: AsyncSession, exchange_id: int) -> dict[str, Any] | None:
    """The event of an exchange read back (another process sent it by reference)."""
    ex = await session.get(Exchange, exchange_id)
    return recorded_event(ex) if ex is not None else None


async def do_mark_read(session: AsyncSession, engagement: Engagement) -> None:
    if engagement.unread_count:
        await session.execute(
            update(Engagement).where(Engagement.id == engagement.id).values(unread_count=0)
        )
        engagement.unread_count = 0
