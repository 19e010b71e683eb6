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
from ecoach.web.keys import CLOCK, ENGINE, HUB, I18N, OUTBOX, SESSIONS, SETTINGS, SOCKETS, WRITER

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
    app.cleanup_ctx.append(_mail)
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
    settings = app[SETTINGS]
    after_record = None
    if settings.mail.enabled:
        from ecoach.actions.notify import notify_after_record

        async def after_record(session, recorded, now):  # type: ignore[no-untyped-def]
            return await notify_after_record(session, recorded, hub=app[HUB], settings=settings, now=now)

    writer = ExchangeWriter(
        app[SESSIONS], app[HUB], app[CLOCK], after_record=after_record,
        on_committed=lambda _queued: _wake_outbox(app),
    )
    writer.start()
    app[WRITER] = writer
    yield
    await writer.stop()


def _wake_outbox(app: web.Application) -> None:
    outbox = app.get(OUTBOX)
    if outbox is not None:
        outbox.wake()  # type: ignore[attr-defined]


async def _mail(app: web.Application) -> AsyncIterator[None]:
    """The mail channel, when enabled: the outbox dispatcher, IMAP readers, LMTP."""
    settings = app[SETTINGS]
    if not settings.mail.enabled:
        yield
        return
    from ecoach.channels.mail.imap import ImapIngest
    from ecoach.channels.mail.outbox import OutboxDispatcher

    dispatcher = OutboxDispatcher(app[SESSIONS], settings.mail, app[CLOCK], app[HUB])
    dispatcher.start()
    app[OUTBOX] = dispatcher
    readers = [ImapIngest(settings, box, app[SESSIONS], app[HUB], app[CLOCK]) for box in settings.mail.mailboxes]
    for reader in readers:
        reader.start()
    lmtp = None
    if settings.mail.lmtp_enabled:
        from ecoach.channels.mail.lmtp import LmtpServer

        lmtp = LmtpServer(settings, app[SESSIONS], app[HUB], app[CLOCK])
        await lmtp.start()
    yield
    if lmtp is not None:
        await lmtp.stop()
    for reader in readers:
        await reader.stop()
    await dispatcher.stop()


async def _close_sockets(app: web.Application) -> None:
    for ws in set(app[SOCKETS]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
