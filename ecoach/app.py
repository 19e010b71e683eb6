"""The composition root: builds the engine, event bus, writer and web application."""

from __future__ import annotations

import asyncio
import importlib
import logging
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions import notify
from ecoach.actions.exchange_writer import ExchangeWriter
from ecoach.actions.crisis_chat import with_crisis_check
from ecoach.actions.exchanges import exchange_event
from ecoach.channels.chat import endpoint as chat_endpoint
from ecoach.core import topics
from ecoach.core.crisis import lexicon as crisis_lexicon
from ecoach.channels.chat.protocol import socket_gate
from ecoach.core.clock import Clock, make_clock
from ecoach.core.events import EventBus
from ecoach.core.hub import Hub
from ecoach.logbook import agreement_cache, webhook_cache
from ecoach.logbook.agreement_cache import AgreementCache
from ecoach.logbook.webhook_cache import EndpointCoaches
from ecoach.logbook.db import checkpoint_often, create_engine, migrate, scrub, session_factory
from ecoach.scheduler import commitments as commitment_tasks
from ecoach.scheduler import maintenance
from ecoach.scheduler import nudges as nudge_tasks
from ecoach.scheduler import booking as booking_tasks
from ecoach.scheduler import accounts as account_tasks
from ecoach.scheduler import webhooks as webhook_tasks
from ecoach.scheduler import retention as retention_tasks
from ecoach.actions import webhooks as webhook_actions
from ecoach.scheduler import sessions as session_tasks
from ecoach.actions.login_limits import LocalGate
from ecoach.actions.passwords import PasswordWorkers
from ecoach.core.limits import SocketLimits
from ecoach.scheduler.registry import TaskRegistry
from ecoach.scheduler.runner import TaskRunner
from ecoach.encryption import keyring_for
from ecoach.logbook.keyring import Keyring
from ecoach.settings import Settings, SettingsError
from ecoach.channels.chat import coach as coach_chat
from ecoach.web import api, auth, coachee, errors, guard, health, inbox, mail_pages, security
from ecoach.web import audit as audit_web
from ecoach.web import account as account_web
from ecoach.web import passkeys as passkeys_web
from ecoach.web import admin as admin_web
from ecoach.web import password as password_web
from ecoach.web import metrics as metrics_web
from ecoach.web import webhooks as webhooks_web
from ecoach.web import data_export as data_export_web
from ecoach.web import retention as retention_web
from ecoach.web import crisis as crisis_web
from ecoach.web import supervision as supervision_web
from ecoach.web import erasure as erasure_web
from ecoach.web import nudges as nudges_web
from ecoach.web import availability as availability_web
from ecoach.web import report as report_web
from ecoach.web import booking as booking_web
from ecoach.web import booking_manage as booking_manage_web
from ecoach.web import booking_confirm as booking_confirm_web
from ecoach.web import booking_coach as booking_coach_web
from ecoach.web import contract_coach, contract_party, contract_side
from ecoach.web import zones as zones_web
from ecoach.web import engagement_details as engagement_details_web
from ecoach.web import profile as profile_web
from ecoach.web.compression import compression_middleware
from ecoach.web import session_coach as session_coach_web
from ecoach.web import session_forms as session_forms_web
from ecoach.web import billing as billing_web
from ecoach.web import billing_engagement as billing_engagement_web
from ecoach.web import billing_invoices as billing_invoices_web
from ecoach.web import files as files_web
from ecoach.web import resources as resources_web
from ecoach.web import shares as shares_web
from ecoach.web import groups as groups_web
from ecoach.web import group_session_pages as group_session_web
from ecoach.web import team as team_web
from ecoach.channels.chat import groups as group_sockets
from ecoach.web.i18n import I18n
from ecoach.encryption import keyring_for
from ecoach.logbook.keyring import Keyring
from ecoach.logbook.reseal import has_unsealed_coachees
from ecoach.keys import (
    BUS, CLOCK, ENGINE, HANDSHAKE_READS, HEALTH_ENGINE, HUB, I18N, KEYRING, LOGIN_GATE, MAIL_READERS, METRICS, OUTBOX, PASSWORD_WORKERS, SESSIONS, SETTINGS,
    SOCKET_LIMITS, SOCKETS, TASK_RUNNER, WRITER,
)

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "web" / "static"

# Every area with scheduled work: each module's register_tasks(registry) adds its handlers
# and recurring jobs to the task runner.
TASK_MODULES = (maintenance, notify, commitment_tasks, booking_tasks, nudge_tasks, account_tasks, webhook_tasks,
                session_tasks, retention_tasks)


def build_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    app = web.Application(client_max_size=settings.max_request_bytes)
    app[SETTINGS] = settings
    app[CLOCK] = clock or clock_for(settings)
    # No master key and no allow_plaintext: SettingsError, one line naming the setting.
    app[KEYRING] = keyring_for(settings, app[CLOCK].now)
    app[HUB] = Hub()
    app[BUS] = event_bus(settings, app[HUB])
    app[I18N] = I18n()
    app[SOCKETS] = weakref.WeakSet()
    limits = settings.limits
    app[SOCKET_LIMITS] = SocketLimits(per_key=limits.sockets_per_link, per_client=limits.sockets_per_client,
                                      per_minute=limits.handshakes_per_minute)
    app.middlewares.append(socket_gate)  # first: refusing a socket flood must cost nothing else
    app.middlewares.append(compression_middleware)  # outside the error pages: they are compressed too
    app.middlewares.append(errors.error_middleware)
    app.middlewares.append(audit_web.origin_middleware)  # where each request comes from, for the audit trail
    security.setup(
        app,
        settings.resolved_secret(),  # the one time the secret is resolved; settings.secret after
        max_age=settings.session_max_age_hours * 3600,
        secure=settings.secure_cookies,
    )
    guard.setup(app)  # inside the session (error pages need it), before the CSRF check reads forms
    app.middlewares.append(security.csrf_middleware)
    metrics_web.setup(app)  # when enabled: counters on the bus, and the login outcomes
    if settings.webhooks.enabled:
        endpoint_coaches = EndpointCoaches()  # which coaches have endpoints, kept while none changes
        webhook_cache.WATCH.listen(app[HUB], endpoint_coaches)
        app[BUS].add_stage_hook(webhook_actions.stage_hook(app[CLOCK], lambda: _wake_tasks(app), endpoint_coaches))
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_events)
    app.cleanup_ctx.append(_password_workers)
    app.cleanup_ctx.append(_writer)
    app.cleanup_ctx.append(_mail)
    app.cleanup_ctx.append(_tasks)  # after _mail: mail a task queues wakes the outbox (topics.OUTBOX)
    app.on_shutdown.append(_close_sockets)
    for module in (health, auth, inbox, coach_chat, coachee, chat_endpoint, api, mail_pages, nudges_web,
                   availability_web, report_web, booking_web, booking_manage_web, booking_confirm_web,
                   booking_coach_web, account_web, admin_web, password_web, zones_web, engagement_details_web,
                   profile_web, webhooks_web, audit_web, contract_coach, contract_side, contract_party,
                   session_coach_web, session_forms_web, erasure_web,
                   data_export_web, retention_web, supervision_web,
                   billing_web, billing_engagement_web, billing_invoices_web,
                   files_web, resources_web, shares_web, passkeys_web, crisis_web,
                   groups_web, group_session_web, group_sockets, team_web):
        module.register(app)
    app.router.add_static("/static/", STATIC, name="static")
    return app


def _keyring(settings: Settings, clock: Clock) -> Keyring:
    """The keyring that seals the sealed columns (billing's so far). Until the encryption
    area wires it for good (refusing to start without a master key), a server without
    one stores those columns in the plaintext form."""
    try:
        return keyring_for(settings, clock.now)
    except SettingsError:
        log.warning("no master key configured: sealed columns are stored unencrypted")
        return Keyring(None, now=clock.now)


def clock_for(settings: Settings) -> Clock:
    """The real clock, or the moment ``[clock]`` sets (tests, demonstrations)."""
    start = settings.clock.start_at
    if start is not None:
        log.warning("the clock is set to %s (%s), not the real time", start.isoformat(),
                    "running" if settings.clock.runs else "standing still")
    return make_clock(start, runs=settings.clock.runs)
def event_bus(settings: Settings, hub: Hub) -> EventBus:
    """Every process's events to every process on PostgreSQL; one process's otherwise."""
    if settings.is_sqlite or settings.events.fanout == "local":
        return EventBus(hub)
    from ecoach.logbook.pg_events import PgEventBus

    return PgEventBus(hub, settings.database_url, ping_seconds=settings.events.ping_seconds,
                      backoff_max=settings.events.reconnect_max_seconds)


# A third of the engine's pool (create_engine: 10, plus 10 overflow on PostgreSQL; SQLite's 5 + 10).
HANDSHAKE_READ_SLOTS = 5


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_engine(settings.database_url, checkpoints_apart=True)
    if settings.auto_migrate:
        await migrate(engine)
    app[ENGINE] = engine
    app[HEALTH_ENGINE] = create_engine(settings.database_url, pool_size=1)
    app[HANDSHAKE_READS] = asyncio.Semaphore(HANDSHAKE_READ_SLOTS)
    # Commitment policies and working calendars, kept while no change is announced (here
    # or, through the event bus, in another process).
    agreements = AgreementCache()
    agreement_cache.WATCH.listen(app[HUB], agreements)
    app[SESSIONS] = session_factory(engine, app[BUS], app[KEYRING], agreements)
    await check_keyring(app[SESSIONS], app[KEYRING])
    scrubbing: set[asyncio.Task[None]] = set()

    def destroyed(event: dict[str, Any]) -> None:
        # An erasure here or in another process: its keys leave this process's memory, and
        # the database files are cleaned of what was deleted.
        app[KEYRING].forget(int(k) for k in event.get("key_ids", []))
        task = asyncio.get_running_loop().create_task(scrub(engine))
        scrubbing.add(task)
        task.add_done_callback(scrubbing.discard)

    app[HUB].listen(topics.KEYS, destroyed)
    # SQLite: the write-ahead log is checkpointed here, not inside a chat batch's commit.
    stop_checkpoints = asyncio.Event()
    checkpoints = (asyncio.create_task(checkpoint_often(engine, stop_checkpoints), name="checkpoints")
                   if settings.is_sqlite else None)
    yield
    if checkpoints is not None:
        stop_checkpoints.set()
        await checkpoints
    for task in list(scrubbing):
        await task
    await app[HEALTH_ENGINE].dispose()
    await engine.dispose()


async def check_keyring(sessions: async_sessionmaker[AsyncSession], keyring: Keyring) -> None:
    """The master keys open this database's data keys (CryptoError otherwise); a warning
    while personal data stored before encryption is still readable."""
    async with sessions() as session:
        await keyring.verify(session)
        if keyring.encrypted and await has_unsealed_coachees(session):
            log.warning("personal data stored before encryption is still readable: run `ecoach keys "
                        "encrypt-existing` (the server keeps running meanwhile)")
        elif not keyring.encrypted:
            log.warning("allow_plaintext: personal data is stored unencrypted (set a master key)")


async def _events(app: web.Application) -> AsyncIterator[None]:
    """Receive the events other server processes commit (PostgreSQL)."""
    bus = app[BUS]
    add_resolver = getattr(bus, "add_resolver", None)
    if add_resolver is not None:
        async def exchange(exchange_id: int):  # type: ignore[no-untyped-def]
            async with app[SESSIONS]() as session:
                return await exchange_event(session, exchange_id)

        add_resolver("exchange", exchange)
    await bus.start()
    yield
    await bus.stop()
async def _password_workers(app: web.Application) -> AsyncIterator[None]:
    accounts = app[SETTINGS].accounts
    workers = PasswordWorkers(accounts.password_hash_workers, accounts.password_hash_queue)
    app[PASSWORD_WORKERS] = workers
    app[LOGIN_GATE] = LocalGate()
    yield
    workers.close()


async def _writer(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    after_record = None
    if settings.mail.enabled:
        from ecoach.actions.notify import notify_after_record

        hub = app[HUB]

        def online(engagement_id: int) -> bool:  # the coachee has the chat open in this process
            return hub.subscriber_count(topics.engagement(engagement_id)) > 0

        async def after_record(session, recorded, now):  # type: ignore[no-untyped-def]
            return await notify_after_record(session, recorded, settings=settings, now=now, online=online)

    writer = ExchangeWriter(app[SESSIONS], app[CLOCK], after_record=with_crisis_check(settings, after_record))
    await asyncio.to_thread(crisis_lexicon.load)  # compiled once per process, not on the first message
    if METRICS in app:  # /metrics shows where a chat message's time goes
        writer.timing = app[METRICS].write_phase
    writer.start()
    app[WRITER] = writer
    yield
    await writer.stop()


async def _mail(app: web.Application) -> AsyncIterator[None]:
    """The mail channel, when enabled: the outbox dispatcher, IMAP readers, LMTP."""
    settings = app[SETTINGS]
    if not settings.mail.enabled:
        yield
        return
    from ecoach.channels.mail.imap import ImapIngest
    from ecoach.channels.mail.outbox import OutboxDispatcher

    dispatcher = OutboxDispatcher(app[SESSIONS], settings.mail, app[CLOCK])
    dispatcher.start()
    app[OUTBOX] = dispatcher
    app[HUB].listen(topics.OUTBOX, lambda _event: dispatcher.wake())  # a mail was queued here
    # Every process runs a reader per mailbox; one at a time reads it (the others stand by).
    readers = [ImapIngest(settings, box, app[SESSIONS], app[CLOCK]) for box in settings.mail.mailboxes]
    app[MAIL_READERS] = readers
    for reader in readers:
        reader.start()
    lmtp = None
    if settings.mail.lmtp_enabled and settings.mail.lmtp_process == settings.process_name:
        from ecoach.channels.mail.lmtp import LmtpServer

        lmtp = LmtpServer(settings, app[SESSIONS], app[CLOCK])
        await lmtp.start()
    elif settings.mail.lmtp_enabled:
        log.info("LMTP listens in process %r (mail.lmtp_process), not in this one (%r)",
                 settings.mail.lmtp_process, settings.process_name)
    yield
    if lmtp is not None:
        await lmtp.stop()
    for reader in readers:
        await reader.stop()
    await dispatcher.stop()


def task_registry(settings: Settings) -> TaskRegistry:
    """The handlers of every area, plus those of ``scheduler.task_modules``."""
    registry = TaskRegistry()
    extra = (importlib.import_module(name) for name in settings.scheduler.module_names)
    for module in (*TASK_MODULES, *extra):
        module.register_tasks(registry)  # type: ignore[attr-defined]
    return registry


async def _tasks(app: web.Application) -> AsyncIterator[None]:
    """The durable task runner; without ``scheduler.enabled`` it exists but only runs when
    called (``run_once``), e.g. in tests that move the clock by hand."""
    settings = app[SETTINGS]
    runner = TaskRunner(app[SESSIONS], task_registry(settings), settings, app[CLOCK])
    app[TASK_RUNNER] = runner
    if settings.scheduler.enabled:
        runner.start()
    yield
    await runner.stop()


def _wake_tasks(app: web.Application) -> None:
    """Something was just scheduled for now (e.g. webhook deliveries): look at once."""
    runner = app.get(TASK_RUNNER)
    if runner is not None:
        runner.wake()


async def _close_sockets(app: web.Application) -> None:
    for ws in set(app[SOCKETS]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
