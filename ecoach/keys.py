"""Typed application keys: everything a handler needs, wired by ``ecoach.app``."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ecoach.actions.exchange_writer import ExchangeWriter
from ecoach.actions.login_limits import LocalGate
from ecoach.actions.passwords import PasswordWorkers
from ecoach.core.limits import SocketLimits
from ecoach.actions.replies import ReplyContext
from ecoach.core.clock import Clock
from ecoach.core.events import EventBus
from ecoach.core.hub import Hub
from ecoach.logbook.keyring import Keyring
from ecoach.metrics import Metrics
from ecoach.scheduler.runner import TaskRunner
from ecoach.settings import Settings
from ecoach.web.i18n import I18n

SETTINGS = web.AppKey("settings", Settings)
# Data keys for personal data at rest (ecoach.logbook.keyring); every session carries it.
KEYRING = web.AppKey("keyring", Keyring)
ENGINE = web.AppKey("engine", AsyncEngine)
# /healthz's own one-connection pool: it answers while a burst of requests or websocket
# handshakes holds every connection of ENGINE's pool.
HEALTH_ENGINE = web.AppKey("health_engine", AsyncEngine)
# How many websocket handshakes read the database at once (the chat link check): a burst of
# thousands leaves the rest of the pool to the chat's writes and the pages.
HANDSHAKE_READS = web.AppKey("handshake_reads", asyncio.Semaphore)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
HUB = web.AppKey("hub", Hub)  # this process's subscribers (sockets); events arrive after commit
# Delivers committed events to the hub, and on PostgreSQL to and from the other processes.
BUS = web.AppKey("bus", EventBus)
WRITER = web.AppKey("writer", ExchangeWriter)
CLOCK = web.AppKey("clock", Clock)
I18N = web.AppKey("i18n", I18n)
SOCKETS = web.AppKey("sockets", set)  # open websockets, closed on shutdown
# The mail outbox dispatcher (present when the mail channel is enabled); a committed
# ``topics.OUTBOX`` event (a queued mail) wakes it.
OUTBOX = web.AppKey("outbox", object)
# The IMAP readers (mail channel): each has ``box.name``, ``state`` (reading, or standby
# while another process reads the mailbox) and ``problem`` (None when fine).
MAIL_READERS = web.AppKey("mail_readers", list)
# The durable task runner (always present; started when scheduler.enabled): ``wake()``
# after committing a task due now runs it at once.
TASK_RUNNER = web.AppKey("task_runner", TaskRunner)
# Password checks run here, off the event loop (actions.passwords.PasswordWorkers).
PASSWORD_WORKERS = web.AppKey("password_workers", PasswordWorkers)
# This process's front door to the login limiter (actions.login_limits.LocalGate).
LOGIN_GATE = web.AppKey("login_gate", LocalGate)
# Caps on open websockets and handshakes per link, coach and client (channels/chat/limits).
SOCKET_LIMITS = web.AppKey("socket_limits", SocketLimits)
# /metrics (present when metrics.enabled): counters fed by the bus, gauges read when scraped.
METRICS = web.AppKey("metrics", Metrics)
# The websocket a request upgraded to: errors after the handshake close it instead of
# writing an HTTP error page into the stream.
OPEN_SOCKET = web.RequestKey("open_socket", web.WebSocketResponse)


def reply_context(app: web.Application) -> ReplyContext:
    return ReplyContext(
        sessions=app[SESSIONS], writer=app[WRITER], clock=app[CLOCK], settings=app[SETTINGS],
    )
