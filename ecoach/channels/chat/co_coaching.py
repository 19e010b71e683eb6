"""Live updates of co-coached engagements on a co-coach's socket (``/ws``).

Events about an engagement go to its owner's topic (``topics.coach(owner)``). A co-coach's
socket also listens on the owners' topics of the engagements it co-coaches and forwards
only events naming one of those engagements (nothing else of the owner's: no other
engagement, no quarantine count, no login). ``access_added`` and ``access_removed`` on the
co-coach's own topic (``actions.team``) change that set while the socket is open; after a
removal nothing of that engagement passes any more, and the socket's cache of reachable
engagements forgets it, so its next read asks the database (and is refused).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from ecoach.core import topics
from ecoach.core.hub import Hub, Subscription
from ecoach.keys import HUB, SESSIONS
from ecoach.logbook.access import co_coached

Frame = dict[str, Any]


class CoCoaching:
    def __init__(self, hub: Hub, main: Subscription, engagements: dict[int, int], owned: set[int]) -> None:
        self.hub, self.main, self.engagements, self.owned = hub, main, engagements, owned
        self.extra = hub.subscribe(*{topics.coach(owner) for owner in engagements.values()})
        self.task = asyncio.create_task(self._forward())

    async def _forward(self) -> None:
        while (event := await self.extra.queue.get()) is not None:
            if event.get("engagement_id") in self.engagements:
                with contextlib.suppress(asyncio.QueueFull):
                    self.main.queue.put_nowait(event)
        # Dropped by the hub (too slow): end the socket too, so the page reconnects and resyncs.
        with contextlib.suppress(asyncio.QueueFull):
            self.main.queue.put_nowait(None)

    def wrap(self, inner: Callable[[Frame], Frame | None]) -> Callable[[Frame], Frame | None]:
        def on_event(event: Frame) -> Frame | None:
            kind = event.get("type")
            engagement_id = event.get("engagement_id")
            if kind == "access_removed" and isinstance(engagement_id, int):
                self.engagements.pop(engagement_id, None)
                self.owned.discard(engagement_id)
            elif kind == "access_added" and isinstance(engagement_id, int) and isinstance(event.get("coach_id"), int):
                if event.get("role") == "co_coach":
                    self.engagements[engagement_id] = event["coach_id"]
                    self.hub.add_topics(self.extra, topics.coach(event["coach_id"]))
            return inner(event)
        return on_event

    def stop(self) -> None:
        self.hub.unsubscribe(self.extra)
        self.task.cancel()


async def follow(app, coach_id: int, main: Subscription, owned: set[int]) -> CoCoaching:  # type: ignore[no-untyped-def]
    async with app[SESSIONS]() as session:
        engagements = await co_coached(session, coach_id)
    return CoCoaching(app[HUB], main, engagements, owned)
