"""Commitment policies and working calendars kept in the process, for the chat's write path.

Every coachee message that needs an answer gets a commitment, due after the agreed working
time (``actions/commitments.py``). That takes the engagement's policy and its coach's
calendar, which change rarely (a coach edits availability, agreements or time zone), yet
reading them was two of the six statements of every paced chat message and about a third
of its cost. ``AgreementCache`` keeps them; ``get_policies_and_calendars`` reads through it.

How it stays right:
- A transaction that writes availability windows or exceptions, agreements or a coach's
  time zone says so by itself (``watched.py``). Once it commits, every cache of this
  process forgets everything (changes are rare: simple beats clever), and an event on
  ``topics.AGREEMENTS`` tells every other process, whose caches forget everything too;
  so do they when their event listener resyncs (events may have been missed).
- A read that overlapped such a change is not kept (``generation``).
- An entry is read again after ``max_age`` seconds: a safety net for a change made
  without events (by hand in the database).
- A policy is kept with the coach it was read for: an engagement handed over to another
  coach is read again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.core import topics
from ecoach.core.agreements import Policy
from ecoach.core.working_time import WorkingCalendar
from ecoach.logbook.availability_models import (
    AvailabilityException, AvailabilityWindow, CoachAgreement, EngagementAgreement,
)
from ecoach.logbook.availability_queries import get_policies_and_zones, get_working_calendars
from ecoach.logbook.models import Coach
from ecoach.logbook.watched import Watch

AGREEMENTS = "ecoach.agreements"  # session.info key: the AgreementCache (set by the session factory)
MAX_AGE = 300.0
MAX_ENTRIES = 100_000  # beyond this many entries, start afresh (memory stays bounded)


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
        WATCH.caches.add(self)

    def forget(self) -> None:
        self.generation += 1
        self._policies.clear()
        self._calendars.clear()

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


WATCH = Watch(topics.AGREEMENTS, (AvailabilityWindow, AvailabilityException, CoachAgreement, EngagementAgreement,
                                   Coach), only={Coach: ("time_zone",)})
