"""``GET /metrics``: Prometheus' text format, for monitoring only.

Off unless ``metrics.enabled`` (then 404, as any unknown path). A request may read it
when its client (as ``trusted_proxies`` tell it: behind nginx, the scraper, not nginx) is
in ``metrics.allowed_networks`` (default: this machine), or when it carries the bearer
token of ``metrics.token_file``; anyone else gets 403. The body holds counts and states
only (see ``ecoach.metrics``).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from ecoach.keys import BUS, CLOCK, HUB, MAIL_READERS, METRICS, SESSIONS, SETTINGS
from ecoach.logbook.metrics_queries import get_figures
from ecoach.metrics import Metrics, Snapshot
from ecoach.web.security import client_address

log = logging.getLogger(__name__)

TOKEN = web.AppKey("metrics_token", str)
LAG_PERIOD = 0.25  # seconds between looks at the event loop's lag
LOGIN_STEPS = {"/login": "password", "/login/2fa": "second_factor"}


def _allowed(request: web.Request) -> bool:
    token = request.app.get(TOKEN)
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode()):
        return True
    try:
        client = ipaddress.ip_address(client_address(request))
    except ValueError:
        return False
    return any(client in network for network in request.app[SETTINGS].metrics.networks)


async def metrics(request: web.Request) -> web.Response:
    if not _allowed(request):
        raise web.HTTPForbidden(text="/metrics is not open to this client\n")
    app = request.app
    snapshot = await _snapshot(app)
    collected = app[METRICS]
    collected.snapshot = snapshot  # written out below, with no await in between
    # Prometheus' text format (0.0.4), or OpenMetrics when the scraper asks for it.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encode(collected.registry), headers={"Content-Type": content_type})


async def _snapshot(app: web.Application) -> Snapshot:
    now = app[CLOCK].now()
    async with app[SESSIONS]() as session:
        figures = await get_figures(session, now)
    hub = app[HUB]
    readers = {reader.box.name: "degraded" if reader.problem else reader.state for reader in app.get(MAIL_READERS, [])}
    bus = app[BUS]
    listener = None
    if hasattr(bus, "listening"):  # PostgreSQL's bus
        listener = {"connected": int(bus.listening.is_set()), "connects": bus.connects, "received": bus.received}
    return Snapshot(now=now, figures=figures, readers=readers, listener=listener,
                    sockets={"coach": hub.subscribers_under("coach:"), "coachee": hub.subscribers_under("chatlink:")})


@web.middleware
async def count_logins(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Login outcomes by status: 303 ok, 429 refused by the limiter, other 4xx failed."""
    step = LOGIN_STEPS.get(request.path) if request.method == "POST" else None
    if step is None:
        return await handler(request)
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        outcome = "ok" if status < 400 else "refused" if status == 429 else "failed"
        request.app[METRICS].logins.labels(step, outcome).inc()


def setup(app: web.Application) -> None:
    """Wire /metrics when enabled: the counters hear every committed event of this process."""
    settings = app[SETTINGS].metrics
    if not settings.enabled:
        return
    collected = Metrics()
    app[METRICS] = collected
    app[BUS].observe(collected.observe)
    token = settings.token()
    if token:
        app[TOKEN] = token
    app.middlewares.append(count_logins)
    app.router.add_get("/metrics", metrics)
    app.cleanup_ctx.append(_timings)


async def _timings(app: web.Application) -> AsyncIterator[None]:
    """How late the event loop runs (the chat writer's phases are wired in app._writer)."""
    lag = asyncio.create_task(_watch_loop(app[METRICS]), name="metrics-loop-lag")
    yield
    lag.cancel()


async def _watch_loop(collected: Metrics) -> None:
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(LAG_PERIOD)
        collected.loop_lag.observe(max(0.0, loop.time() - asked - LAG_PERIOD))
