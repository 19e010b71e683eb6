"""Server-side login sessions: start, look up, end.

The browser holds a random 256-bit id; the database holds its SHA-256 digest. A session
ends on logout, password change, second-factor change, "log out everywhere", when the
coach is deactivated, after ``accounts.session_idle_minutes`` without activity and after
``session_max_age_hours`` in any case. Ending is a row update: a copied cookie stops
working at once, on every server process.

When sessions end, the actions that end them emit ``session_ended`` on the coach's topic
after commit: the coach's websockets opened by those sessions close, on every process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.audit import record_audit
from ecoach.actions.unit import emit
from ecoach.core import topics
from ecoach.core.tokens import new_token, token_digest
from ecoach.logbook import account_queries as aq
from ecoach.logbook.account_models import AuthSession
from ecoach.logbook.models import Coach

log = logging.getLogger(__name__)

FULL = "full"
PASSWORD_ONLY = "password"  # the second factor is still to come
SECOND_FACTOR_MINUTES = 10  # time to type the code after the password
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    lifetime: timedelta

    @classmethod
    def from_settings(cls, settings) -> SessionPolicy:  # type: ignore[no-untyped-def]
        return cls(idle=timedelta(minutes=settings.accounts.session_idle_minutes),
                   lifetime=timedelta(hours=settings.session_max_age_hours))


async def do_start_session(session: AsyncSession, coach: Coach, *, stage: str, now: datetime,
                           policy: SessionPolicy, client: str = "", user_agent: str = "",
                           method: str = "password") -> tuple[AuthSession, str]:
    """A new session (its id is new: no fixation); returns the row and the browser's id.
    A full login is in the audit trail, with ``method``: password, totp, recovery (the
    second factor used), invite, or renewed (after the coach's own password or 2FA change)."""
    token = new_token()
    lifetime = policy.lifetime if stage == FULL else timedelta(minutes=SECOND_FACTOR_MINUTES)
    row = AuthSession(coach_id=coach.id, token_hash=token_digest(token), stage=stage, created_at=now,
                      last_seen_at=now, expires_at=now + lifetime, user_agent=_printable(user_agent)[:300],
                      client=client[:64])
    session.add(row)
    await session.flush()
    if stage == FULL:
        record_audit(session, "login", coach_id=coach.id, actor_id=coach.id, now=now, method=method,
                     session=row.id)
    return row, token


def _printable(text: str) -> str:
    return "".join(c for c in text if c.isprintable())


async def get_session_for(session: AsyncSession, token: str | None, now: datetime,
                          policy: SessionPolicy) -> aq.LiveSession | None:
    if not token or len(token) > 128:
        return None
    return await aq.get_live_session(session, token_digest(token), now, now - policy.idle)


async def do_touch(session: AsyncSession, row: AuthSession, now: datetime) -> bool:
    """Mark the session active (at most once a minute: pages do not each write)."""
    if now - row.last_seen_at < TOUCH_EVERY:
        return False
    await session.execute(update(AuthSession).where(AuthSession.id == row.id).values(last_seen_at=now))
    return True


async def do_end_session(session: AsyncSession, session_id: int, *, coach_id: int, reason: str,
                         now: datetime) -> list[int]:
    """End one of the coach's sessions; returns the ids that ended (none if not open)."""
    result = await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.coach_id == coach_id, AuthSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )
    ended = [session_id] if result.rowcount else []  # type: ignore[attr-defined]
    _announce(session, coach_id, ended, reason, now)
    return ended


async def do_end_sessions(session: AsyncSession, coach_id: int, *, reason: str, now: datetime,
                          keep: int | None = None) -> list[int]:
    """End every open session of the coach except ``keep``; returns the ended ids."""
    ids = [i for i in await aq.get_open_session_ids(session, coach_id) if i != keep]
    if ids:
        await session.execute(update(AuthSession).where(AuthSession.id.in_(ids))
                              .values(ended_at=now, end_reason=reason))
    log.info("ended %d session(s) of coach %s: %s", len(ids), coach_id, reason)
    _announce(session, coach_id, ids, reason, now)
    return ids


# Ends that are a step of something already in the trail (the half-way login that the
# second factor completes) are not entries of their own.
QUIET_REASONS = frozenset({"second_factor"})


def _announce(session: AsyncSession, coach_id: int, session_ids: list[int], reason: str, now: datetime) -> None:
    """Once this transaction commits, the coach's websockets opened by these sessions
    close, on every server process (the event path); the end is in the audit trail."""
    if session_ids:
        emit(session, topics.coach(coach_id), {"type": "session_ended", "sessions": list(session_ids)})
        if reason not in QUIET_REASONS:
            record_audit(session, "session_ended", coach_id=coach_id, now=now, reason=reason[:40],
                         count=len(session_ids))


def socket_event_filter(session_id: int | None, on_end: Callable[[], None]):  # type: ignore[no-untyped-def]
    """For the coach's websocket: calls ``on_end()`` (which closes the socket) when the
    session that opened it ended; forwards every other event."""

    def on_event(event: dict) -> dict | None:  # type: ignore[type-arg]
        if event.get("type") == "session_ended":
            if session_id in event.get("sessions", ()):
                on_end()
            return None
        return event

    return on_event
