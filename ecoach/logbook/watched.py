"""Caches of rows that rarely change, and the transactions that change them.

A process may keep copies of rows that the chat's write path would otherwise read for
every message (commitment policies and calendars: ``agreement_cache.py``; which coaches
have webhook endpoints: ``webhook_cache.py``). Each such cache is a ``Watch``: its tables
and its event topic. A transaction that writes one of those tables says so by itself
(the session hooks below: no action has to remember): once it commits, every cache of
that watch in this process forgets at once, and an event on the watch's topic tells
every other process (PostgreSQL LISTEN/NOTIFY, in commit order), where the app makes its
caches forget on hearing it (``listen``). A rolled-back transaction announces nothing.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from ecoach.core.events import Event
from ecoach.core.hub import Hub
from ecoach.logbook.transactions import EventSession, add_callback, add_event

ANNOUNCED = "ecoach.watched_announced"  # session.info key: the topics announced in this transaction


class Forgets(Protocol):
    generation: int

    def forget(self) -> None: ...


@dataclass(eq=False)
class Watch:
    """Rows of ``models`` added or removed count, and so do changed ones, but for a model
    in ``only`` just a change of those attributes (a coach's time zone, not their last
    login; an endpoint's coach or switch, not its last delivery). Bulk statements through
    the session on their tables always count."""

    topic: str
    models: tuple[type[Any], ...]
    only: dict[type[Any], tuple[str, ...]] = field(default_factory=dict)
    caches: weakref.WeakSet[Any] = field(default_factory=weakref.WeakSet)

    def __post_init__(self) -> None:
        self.tables = frozenset(model.__table__ for model in self.models)  # type: ignore[attr-defined]
        _watches.append(self)

    def forget_here(self) -> None:
        for cache in list(self.caches):
            cache.forget()

    def listen(self, hub: Hub, cache: Forgets) -> None:
        """``cache`` forgets when another process announces a change (and whenever the
        event listener resyncs: announcements may have been missed meanwhile)."""
        topic = self.topic
        hub.listen(topic, lambda _event: cache.forget())
        hub.on_resync(lambda chosen: cache.forget() if chosen is None or topic in chosen else None)

    def _pending(self, session: Session) -> bool:
        for obj in (*session.new, *session.deleted):
            if isinstance(obj, self.models):
                return True
        for obj in session.dirty:
            if not isinstance(obj, self.models):
                continue
            names = self.only.get(type(obj))
            if names is None:
                if session.is_modified(obj):
                    return True
            elif any(inspect(obj).attrs[name].history.has_changes() for name in names):
                return True
        return False


_watches: list[Watch] = []


def _announce(session: Session, watch: Watch) -> None:
    announced = session.info.setdefault(ANNOUNCED, set())
    if watch.topic in announced:
        return
    announced.add(watch.topic)
    add_event(session, Event((watch.topic,), {"type": "changed", "topic": watch.topic}))  # other processes
    add_callback(session, watch.forget_here)  # this process, whatever session factory made the session


def _look(session: Session) -> None:
    announced = session.info.get(ANNOUNCED, ())
    for watch in _watches:
        if watch.topic not in announced and watch._pending(session):
            _announce(session, watch)


@event.listens_for(EventSession, "before_flush")
def _flushing(session: Session, _context: Any, _instances: Any) -> None:
    _look(session)


@event.listens_for(EventSession, "before_commit", insert=True)
def _committing(session: Session) -> None:
    # The commit's own flush comes after the before_commit hooks, among them the one that
    # hands the events to other processes (transactions._stage): changes not flushed yet
    # are announced here, in time (this hook runs first).
    _look(session)


@event.listens_for(EventSession, "do_orm_execute")
def _executing(state: ORMExecuteState) -> None:
    # Bulk statements through the session (delete(AvailabilityWindow)..., update(Coach)...).
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        for watch in _watches:
            if table in watch.tables:
                _announce(state.session, watch)


@event.listens_for(EventSession, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(ANNOUNCED, None)
