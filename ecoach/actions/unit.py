"""The unit of work: one transaction, and the events it causes.

Transports and task handlers never commit or publish. They open a unit of work, call
actions in it, and leave it:

    async with unit_of_work(app[SESSIONS]) as session:
        await do_revoke_chat_links(session, engagement, now=now)

Leaving the block normally commits; an exception rolls back. Actions register what they
cause with ``emit`` (Zulip's ``send_event_on_commit``): the events are delivered after the
commit succeeds, to this process and to every other one (``ecoach.core.events``), and
never when it rolls back. ``on_commit`` is the same for in-process callbacks. Audit
entries (``ecoach.actions.audit.record_audit``) are appended to the audit chain inside the
transaction, just before it commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.core.events import Event
from ecoach.logbook.transactions import add_callback, add_event


def emit(session: AsyncSession, topics: str | Iterable[str], data: dict[str, Any], *,
         ref: tuple[str, int] | None = None) -> None:
    """Publish ``data`` on ``topics`` once this session's transaction commits.

    ``data`` must be JSON-able. ``ref`` names the row to read again, ``(kind, id)``, when
    the event is too large to send to another process whole."""
    chosen = (topics,) if isinstance(topics, str) else tuple(topics)
    add_event(session.sync_session, Event(chosen, data, ref))


def on_commit(session: AsyncSession, fn: Callable[[], None]) -> None:
    """Call ``fn()`` in this process once this session's transaction commits (in the order
    registered); never when it rolls back."""
    add_callback(session.sync_session, fn)


@asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session whose transaction commits when the block ends normally (and then delivers
    its events) and rolls back when it raises."""
    async with sessions() as session:
        yield session
        await session.commit()
