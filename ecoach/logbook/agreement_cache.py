"""Commitment policies and working calendars kept in the process, for the chat's write path.

Every coachee message that needs an answer gets a commitment, due after the agreed working
time (``actions/commitments.py``). That takes the engagement's policy and its coach's
calendar, which change rarely (a coach edits availability, agreements or time zone), yet
reading them was two of the six statements of every paced chat message and about a third
of its cost. ``AgreementCache`` keeps them; ``get_policies_and_calendars`` reads through it.

How it stays right:
- A transaction that writes availability windows or exceptions, agreements or a coach's
  time zone says so by itself (session hooks below: no action has to remember). Once it
  commits, every cache of this process forgets everything (changes are rare: simple beats
  clever), and an event on ``topics.AGREEMENTS`` tells every other process (PostgreSQL
  LISTEN/NOTIFY, in commit order), whose caches forget everything too.
- A read that overlapped such a change is not kept (``generation``).
- When the event listener reconnects (other processes' events may have been missed), the
  hub's resync makes the cache forget (``Hub.on_resync``).
- An entry is read again after ``max_age`` seconds: a safety net for a change made
  without events (by hand in the database).
- A policy is kept with the coach it was read for: an engagement handed over to another
  coach is read again.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from ecoach.core import topics
from ecoach.core.agreements import Policy
from ecoach.core.events import Event
from ecoach.core.working_time import WorkingCalendar
from ecoach.logbook.availability_models import (
    AvailabilityException, AvailabilityWindow, CoachAgreement, EngagementAgreement,
)
from ecoach.logbook.availability_queries import get_policies_and_zones, get_working_calendars
from ecoach.logbook.models import Coach
from ecoach.logbook.transactions import EventSession, add_callback, add_event

AGREEMENTS = "ecoach.agreements"  # session.info key: the AgreementCache (set by the session factory)
MAX_AGE = 300.0
MAX_ENTRIES = 100_000  # beyond this many entries, start afresh (memory stays bounded)

_caches: weakref.WeakSet[AgreementCache] = weakref.WeakSet()


class AgreementCache:
    """Policies by engagement (with the coach they were read for) and calendars by
    (coach, channel), each with the moment it was read."""

    def __init__(self, max_age: float = MAX_AGE, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self.clock = clock
        self.generation = 0  # moves on at every forget(): a read begun before is not kept
        self.reads = 0  # reads from the database (for tests and benchmarks)
        self._policies: dict[int, tuple[int, Policy, float]] = {}
        self._calendars: dict[tuple[int, str], tuple[WorkingCalendar, float]] = {}
        _caches.add(self)

    def forget(self, _event: Any = None) -> None:
        """Everything (a hub listener: called with the event, which does not matter)."""
        self.generation += 1
        self._policies.clear()
        self._calendars.clear()

    def resynced(self, chosen: Iterable[str] | None) -> None:
        """``Hub.on_resync``: events on our topic may have been missed."""
        if chosen is None or topics.AGREEMENTS in chosen:
            self.forget()

    def policy(self, engagement_id: int, coach_id: int, now: float) -> Policy | None:
        found = self._policies.get(engagement_id)
        if found is None or found[0] != coach_id or now - found[2] > self.max_age:
            return None
        return found[1]

    def calendar(self, key: tuple[int, str], now: float) -> WorkingCalendar | None:
        found = self._calendars.get(key)
        return found[0] if found is not None and now - found[1] <= self.max_age else None

    def keep(self, generation: int, policies: dict[int, tuple[int, Policy]],
             calendars: dict[tuple[int, str], WorkingCalendar], now: float) -> None:
        if generation != self.generation:
            return  # a change committed while these were read: they may be old already
        if len(self._policies) + len(self._calendars) > MAX_ENTRIES:
            self.forget()
        self._policies.update((eid, (coach_id, policy, now)) for eid, (coach_id, policy) in policies.items())
        self._calendars.update((key, (calendar, now)) for key, calendar in calendars.items())


def forget_everywhere() -> None:
    """Every cache of this process (after a commit that changed what they hold)."""
    for cache in list(_caches):
        cache.forget()


async def get_policies_and_calendars(
    session: AsyncSession, coach_of: dict[int, int], coach_channels: set[tuple[int, str]], *, since: datetime,
) -> tuple[dict[int, Policy], dict[tuple[int, str], WorkingCalendar]]:
    """The policy of each engagement in ``coach_of`` (engagement id -> its coach's id) and
    the calendar of each (coach, channel): from the session's cache, else (and then kept)
    read as ``get_policies_and_zones`` and ``get_working_calendars`` read them."""
    cache: AgreementCache | None = session.info.get(AGREEMENTS)
    if cache is None:
        return await _read(session, set(coach_of), coach_channels, since)
    generation, now = cache.generation, cache.clock()
    policies = {eid: p for eid, coach_id in coach_of.items() if (p := cache.policy(eid, coach_id, now)) is not None}
    calendars = {key: c for key in coach_channels if (c := cache.calendar(key, now)) is not None}
    missing, unknown = set(coach_of) - policies.keys(), coach_channels - calendars.keys()
    if missing or unknown:
        cache.reads += 1
        read_policies, read_calendars = await _read(session, missing, unknown, since)
        cache.keep(generation, {eid: (coach_of[eid], p) for eid, p in read_policies.items()}, read_calendars, now)
        policies.update(read_policies)
        calendars.update(read_calendars)
    return policies, calendars


async def _read(session: AsyncSession, engagement_ids: set[int], coach_channels: set[tuple[int, str]],
                since: datetime) -> tuple[dict[int, Policy], dict[tuple[int, str], WorkingCalendar]]:
    policies, zones = await get_policies_and_zones(session, engagement_ids) if engagement_ids else ({}, {})
    found = await get_working_calendars(session, {c for c, _ in coach_channels}, {ch for _, ch in coach_channels},
                                        since=since, zones=zones)
    return policies, {key: found[key] for key in coach_channels if key in found}


# --- transactions that change what the caches hold say so ---------------------------------

_WATCHED = (AvailabilityWindow, AvailabilityException, CoachAgreement, EngagementAgreement)
_WATCHED_TABLES = frozenset(model.__table__ for model in (*_WATCHED, Coach))
_CHANGED = "ecoach.agreements_changed"  # session.info key: announced in this transaction already
CHANGED_EVENT = {"type": "agreements.changed"}


def _announce(session: Session) -> None:
    if session.info.get(_CHANGED):
        return
    session.info[_CHANGED] = True
    add_event(session, Event((topics.AGREEMENTS,), CHANGED_EVENT))  # other processes (and this hub)
    add_callback(session, forget_everywhere)  # this process, whatever session factory made the session


def _changes_agreements(session: Session) -> bool:
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, _WATCHED):
            return True
    for obj in session.dirty:
        if isinstance(obj, _WATCHED) and session.is_modified(obj):
            return True
        if isinstance(obj, Coach) and _zone_changed(obj):
            return True
    return False


def _zone_changed(coach: Coach) -> bool:
    return inspect(coach).attrs.time_zone.history.has_changes()


@event.listens_for(EventSession, "before_flush")
def _flushing(session: Session, _context: Any, _instances: Any) -> None:
    if not session.info.get(_CHANGED) and _changes_agreements(session):
        _announce(session)


@event.listens_for(EventSession, "before_commit", insert=True)
def _committing(session: Session) -> None:
    # The commit's own flush comes after the before_commit hooks, among them the one that
    # hands the events to other processes (transactions._stage): changes not flushed yet
    # are announced here, in time (this hook runs first).
    if not session.info.get(_CHANGED) and _changes_agreements(session):
        _announce(session)


@event.listens_for(EventSession, "do_orm_execute")
def _executing(state: ORMExecuteState) -> None:
    # Bulk statements through the session (delete(AvailabilityWindow)..., update(Coach)...).
    if (state.is_insert or state.is_update or state.is_delete) and not state.session.info.get(_CHANGED):
        table = getattr(state.statement, "table", None)
        if table is not None and table in _WATCHED_TABLES:
            _announce(state.session)


@event.listens_for(EventSession, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_CHANGED, None)
