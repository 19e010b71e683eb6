"""Transactions that carry their events: published after the commit, never on rollback.

Every session made by ``ecoach.logbook.db.session_factory`` is an ``EventSession``. An
action registers an event on the session (``ecoach.actions.unit.emit``, like Zulip's
``send_event_on_commit``); the hooks below hand the events to the bus:
- just before the commit, inside the transaction (``EventBus.stage``: on PostgreSQL the
  NOTIFY that other processes receive, which PostgreSQL itself delivers only on commit);
- once the committed transaction has ended, to this process's subscribers
  (``EventBus.committed``), in the order they were registered;
- on a rollback, or when the session closes without committing, they are forgotten.

Callbacks registered with ``add_callback`` run after the commit as well (in-process work
that must wait for the commit), and are forgotten on rollback too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from ecoach.core.events import Event, EventBus

log = logging.getLogger(__name__)

BUS = "ecoach.bus"  # session.info key: the EventBus (set by the session factory)
PENDING = "ecoach.events"  # session.info key: events waiting for the commit
CALLBACKS = "ecoach.on_commit"  # session.info key: callbacks waiting for the commit
COMMITTED = "ecoach.committed"  # session.info key: both, committed, until the transaction ends


class EventSession(Session):
    """A SQLAlchemy session whose commits deliver the events registered on it."""


def add_event(session: Session, item: Event) -> None:
    session.info.setdefault(PENDING, []).append(item)


def add_callback(session: Session, fn: Callable[[], None]) -> None:
    session.info.setdefault(CALLBACKS, []).append(fn)


@event.listens_for(EventSession, "before_commit")
def _stage(session: Session) -> None:
    events = session.info.get(PENDING)
    bus: EventBus | None = session.info.get(BUS)
    if events and bus is not None:
        bus.stage(session, events)


@event.listens_for(EventSession, "after_commit")
def _committed(session: Session) -> None:
    # Delivered once the transaction has ended (its connection is back in the pool and the
    # session is out of the transaction); a savepoint's commit is not the end.
    if not session.in_nested_transaction():
        session.info[COMMITTED] = (session.info.pop(PENDING, None) or [],
                                   session.info.pop(CALLBACKS, None) or [])


@event.listens_for(EventSession, "after_transaction_end")
def _end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return
    # Whatever is still pending was registered in a transaction that rolled back (or in a
    # session closed without committing): it must never be published.
    dropped = session.info.pop(PENDING, None)
    session.info.pop(CALLBACKS, None)
    if dropped:
        log.debug("%d event(s) dropped with their rolled-back transaction", len(dropped))
    committed = session.info.pop(COMMITTED, None)
    if committed:
        _deliver(session, *committed)


def _deliver(session: Session, events: list[Event], callbacks: list[Callable[[], None]]) -> None:
    bus: EventBus | None = session.info.get(BUS)
    if events:
        if bus is not None:
            bus.committed(events)
        else:
            log.debug("%d event(s) committed in a session without an event bus", len(events))
    for fn in callbacks:
        try:
            fn()
        except Exception:  # noqa: BLE001 - the commit happened; one callback failing must not stop the rest
            log.exception("after-commit callback failed")
