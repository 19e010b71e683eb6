"""Recording exchanges in the logbook, exactly once.

Every exchange carries an ``external_id`` (a chat message's client id, later a mail's
Message-ID), unique per engagement: recording the same one twice returns the first.
``ExchangeWriter`` groups concurrent submissions into one transaction (group commit), so
a busy chat costs one commit per batch rather than per message; events go out only after
that commit.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.core.clock import Clock
from ecoach.core.hub import Hub, coach_topic, engagement_topic
from ecoach.core.text import normalise_message, snippet, text_to_html
from ecoach.core.types import Direction
from ecoach.logbook import queries
from ecoach.logbook.models import Engagement, Exchange

log = logging.getLogger(__name__)

_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_BATCH = 256


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


@dataclass(frozen=True)
class Recorded:
    exchange: Exchange
    created: bool  # False when the external id was recorded before (a resend)
    coach_id: int


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
    client_id = ex.external_id.split(":", 1)[1] if ex.external_id.startswith("chat:") else None
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
    }


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    dialect = session.bind.dialect.name
    return (sqlite.insert if dialect == "sqlite" else postgresql.insert)(Exchange)


async def record_exchanges(
    session: AsyncSession, items: list[NewExchange], now: datetime
) -> list[Recorded | ActionError]:
    """Insert exchanges and update each engagement's inbox summary, in the caller's
    transaction. Per item: the recorded exchange, or the reason it was refused."""
    results: list[Recorded | ActionError] = []
    engagements: dict[int, Engagement | None] = {}
    for item in items:
        if item.engagement_id not in engagements:
            engagements[item.engagement_id] = await session.get(Engagement, item.engagement_id)
        engagement = engagements[item.engagement_id]
        if engagement is None:
            results.append(NotFound("engagement_unknown", N_("This engagement does not exist.")))
            continue
        try:
            check_can_write(engagement, item.direction)
        except ActionError as exc:
            results.append(exc)
            continue
        results.append(await _record_one(session, engagement, item, now))
    return results


async def _record_one(
    session: AsyncSession, engagement: Engagement, item: NewExchange, now: datetime
) -> Recorded:
    values = dict(
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
    )
    stmt = _insert(session).values(**values).on_conflict_do_nothing().returning(Exchange.id)
    new_id = (await session.execute(stmt)).scalar_one_or_none()
    if new_id is None:
        existing = await queries.get_exchange_by_external_id(session, item.engagement_id, item.external_id)
        assert existing is not None
        return Recorded(existing, created=False, coach_id=engagement.coach_id)
    exchange = Exchange(id=new_id, **values)
    await _update_summary(session, engagement, exchange)
    return Recorded(exchange, created=True, coach_id=engagement.coach_id)


async def _update_summary(session: AsyncSession, engagement: Engagement, ex: Exchange) -> None:
    if ex.direction == Direction.internal.value:
        return
    values: dict[str, Any] = dict(
        last_exchange_id=ex.id,
        last_exchange_at=ex.created_at,
        last_channel=ex.channel,
        last_direction=ex.direction,
        last_snippet=snippet(ex.body_text, 200),
    )
    if ex.direction == Direction.inbound.value:
        if engagement.waiting_since is None:
            engagement.waiting_since = ex.created_at
        values.update(
            waiting_since=engagement.waiting_since,
            unread_count=Engagement.unread_count + 1,
            last_inbound_channel=ex.channel,
        )
    else:
        engagement.waiting_since = None
        values.update(waiting_since=None, unread_count=0)
    await session.execute(
        update(Engagement)
        .where(Engagement.id == engagement.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def publish_recorded(hub: Hub, recorded: Recorded) -> None:
    """Push a newly recorded exchange to the coach and (unless internal) the coachee."""
    if not recorded.created:
        return
    ex = recorded.exchange
    event = {"type": "exchange", "engagement_id": ex.engagement_id, "exchange": exchange_dict(ex)}
    if ex.direction != Direction.internal.value:
        hub.publish(engagement_topic(ex.engagement_id), event)
    hub.publish(coach_topic(recorded.coach_id), event)


async def do_mark_read(session: AsyncSession, engagement: Engagement) -> None:
    if engagement.unread_count:
        await session.execute(
            update(Engagement).where(Engagement.id == engagement.id).values(unread_count=0)
        )
        await session.commit()
        engagement.unread_count = 0


class ExchangeWriter:
    """Group commit: concurrent submissions share one transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], hub: Hub, clock: Clock) -> None:
        self._sessions = sessions
        self._hub = hub
        self._clock = clock
        self._queue: asyncio.Queue[tuple[NewExchange, asyncio.Future[Recorded]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

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
            _, fut = self._queue.get_nowait()
            if not fut.done():
                fut.set_exception(ActionError("shutting_down", N_("The server is restarting; try again.")))

    async def submit(self, item: NewExchange) -> Recorded:
        if self._task is None or self._task.done():
            raise RuntimeError("ExchangeWriter is not running")
        fut: asyncio.Future[Recorded] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, fut))
        return await fut

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
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
        async with self._sessions() as session:
            results = await record_exchanges(session, [item for item, _ in live], self._clock.now())
            await session.commit()
        for (_, fut), result in zip(live, results):
            if isinstance(result, Recorded):
                publish_recorded(self._hub, result)
            if fut.done():
                continue
            if isinstance(result, ActionError):
                fut.set_exception(result)
            else:
                fut.set_result(result)
