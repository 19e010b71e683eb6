"""Caps on websockets, checked before the handshake and before any database work.

Per server process: at most ``per_key`` open sockets per key (a coachee's chat link, a
coach), at most ``per_client`` per client address, and a token bucket of handshakes per
client address (``per_minute``, refilled continuously). A refused handshake costs a
dictionary lookup, so a flood of attempts cannot slow the server for everyone else.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

MAX_TRACKED = 100_000  # client buckets kept; full ones are dropped first


@dataclass(frozen=True)
class Ticket:
    key: str
    client: str


class SocketLimits:
    def __init__(self, *, per_key: int, per_client: int, per_minute: int,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.per_key, self.per_client, self.per_minute = per_key, per_client, per_minute
        self._open_keys: Counter[str] = Counter()
        self._open_clients: Counter[str] = Counter()
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._monotonic = monotonic

    def admit(self, key: str, client: str) -> Ticket | str:
        """A ticket to release when the socket closes, or the reason for refusing:
        "too_many_handshakes", "too_many_sockets_for_client", "too_many_sockets"."""
        if not self._take_handshake(client):
            return "too_many_handshakes"
        if self._open_clients[client] >= self.per_client:
            return "too_many_sockets_for_client"
        if self._open_keys[key] >= self.per_key:
            return "too_many_sockets"
        self._open_keys[key] += 1
        self._open_clients[client] += 1
        return Ticket(key, client)

    def release(self, ticket: Ticket) -> None:
        for counter, name in ((self._open_keys, ticket.key), (self._open_clients, ticket.client)):
            counter[name] -= 1
            if counter[name] <= 0:
                del counter[name]

    def open_count(self, key: str) -> int:
        return self._open_keys.get(key, 0)

    def _take_handshake(self, client: str) -> bool:
        now = self._monotonic()
        tokens, at = self._buckets.get(client, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - at) * self.per_minute / 60.0)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            return False
        self._buckets[client] = (tokens - 1.0, now)
        if len(self._buckets) > MAX_TRACKED:
            self._forget_full(now)
        return True

    def _forget_full(self, now: float) -> None:
        for client, (tokens, at) in list(self._buckets.items()):
            if tokens + (now - at) * self.per_minute / 60.0 >= self.per_minute:
                del self._buckets[client]
