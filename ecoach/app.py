"""The composition root: builds the engine, hub, writer and web application."""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import WSCloseCode, web

from ecoach.actions.exchanges import ExchangeWriter
from ecoach.channels.chat import endpoint as chat_endpoint
from ecoach.core.clock import Clock, SystemClock
from ecoach.core.hub import Hub
from ecoach.logbook.db import create_engine, migrate, session_factory
from ecoach.settings import Settings
from ecoach.channels.chat import coach as coach_chat
from ecoach.web import api, auth, coachee, errors, health, inbox, security
from ecoach.web.i18n import I18n
from ecoach.web.keys import CLOCK, ENGINE, HUB, I18N, SESSIONS, SETTINGS, SOCKETS, WRITER

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "web" / "static"


def build_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    app = web.Application(client_max_size=max(1024**2, settings.max_message_chars * 8))
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app[HUB] = Hub()
    app[I18N] = I18n()
    app[SOCKETS] = weakref.WeakSet()
    app.middlewares.append(errors.error_middleware)
    security.setup(
        app,
        settings.resolved_secret(),
        max_age=settings.session_max_age_hours * 3600,
        secure=settings.secure_cookies,
    )
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_writer)
    app.on_shutdown.append(_close_sockets)
    for module in (health, auth, inbox, coach_chat, coachee, chat_endpoint, api):
        module.register(app)
    app.router.add_static("/static/", STATIC, name="static")
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_engine(settings.database_url)
    if settings.auto_migrate:
        await migrate(engine)
    app[ENGINE] = engine
    app[SESSIONS] = session_factory(engine)
    yield
    await engine.dispose()


async def _writer(app: web.Application) -> AsyncIterator[None]:
    writer = ExchangeWriter(app[SESSIONS], app[HUB], app[CLOCK])
    writer.start()
    app[WRITER] = writer
    yield
    await writer.stop()


async def _close_sockets(app: web.Application) -> None:
    for ws in set(app[SOCKETS]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
