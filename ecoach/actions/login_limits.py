"""The login limiter: per (account, client) pair, plus a slower per-account limit.

- **Pair**: ``login_attempts`` wrong passwords for one account from one client within
  ``login_window_seconds`` stop that client trying that account until the window passes.
  Other clients (the coach at home) are not affected: guessing from one address no
  longer locks the real coach out.
- **Account**: past ``accounts.account_login_attempts`` failures from all clients together,
  the account is slowed down to one check per ``accounts.account_login_interval_seconds``.
  It is never locked: the right password from a new client gets through within that
  interval, while a botnet gets a handful of guesses an hour.

Every check is *reserved* before the password is verified, in one short unit of work that
counts and inserts under a lock (PostgreSQL: an advisory lock per account; SQLite: the
write lock the insert takes first), so parallel attempts are counted exactly: thirty at
once with a limit of five run five password checks. Refused attempts are not recorded
(the refusal rolls the reservation back), so hammering does not extend a lock, and they
leave no audit entry either: a flood of refused guesses costs the database nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import N_, TooMany
from ecoach.actions.unit import unit_of_work
from ecoach.logbook.account_models import LoginTry


@dataclass(frozen=True)
class LoginLimits:
    pair_attempts: int
    window: timedelta
    account_attempts: int
    account_interval: timedelta

    @classmethod
    def from_settings(cls, settings) -> LoginLimits:  # type: ignore[no-untyped-def]
        return cls(
            pair_attempts=settings.login_attempts,
            window=timedelta(seconds=settings.login_window_seconds),
            account_attempts=settings.accounts.account_login_attempts,
            account_interval=timedelta(seconds=settings.accounts.account_login_interval_seconds),
        )


class LoginLimited(TooMany):
    def __init__(self, seconds: float, *, pair: bool = True) -> None:
        minutes = max(1, int(seconds + 59) // 60)
        super().__init__("login_rate_limited",
                         N_("Too many failed logins. Try again in %(minutes)s minutes."), minutes=minutes)
        self.retry_after = max(1, int(seconds + 0.999))
        self.pair = pair  # False: the whole account is slowed down


async def do_reserve_check(session: AsyncSession, *, account: str, client: str, now: datetime,
                           limits: LoginLimits) -> int:
    """Reserve one check in the caller's unit of work (its commit makes the reservation
    count), or raise LoginLimited (which rolls it back). Returns the reservation id."""
    account, client = account[:320], client[:64]
    if session.bind.dialect.name == "postgresql":
        # Serialises reservations for one account across connections and processes.
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtext("login:" + account))))
    # On SQLite this insert, the transaction's first statement, takes the write lock.
    reserved = (await session.execute(
        insert(LoginTry).values(account=account, client=client, at=now, outcome="pending").returning(LoginTry.id)
    )).scalar_one()
    since = now - limits.window
    recent = (LoginTry.account == account) & (LoginTry.at > since) & (LoginTry.id != reserved)
    pair = await _count(session, recent & (LoginTry.client == client))
    if pair >= limits.pair_attempts:
        oldest = await session.scalar(select(func.min(LoginTry.at)).where(recent & (LoginTry.client == client)))
        raise LoginLimited(((oldest or now) + limits.window - now).total_seconds())
    if await _count(session, recent) >= limits.account_attempts:
        last = await session.scalar(select(func.max(LoginTry.at)).where(recent))
        if last is not None and now - last < limits.account_interval:
            raise LoginLimited((last + limits.account_interval - now).total_seconds(), pair=False)
    return int(reserved)


async def _count(session: AsyncSession, where) -> int:  # type: ignore[no-untyped-def]
    return int(await session.scalar(select(func.count()).select_from(LoginTry).where(where)) or 0)


async def do_settle_check(session: AsyncSession, reserved: int, *, ok: bool) -> None:
    """Record the outcome: a wrong password keeps counting; a right one clears this
    client's failures for the account (other clients' failures still count)."""
    if not ok:
        await session.execute(update(LoginTry).where(LoginTry.id == reserved).values(outcome="failed"))
    else:
        row = await session.get(LoginTry, reserved)
        if row is not None:
            await session.execute(delete(LoginTry).where(LoginTry.account == row.account,
                                                         LoginTry.client == row.client))


async def do_forget_old_tries(session: AsyncSession, before: datetime) -> int:
    """Housekeeping: attempts older than every window are of no use."""
    result = await session.execute(delete(LoginTry).where(LoginTry.at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


class LocalGate:
    """This process's front door to the limiter (the database stays the truth across
    processes): reservations for one account take turns, and a refusal is remembered
    until it runs out, so a burst against one account costs the database a handful of
    statements instead of one transaction per attempt."""

    MAX_REMEMBERED = 10_000

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}
        self._refused: dict[tuple[str, str], datetime] = {}  # (account, client or "") -> until

    def check(self, account: str, client: str, now: datetime) -> None:
        for key in ((account, client), (account, "")):
            until = self._refused.get(key)
            if until is not None and until > now:
                raise LoginLimited((until - now).total_seconds())

    def remember(self, account: str, client: str, now: datetime, refused: LoginLimited, *, pair: bool) -> None:
        if len(self._refused) >= self.MAX_REMEMBERED:
            self._refused = {k: v for k, v in self._refused.items() if v > now}
            if len(self._refused) >= self.MAX_REMEMBERED:
                self._refused.clear()
        self._refused[(account, client if pair else "")] = now + timedelta(seconds=refused.retry_after)

    def forget(self, account: str, client: str) -> None:
        self._refused.pop((account, client), None)

    @asynccontextmanager
    async def turn(self, account: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(account, asyncio.Lock())
        self._waiting[account] = self._waiting.get(account, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[account] -= 1
            if not self._waiting[account]:
                del self._waiting[account]
                del self._locks[account]


async def reserve_through(gate: LocalGate | None, sessions, *, account: str, client: str,  # type: ignore[no-untyped-def]
                          now: datetime, limits: LoginLimits) -> int:
    """Reserve a check: the local gate first (remembered refusals, one at a time per
    account), then the database."""
    if gate is None:
        async with unit_of_work(sessions) as session:
            return await do_reserve_check(session, account=account, client=client, now=now, limits=limits)
    gate.check(account, client, now)
    async with gate.turn(account):
        gate.check(account, client, now)
        try:
            async with unit_of_work(sessions) as session:
                return await do_reserve_check(session, account=account, client=client, now=now, limits=limits)
        except LoginLimited as refused:
            gate.remember(account, client, now, refused, pair=refused.pair)
            raise
