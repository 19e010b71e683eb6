"""Which coaches have an enabled webhook endpoint, kept per process.

The webhooks' stage hook (``actions/webhooks.py``) runs inside every transaction that
commits webhook events, the chat's included: one SELECT each, though most coaches have no
endpoint. ``EndpointCoaches`` keeps the set of coaches that have one (read in one
statement); a transaction that writes an endpoint makes every process's copy forget
(``watched.py``: at once here, over the event bus elsewhere), and a copy older than
``max_age`` seconds is read again (a change made by hand in the database).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecoach.core import topics
from ecoach.logbook.watched import Watch
from ecoach.logbook.webhook_models import WebhookEndpoint

MAX_AGE = 300.0
_WITH_ENDPOINTS = select(WebhookEndpoint.coach_id).where(WebhookEndpoint.enabled.is_(True)).distinct()


class EndpointCoaches:
    def __init__(self, max_age: float = MAX_AGE, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self.clock = clock
        self.generation = 0  # moves on at every forget(): a read begun before is not kept
        self.reads = 0
        self._coaches: frozenset[int] | None = None
        self._read_at = 0.0
        WATCH.caches.add(self)

    def forget(self) -> None:
        self.generation += 1
        self._coaches = None

    def among(self, session: Session, coach_ids: set[int]) -> set[int]:
        """Those of ``coach_ids`` with an enabled endpoint (in the session's transaction)."""
        now = self.clock()
        coaches = self._coaches
        if coaches is None or now - self._read_at > self.max_age:
            generation = self.generation
            self.reads += 1
            coaches = frozenset(session.execute(_WITH_ENDPOINTS).scalars())
            if generation == self.generation:  # no change committed meanwhile
                self._coaches, self._read_at = coaches, now
        return coach_ids & coaches


# Each delivery notes its outcome on the endpoint row: not a change of what is kept here.
WATCH = Watch(topics.WEBHOOK_ENDPOINTS, (WebhookEndpoint,), only={WebhookEndpoint: ("coach_id", "enabled")})
