"""Events across server processes on one PostgreSQL: LISTEN/NOTIFY.

Sending: inside the transaction, just before its commit, one statement NOTIFYs every
event of the transaction on the channel ``ecoach_events``. PostgreSQL delivers a
notification only when (and if) its transaction commits, in commit order, so other
processes never see an event whose cause rolled back.

Receiving: one dedicated connection per process LISTENs (asyncpg). Each notification is
published to this process's hub, except those this process sent itself (delivered at once
after its own commit). A payload stays under 8,000 bytes: an event too large goes as a
reference (``("exchange", id)``) that a resolver reads back from the database, and only
when someone here listens to its topics.

Nothing is missed silently: the connection is pinged every ``events.ping_seconds``; when
it drops, it is opened again with backoff, and once it listens again every subscriber of
this process is told to resync (``Hub.resync``): sockets reconnect and read what they
missed from the logbook, which is the source of truth. Until then ``problem`` says why
(``/healthz`` shows it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.util import await_only

from ecoach.core.events import Event, EventBus, Remote, decode, encode
from ecoach.core.hub import Hub

log = logging.getLogger(__name__)

CHANNEL = "ecoach_events"
APPLICATION_NAME = "ecoach-events"
CONNECT_SECONDS = 10.0
_NOTIFY = f"SELECT pg_notify('{CHANNEL}', p) FROM unnest($1::text[]) AS p"

Resolver = Callable[[int], Awaitable[dict[str, Any] | None]]


def asyncpg_dsn(url: str) -> str:
    """The SQLAlchemy URL (postgresql+asyncpg://...) as a plain libpq-style DSN."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PgEventBus(EventBus):
    def __init__(self, hub: Hub, url: str, *, ping_seconds: float = 10.0, backoff_max: float = 30.0,
                 origin: str | None = None) -> None:
        super().__init__(hub)
        self._dsn = asyncpg_dsn(url)
        self._ping = ping_seconds
        self._backoff_max = backoff_max
        self.origin = origin or secrets.token_hex(8)  # marks what this process sent
        self._own = self.origin + " "
        self._resolvers: dict[str, Resolver] = {}
        self._incoming: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.listening = asyncio.Event()  # set while the LISTEN connection is up
        self.connects = 0  # LISTEN connections made so far
        self.received = 0  # other processes' events published here so far

    def add_resolver(self, kind: str, resolver: Resolver) -> None:
        """``await resolver(id)``: the event data for a reference, or None when gone."""
        self._resolvers[kind] = resolver

    # --- sending ------------------------------------------------------------------------

    def stage(self, session: Any, events: Sequence[Event]) -> None:
        super().stage(session, events)
        payloads = encode(self.origin, events)
        if payloads:
            # On the transaction's own connection, straight to asyncpg (a prepared statement):
            # this runs for every transaction with events, the chat's included.
            driver = session.connection().connection.driver_connection
            await_only(driver.execute(_NOTIFY, payloads))

    # --- receiving ----------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._listen(), name="events-listen"),
                       asyncio.create_task(self._consume(), name="events-consume")]
        with contextlib.suppress(asyncio.TimeoutError):  # not there yet: it keeps trying, problem says why
            await asyncio.wait_for(self.listening.wait(), CONNECT_SECONDS)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            connects = self.connects
            try:
                await self._listen_once()
            except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                self.problem = f"listening for other processes' events: {type(exc).__name__}: {exc}"
                log.warning("%s (retrying)", self.problem)
            except Exception as exc:  # noqa: BLE001 - never stop listening for good
                self.problem = f"listening for other processes' events: {type(exc).__name__}: {exc}"
                log.exception("event listener failed")
            self.listening.clear()
            if self.connects != connects:
                delay = 0.5  # it worked for a while: start the backoff afresh
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self._backoff_max)

    async def _listen_once(self) -> None:
        conn = await asyncpg.connect(self._dsn, timeout=CONNECT_SECONDS,
                                     server_settings={"application_name": APPLICATION_NAME})
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(CHANNEL, self._on_notify)
            self.connects += 1
            self.problem = None
            self.listening.set()
            # Whoever is subscribed may have missed events while nobody listened.
            ended = self.hub.resync()
            if ended:
                log.warning("listening for events again: %d subscriber(s) told to resync", ended)
            while not lost.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(lost.wait(), self._ping)
                if not lost.is_set():
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), self._ping + CONNECT_SECONDS)
            raise ConnectionError("the LISTEN connection was closed")
        finally:
            self.listening.clear()
            conn.terminate()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if not payload.startswith(self._own):  # this process delivered its own already
            self._incoming.put_nowait(payload)

    async def _consume(self) -> None:
        """One at a time, in arrival order (a reference is read before the next event)."""
        while True:
            payload = await self._incoming.get()
            for remote in decode(payload) or ():
                try:
                    await self._deliver(remote)
                except Exception:  # noqa: BLE001 - e.g. the database is away while reading a reference
                    log.exception("event from another process could not be delivered; its topics resync")
                    self.hub.resync(remote.topics)

    async def _deliver(self, remote: Remote) -> None:
        data = remote.data
        if data is None:
            if not self.hub.has_subscribers(remote.topics):
                return  # nobody here listens: nothing to read
            resolver = self._resolvers.get(remote.ref[0]) if remote.ref else None
            data = await resolver(remote.ref[1]) if resolver and remote.ref else None
            if data is None:
                self.hub.resync(remote.topics)
                return
        self.received += 1
        for topic in remote.topics:
            self.hub.publish(topic, data)
