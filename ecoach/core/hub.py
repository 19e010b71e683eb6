"""In-process publish/subscribe for realtime pushes (chat, inbox refresh).

Events reach the hub only after the transaction that caused them commits (the event bus,
``ecoach.core.events``, delivers them; with several processes it also brings in those
committed elsewhere). Subscribers get a bounded queue; a subscriber that cannot keep up is
dropped (its socket reconnects and resyncs from the logbook, which is the source of
truth), so one slow browser never stalls the server. ``resync`` drops subscribers on
purpose: when events may have been missed (the connection that brings other processes'
events was lost), every socket reconnects and reads what it missed from the logbook.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000

Listener = Callable[[dict[str, Any]], None]


@dataclass(eq=False)
class Subscription:
    topics: tuple[str, ...]
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )
    overflowed: bool = False
    # The connection behind this subscription (its ``Connection.id``): events whose
    # ``origin`` it is are not queued for it, as its ack carried them already (and a queued
    # event only to be skipped costs a wake-up of its socket for every message it sends).
    origin: str | None = None


class Hub:
    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = defaultdict(set)
        self._listeners: dict[str, list[Listener]] = defaultdict(list)
        self._resync_listeners: list[Callable[[frozenset[str] | None], None]] = []

    def subscribe(self, *topics: str) -> Subscription:
        sub = Subscription(topics)
        for topic in topics:
            self._subs[topic].add(sub)
        return sub

    def add_topics(self, sub: Subscription, *topics: str) -> None:
        """Also deliver these topics' events to ``sub`` from now on."""
        sub.topics = (*sub.topics, *topics)
        for topic in topics:
            self._subs[topic].add(sub)

    def unsubscribe(self, sub: Subscription) -> None:
        for topic in sub.topics:
            subs = self._subs.get(topic)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[topic]

    def listen(self, topic: str, listener: Listener) -> None:
        """Call ``listener(event)`` for every event on ``topic`` (in-process machinery,
        e.g. the outbox dispatcher waking up; it must be quick and must not raise)."""
        self._listeners[topic].append(listener)

    def on_resync(self, listener: Callable[[frozenset[str] | None], None]) -> None:
        """Call ``listener(topics)`` at every ``resync`` (None: all topics): in-process
        machinery that keeps what events keep right (a cache) starts afresh too."""
        self._resync_listeners.append(listener)

    def publish(self, topic: str, event: dict[str, Any]) -> int:
        delivered = 0
        for listener in self._listeners.get(topic, ()):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - one broken listener must not stop the others
                log.exception("listener on %s failed", topic)
        subs = self._subs.get(topic)
        if not subs:
            return delivered
        origin = event.get("origin")
        for sub in tuple(subs):
            if origin is not None and sub.origin == origin:
                continue
            try:
                sub.queue.put_nowait(event)
                delivered += 1
            except asyncio.QueueFull:
                log.warning("subscriber on %s overflowed; it will resync", topic)
                sub.overflowed = True
                self._end(sub)
        return delivered

    def resync(self, topics: Iterable[str] | None = None) -> int:
        """End the subscriptions on ``topics`` (all when None): their sockets reconnect and
        read what they may have missed from the logbook. Returns how many were ended."""
        asked = None if topics is None else frozenset(topics)
        for listener in self._resync_listeners:
            try:
                listener(asked)
            except Exception:  # noqa: BLE001 - the subscribers below must still resync
                log.exception("resync listener failed")
        chosen = set(self._subs) if asked is None else set(asked) & set(self._subs)
        subs = {sub for topic in chosen for sub in self._subs.get(topic, ())}
        for sub in subs:
            self._end(sub)
        return len(subs)

    def _end(self, sub: Subscription) -> None:
        self.unsubscribe(sub)
        while not sub.queue.empty():  # make room for the end marker
            sub.queue.get_nowait()
        sub.queue.put_nowait(None)

    def subscribers_under(self, prefix: str) -> int:
        """Subscriptions on topics starting with ``prefix`` (e.g. open coach sockets:
        "coach:"); a walk over the topics, for an occasional look such as /metrics."""
        return sum(len(subs) for topic, subs in self._subs.items() if topic.startswith(prefix))

    def subscriber_count(self, topic: str) -> int:
        return len(self._subs.get(topic, ()))

    def has_subscribers(self, topics: Iterable[str]) -> bool:
        return any(topic in self._subs for topic in topics)
