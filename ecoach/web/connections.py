"""Connection limits per client address, applied when a TCP connection is accepted.

One address may open at most ``limits.connections_per_client`` connections at once and
start new ones at ``limits.connections_per_second`` (with a burst of twice that).
Past that the connection is closed at once, before any HTTP is read: a flood from one
address costs the server an accept and a close, so everyone else's requests, /healthz
included, keep their speed. Addresses in ``trusted_proxies`` are not limited here (every
visitor arrives through them; the proxy limits connections itself, see deploy/nginx.conf).
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger(__name__)

MAX_TRACKED = 100_000


class ConnectionGate:
    def __init__(self, *, per_client: int, per_second: float, exempt: tuple[Any, ...] = (),
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.per_client, self.per_second, self.burst = per_client, per_second, per_second * 2
        self.exempt = exempt
        self.open: Counter[str] = Counter()
        self._buckets: dict[str, tuple[float, float]] = {}
        self._monotonic = monotonic
        self.refused = 0

    def admit(self, address: str) -> bool:
        if self._exempt(address):
            return True
        now = self._monotonic()
        tokens, at = self._buckets.get(address, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.per_second)
        if tokens < 1.0 or self.open[address] >= self.per_client:
            self._buckets[address] = (tokens, now)
            self.refused += 1
            return False
        self._buckets[address] = (tokens - 1.0, now)
        if len(self._buckets) > MAX_TRACKED:
            self._buckets = {a: v for a, v in self._buckets.items() if self.open[a]}
        self.open[address] += 1
        return True

    def closed(self, address: str) -> None:
        if self._exempt(address):
            return
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]

    def _exempt(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.exempt)


class GatedRunner(web.AppRunner):
    """An AppRunner whose connections pass the gate first."""

    def __init__(self, app: web.Application, gate: ConnectionGate, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.gate = gate

    async def _make_server(self) -> web.Server:
        return _GatedServer(await super()._make_server(), self.gate)  # type: ignore[return-value]


class _GatedServer:
    """The protocol factory of ``web.Server`` behind the gate; anything else (shutdown,
    connections) is the server's own."""

    def __init__(self, server: web.Server, gate: ConnectionGate) -> None:
        self._server, self._gate = server, gate

    def __call__(self) -> asyncio.Protocol:
        return _GateProtocol(self._handler, self._gate)

    def _handler(self, address: str) -> RequestHandler:
        server = self._server
        return _GatedHandler(self._gate, address, server, loop=server._loop, **server._kwargs)  # noqa: SLF001

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


class _GateProtocol(asyncio.Protocol):
    """Decides when the connection is made: a refused one is aborted before aiohttp builds
    anything for it; an admitted one is handed to aiohttp's request handler."""

    def __init__(self, make_handler: Callable[[str], RequestHandler], gate: ConnectionGate) -> None:
        self._make_handler, self._gate = make_handler, gate

    def connection_made(self, transport: Any) -> None:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if peer else ""
        if not self._gate.admit(address):
            transport.abort()
            return
        handler = self._make_handler(address)
        transport.set_protocol(handler)
        handler.connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        pass  # refused: nothing was started


class _GatedHandler(RequestHandler):
    """aiohttp's request handler that gives its place back to the gate when it closes."""

    def __init__(self, gate: ConnectionGate, address: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gate, self._address = gate, address

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._address is not None:
            self._gate.closed(self._address)
            self._address = None
        super().connection_lost(exc)


def gate_for(settings: Any) -> ConnectionGate:
    limits = settings.limits
    return ConnectionGate(per_client=limits.connections_per_client, per_second=limits.connections_per_second,
                          exempt=settings.proxy_networks)


async def serve(app: web.Application, settings: Any) -> None:
    """Run the server until SIGINT/SIGTERM (as ``web.run_app``), with the connection gate
    and the idle-connection timeout."""
    runner = GatedRunner(app, gate_for(settings), access_log=None, handle_signals=True,
                         keepalive_timeout=settings.limits.idle_connection_seconds)
    await runner.setup()
    # Everything built at start-up lives as long as the process: keep it out of the
    # garbage collector's full passes, which would otherwise pause the loop under load.
    gc.collect()
    gc.freeze()
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        while True:
            await asyncio.sleep(3600)
    finally:
        await runner.cleanup()
