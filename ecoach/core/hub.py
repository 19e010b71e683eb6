"""In-process publish/subscribe for realtime pushes (chat, inbox refresh).

Actions publish only after their transaction commits. Subscribers get a bounded queue; a
subscriber that cannot keep up is dropped (its socket reconnects and resyncs from the
logbook, which is the source of truth), so one slow browser never stalls the server.
A multi-process deployment swaps this for PostgreSQL LISTEN/NOTIFY behind the same API.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000


@dataclass(eq=False)
class Subscription:
    topics: tuple[str, ...]
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )
    overflowed: bool = False


class Hub:
    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = defaultdict(set)

    def subscribe(self, *topics: str) -> Subscription:
        sub = Subscription(topics)
        for topic in topics:
            self._subs[topic].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        for topic in sub.topics:
            subs = self._subs.get(topic)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[topic]

    def publish(self, topic: str, event: dict[str, Any]) -> int:
        delivered = 0
        for sub in tuple(self._subs.get(topic, ())):
            try:
                sub.queue.put_nowait(event)
                delivered += 1
            except asyncio.QueueFull:
                log.warning("subscriber on %s overflowed; it will resync", topic)
                sub.overflowed = True
                self.unsubscribe(sub)
                while not sub.queue.empty():  # make room for the end marker
                    sub.queue.get_nowait()
                sub.queue.put_nowait(None)
        return delivered

    def subscriber_count(self, topic: str) -> int:
        return len(self._subs.get(topic, ()))


def coach_topic(coach_id: int) -> str:
    return f"coach:{coach_id}"


def engagement_topic(engagement_id: int) -> str:
    return f"engagement:{engagement_id}"
