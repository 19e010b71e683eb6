"""The login limiter: per (account, client) pair, plus a slower per-account limit.

- **Pair**: ``login_attempts`` wrong passwords for one account from one client within
  ``login_window_seconds`` stop that client trying that account until the window passes.
  Other clients (the coach at home) are not affected: guessing from one address no
  longer locks the real coach out.
- **Account**: past ``accounts.account_login_attempts`` failures from all clients together,
  the account is slowed down to one check per ``accounts.account_login_interval_seconds``.
  It is never locked: the right password from a new client gets through within that
  interval, while a botnet gets a handful of guesses an hour.

Every check is *reserved* before the password is verified, in one short transaction that
counts and inserts under a lock (PostgreSQL: an advisory lock per account; SQLite: the
write lock the insert takes first), so parallel attempts are counted exactly: thirty at
once with a limit of five run five password checks. Refused attempts are not recorded,
so hammering does not extend a lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import N_, TooMany
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
    def __init__(self, seconds: float) -> None:
        minutes = max(1, int(seconds + 59) // 60)
        super().__init__("login_rate_limited",
                         N_("Too many failed logins. Try again in %(minutes)s minutes."), minutes=minutes)
        self.retry_after = max(1, int(seconds))


async def do_reserve_check(session: AsyncSession, *, account: str, client: str, now: datetime,
                           limits: LoginLimits) -> int:
    """Reserve one check (committed), or raise LoginLimited. Returns the reservation id."""
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
        await session.rollback()
        raise LoginLimited(((oldest or now) + limits.window - now).total_seconds())
    if await _count(session, recent) >= limits.account_attempts:
        last = await session.scalar(select(func.max(LoginTry.at)).where(recent))
        if last is not None and now - last < limits.account_interval:
            await session.rollback()
            raise LoginLimited((last + limits.account_interval - now).total_seconds())
    await session.commit()
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
    await session.commit()


async def do_forget_old_tries(session: AsyncSession, before: datetime) -> int:
    """Housekeeping: attempts older than every window are of no use."""
    result = await session.execute(delete(LoginTry).where(LoginTry.at < before))
    await session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
