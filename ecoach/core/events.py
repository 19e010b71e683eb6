"""Committed events and the bus that delivers them.

An action registers the events it causes on its transaction (``ecoach.actions.unit.emit``);
when that transaction commits, the bus delivers them: at once to this process's hub, and
(``ecoach.logbook.pg_events.PgEventBus``) to every other server process. A transaction
that rolls back delivers nothing. This bus is the embedded (SQLite) default: one process.

Two hooks let other parts see every committed event of this process, in commit order:
- ``add_stage_hook(fn)``: ``fn(session, events)`` runs inside the transaction, just before
  its commit (the sync SQLAlchemy session: it may write rows, e.g. webhook deliveries,
  that then commit or roll back together with the events' cause);
- ``observe(fn)``: ``fn(events)`` runs right after the commit (metrics, logs). It must be
  quick and must not raise.

Events arriving from other processes are published to the hub, not to these hooks: each
event is seen by the hooks exactly once, in the process that committed it.

Other processes get a transaction's events as a few short JSON payloads (PostgreSQL NOTIFY
carries under 8,000 bytes; as many events per payload as fit). An event too large for
that is sent as a reference ``ref = (kind, id)`` and the receiver reads the row again; one
that has no reference makes its topics' sockets resync from the logbook. Nothing is
dropped silently.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ecoach.core.hub import Hub
from ecoach.core.topics import is_local

log = logging.getLogger(__name__)

# PostgreSQL's NOTIFY payload limit is 8000 bytes; leave room for the envelope.
PAYLOAD_LIMIT = 7900


@dataclass(frozen=True)
class Event:
    topics: tuple[str, ...]
    data: dict[str, Any]
    # What to read again when the event is too large to send to other processes whole:
    # (kind, id), e.g. ("exchange", 42); see PgEventBus.add_resolver.
    ref: tuple[str, int] | None = None

    @property
    def shared(self) -> bool:
        """Whether other processes get it (local topics stay in this process)."""
        return any(not is_local(topic) for topic in self.topics)


StageHook = Callable[[Any, Sequence[Event]], None]
Observer = Callable[[Sequence[Event]], None]


class EventBus:
    """Delivers committed events to this process's hub (the single-process default)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._stage_hooks: list[StageHook] = []
        self._observers: list[Observer] = []
        self.problem: str | None = None  # why other processes' events may not arrive (healthz)

    def add_stage_hook(self, hook: StageHook) -> None:
        self._stage_hooks.append(hook)

    def observe(self, observer: Observer) -> None:
        self._observers.append(observer)

    def stage(self, session: Any, events: Sequence[Event]) -> None:
        """Inside the transaction, before its commit (a sync SQLAlchemy session)."""
        for hook in self._stage_hooks:
            hook(session, events)

    def committed(self, events: Sequence[Event]) -> None:
        """After the commit: to this process's subscribers, then the observers."""
        hub = self.hub
        for event in events:
            for topic in event.topics:
                hub.publish(topic, event.data)
        for observer in self._observers:
            try:
                observer(events)
            except Exception:  # noqa: BLE001 - the commit happened; an observer cannot undo it
                log.exception("event observer failed")

    async def start(self) -> None:
        """Start receiving other processes' events (nothing to do in one process)."""

    async def stop(self) -> None:
        pass


# --- the wire form between processes -----------------------------------------------------
#
# A payload is "<origin> <JSON list of entries>": the sender's origin first, so a process
# skips its own payloads without parsing them; then as many of a transaction's events as
# fit, each ``{"t": topics, "d": data}``, or ``{"t": topics, "r": [kind, id]}`` (read it
# again), or ``{"t": topics}`` (resync these topics).


@dataclass(frozen=True)
class Remote:
    """An event as another process sent it."""

    topics: tuple[str, ...]
    data: dict[str, Any] | None  # None: read ``ref`` again, or resync when there is none
    ref: tuple[str, int] | None = None


def encode(origin: str, events: Sequence[Event], limit: int = PAYLOAD_LIMIT) -> list[str]:
    """Payloads of at most ``limit`` bytes for the events other processes get, in order."""
    payloads: list[str] = []
    batch: list[str] = []
    size = len(origin) + 3
    for event in events:
        if not event.shared:
            continue
        entry = _entry(event, limit - len(origin) - 3)
        length = len(entry.encode())
        if batch and size + length + 1 > limit:
            payloads.append(f"{origin} [{','.join(batch)}]")
            batch, size = [], len(origin) + 3
        batch.append(entry)
        size += length + 1
    if batch:
        payloads.append(f"{origin} [{','.join(batch)}]")
    return payloads


def _entry(event: Event, limit: int) -> str:
    """One event: whole, else by reference, else a request to resync its topics."""
    topics = [topic for topic in event.topics if not is_local(topic)]
    whole = _dumps({"t": topics, "d": event.data})
    if len(whole.encode()) <= limit:
        return whole
    if event.ref is not None:
        return _dumps({"t": topics, "r": list(event.ref)})
    log.warning("event %s too large to send whole and without a reference: its topics resync",
                event.data.get("type"))
    return _dumps({"t": topics})


def origin_of(payload: str) -> str:
    return payload.partition(" ")[0]


def decode(payload: str) -> list[Remote] | None:
    """The events of a payload, in order; None when it cannot be read."""
    try:
        entries = json.loads(payload.partition(" ")[2])
        found = []
        for raw in entries:
            ref = raw.get("r")
            found.append(Remote(topics=tuple(str(t) for t in raw["t"]), data=raw.get("d"),
                                ref=(str(ref[0]), int(ref[1])) if ref else None))
        return found
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        log.error("unreadable event payload: %.200r", payload)
        return None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
