"""Logging in: the password, then (when set up) the second factor, both limited.

Each check is reserved with the login limiter first (one short unit of work), verified
without holding a database connection (argon2 runs in the password workers' threads),
then settled in a unit of work of its own. That one commits before a wrong password or
code is answered with an error: the failure must count (and be in the audit trail) even
though the login fails, so it is not part of a transaction the error would roll back.
Unknown addresses, deactivated coaches and invited coaches who have not set a password
yet cost the same and answer the same as a wrong password.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions import totp
from ecoach.actions.audit import UNSET, record_audit
from ecoach.actions.coaches import normalise_email
from ecoach.actions.errors import ActionError, N_
from ecoach.actions.login_limits import LocalGate, LoginLimits, do_settle_check, reserve_through
from ecoach.actions.passwords import MAX_LENGTH, PasswordWorkers, needs_rehash
from ecoach.actions.unit import unit_of_work
from ecoach.logbook import queries
from ecoach.logbook.models import Coach

log = logging.getLogger(__name__)


def login_failed() -> ActionError:
    return ActionError("login_failed", N_("E-mail address or password is wrong."))


async def do_check_password(sessions: async_sessionmaker[AsyncSession], workers: PasswordWorkers, *,
                            email: str, password: str, client: str, now: datetime,
                            limits: LoginLimits, gate: LocalGate | None = None, step: str = "password") -> Coach:
    """The coach whose password this is, or ActionError (login_failed; 429 when limited
    or when the password workers' line is full, before any database work). ``step``
    names the check in the audit trail: "password" (logging in) or "reauth" (a logged-in
    coach confirming a change)."""
    account, client = normalise_email(email)[:320], client[:64]
    if not account or not password or len(password) > MAX_LENGTH:
        raise login_failed()
    async with workers.slot():
        reserved = await reserve_through(gate, sessions, account=account, client=client, now=now, limits=limits)
        async with sessions() as session:
            coach = await queries.get_coach_by_email(session, account)
        usable = coach is not None and coach.deactivated_at is None
        ok = await workers.verify(coach.password_hash if usable else None, password)  # type: ignore[union-attr]
        async with unit_of_work(sessions) as session:  # committed before the error below
            await do_settle_check(session, reserved, ok=ok)
            if not ok:  # the attempted address is not kept: only the account's id, when it is one
                record_audit(session, "login_failed", coach_id=coach.id if coach else None,
                             actor_id=None if step == "password" else UNSET, now=now, step=step)
    if not ok or coach is None:
        raise login_failed()
    if gate is not None:
        gate.forget(account, client)
    if needs_rehash(coach.password_hash):
        await _rehash(sessions, workers, coach, password)
    return coach


async def _rehash(sessions: async_sessionmaker[AsyncSession], workers: PasswordWorkers, coach: Coach,
                  password: str) -> None:
    """Stronger hashing parameters than when the password was set: store a new hash."""
    new_hash = await workers.hash(password)
    async with unit_of_work(sessions) as session:
        await session.execute(update(Coach).where(Coach.id == coach.id).values(password_hash=new_hash))


async def do_check_second_factor(sessions: async_sessionmaker[AsyncSession], coach: Coach, *, code: str,
                                 client: str, now: datetime, limits: LoginLimits, secret_key: str,
                                 gate: LocalGate | None = None) -> str:
    """Accept a TOTP code or an unused recovery code; returns "totp" or "recovery".
    Counted by the login limiter like passwords."""
    reserved = await reserve_through(gate, sessions, account=coach.email, client=client[:64], now=now,
                                     limits=limits)
    async with unit_of_work(sessions) as session:  # committed before the error below
        kind = await totp.do_verify_second_factor(session, coach.id, code, now=now, secret_key=secret_key)
        await do_settle_check(session, reserved, ok=kind is not None)
        if kind is None:
            record_audit(session, "login_failed", coach_id=coach.id, actor_id=None, now=now, step="second_factor")
    if kind is None:
        raise ActionError("code_wrong", N_("This code is not right. Try the newest code from your app, "
                                           "or one of your recovery codes."))
    return kind
