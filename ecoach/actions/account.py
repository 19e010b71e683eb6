"""A coach's own account: password change and reset, 2FA on and off, API tokens.

Changing the password or the second factor ends every session of the coach (the browser
that made the change gets a fresh one from the web layer); the session-ending actions
announce the ended ids after commit. Each change is in the audit trail.

The actions that check a password first take the session maker rather than a session:
the check runs without holding a database connection and settles in its own unit of
work (``actions.login``); the change is then one unit of work of its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions import account_links, passkeys, totp
from ecoach.actions.audit import record_audit
from ecoach.actions.auth_sessions import do_end_sessions
from ecoach.actions.errors import ActionError, Forbidden, N_, NotFound
from ecoach.actions.login import do_check_password
from ecoach.actions.login_limits import LoginLimits
from ecoach.actions.passwords import PasswordWorkers, check_new_password
from ecoach.actions.unit import unit_of_work
from ecoach.logbook import account_queries as aq
from ecoach.logbook.models import ApiToken, Coach


async def do_change_password(sessions: async_sessionmaker[AsyncSession], workers: PasswordWorkers,
                             coach: Coach, *, current: str, new: str, repeat: str, client: str,
                             now: datetime, limits: LoginLimits) -> list[int]:
    """Check the current password (limited like a login), set the new one, end every
    session. Returns the ended session ids."""
    if new != repeat:
        raise ActionError("password_mismatch", N_("The two new passwords are not the same."))
    check_new_password(new, email=coach.email)
    await check_current_password(sessions, workers, coach, current, client=client, now=now, limits=limits)
    new_hash = await workers.hash(new)
    async with unit_of_work(sessions) as session:
        ended = await _set_password(session, coach.id, new_hash, now=now, reason="password_changed")
        record_audit(session, "password_changed", coach_id=coach.id, now=now)
    return ended


async def check_current_password(sessions: async_sessionmaker[AsyncSession], workers: PasswordWorkers, coach: Coach,
                         password: str, *, client: str, now: datetime, limits: LoginLimits) -> None:
    try:
        await do_check_password(sessions, workers, email=coach.email, password=password, client=client,
                                now=now, limits=limits, step="reauth")
    except ActionError as exc:
        if exc.code != "login_failed":
            raise
        raise ActionError("password_wrong", N_("Your current password is not right.")) from None


async def _set_password(session: AsyncSession, coach_id: int, new_hash: str, *, now: datetime,
                        reason: str) -> list[int]:
    await session.execute(update(Coach).where(Coach.id == coach_id).values(password_hash=new_hash))
    return await do_end_sessions(session, coach_id, reason=reason, now=now)


async def do_reset_password(sessions: async_sessionmaker[AsyncSession], workers: PasswordWorkers, *,
                            token: str, purpose: str, new: str, repeat: str, now: datetime) -> tuple[Coach, list[int]]:
    """Set a password from a reset or invitation link (used up here)."""
    if new != repeat:
        raise ActionError("password_mismatch", N_("The two new passwords are not the same."))
    async with sessions() as session:
        _link, coach = await account_links.check_link(session, token, purpose, now)
    check_new_password(new, email=coach.email)
    new_hash = await workers.hash(new)
    async with unit_of_work(sessions) as session:
        link, coach = await account_links.check_link(session, token, purpose, now)
        await account_links.do_use_link(session, link, now)
        ended = await _set_password(session, coach.id, new_hash, now=now, reason=f"password_{purpose}")
        record_audit(session, "password_reset", coach_id=coach.id, actor_id=coach.id, now=now, link=purpose)
    return coach, ended


async def do_enable_2fa(session: AsyncSession, coach: Coach, code: str, *, now: datetime,
                        secret_key: str) -> tuple[list[str], list[int]]:
    """Confirm the pending TOTP secret; returns the recovery codes and the ended sessions."""
    codes = await totp.do_confirm_setup(session, coach.id, code, now=now, secret_key=secret_key)
    ended = await do_end_sessions(session, coach.id, reason="2fa_enabled", now=now)
    record_audit(session, "two_factor_enabled", coach_id=coach.id, now=now)
    return codes, ended


async def do_renew_recovery_codes(session: AsyncSession, coach_id: int, *, now: datetime) -> list[str] | None:
    """Ten new recovery codes (the earlier ones stop working); None without 2FA (an
    authenticator app or a passkey)."""
    if not await aq.has_second_factor(session, coach_id):
        return None
    codes = await totp.do_new_recovery_codes(session, coach_id, now=now)
    record_audit(session, "recovery_codes_renewed", coach_id=coach_id, now=now)
    return codes


async def do_disable_2fa(sessions: async_sessionmaker[AsyncSession], workers: PasswordWorkers, coach: Coach, *,
                         password: str, client: str, now: datetime, limits: LoginLimits,
                         required: bool) -> list[int]:
    if required:
        raise Forbidden("2fa_required", N_("Two-factor authentication is required in this practice."))
    await check_current_password(sessions, workers, coach, password, client=client, now=now, limits=limits)
    async with unit_of_work(sessions) as session:
        return await do_reset_2fa(session, coach.id, now=now, reason="2fa_disabled")


async def do_reset_2fa(session: AsyncSession, coach_id: int, *, now: datetime, reason: str) -> list[int]:
    """Turn the coach's second factors off (authenticator app, recovery codes, passkeys)
    and end every session (also from the command line, for a lost phone). Returns the
    ended session ids."""
    await totp.do_disable(session, coach_id)
    await passkeys.do_remove_all(session, coach_id)
    ended = await do_end_sessions(session, coach_id, reason=reason, now=now)
    record_audit(session, "two_factor_disabled", coach_id=coach_id, now=now)
    return ended


async def do_revoke_api_token(session: AsyncSession, coach_id: int, token_id: int, *, now: datetime) -> None:
    result = await session.execute(update(ApiToken).where(
        ApiToken.id == token_id, ApiToken.coach_id == coach_id, ApiToken.revoked_at.is_(None)
    ).values(revoked_at=now))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound("token_unknown", N_("This API token does not exist or was revoked already."))
    record_audit(session, "api_token_revoked", coach_id=coach_id, now=now, token=token_id)


TOKEN_USE_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often


async def do_mark_token_used(session: AsyncSession, api_token: ApiToken, now: datetime) -> None:
    if api_token.last_used_at is not None and now - api_token.last_used_at < TOKEN_USE_EVERY:
        return
    await session.execute(update(ApiToken).where(ApiToken.id == api_token.id).values(last_used_at=now))
