"""Queries of coach accounts: live sessions, second factors, links, tokens, coaches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.account_models import AccountLink, AuthSession, CoachTotp, LoginTry, RecoveryCode
from ecoach.logbook.models import ApiToken, Coach, Engagement
from ecoach.logbook.passkey_models import PasskeyChallenge
from ecoach.logbook.passkey_queries import has_passkey_clause


@dataclass(frozen=True)
class LiveSession:
    row: AuthSession
    coach: Coach
    has_2fa: bool


async def get_live_session(session: AsyncSession, token_hash: str, now: datetime,
                           idle_since: datetime) -> LiveSession | None:
    """The session with this digest if it has not ended, run out (absolute lifetime or
    idle timeout), and its coach is active. One indexed lookup. A coach has 2FA with a
    confirmed authenticator app or at least one passkey."""
    stmt = (
        select(AuthSession, Coach, CoachTotp.confirmed_at, has_passkey_clause(Coach.id))
        .join(Coach, Coach.id == AuthSession.coach_id)
        .outerjoin(CoachTotp, CoachTotp.coach_id == Coach.id)
        .where(AuthSession.token_hash == token_hash, AuthSession.ended_at.is_(None),
               AuthSession.expires_at > now, AuthSession.last_seen_at > idle_since,
               Coach.deactivated_at.is_(None))
    )
    found = (await session.execute(stmt)).first()
    if found is None:
        return None
    return LiveSession(found[0], found[1], found[2] is not None or bool(found[3]))


async def get_open_sessions(session: AsyncSession, coach_id: int, now: datetime,
                            idle_since: datetime) -> list[AuthSession]:
    stmt = (
        select(AuthSession)
        .where(AuthSession.coach_id == coach_id, AuthSession.ended_at.is_(None),
               AuthSession.expires_at > now, AuthSession.last_seen_at > idle_since,
               AuthSession.stage == "full")
        .order_by(AuthSession.last_seen_at.desc())
    )
    return list((await session.execute(stmt)).scalars())


async def get_open_session_ids(session: AsyncSession, coach_id: int) -> list[int]:
    stmt = select(AuthSession.id).where(AuthSession.coach_id == coach_id, AuthSession.ended_at.is_(None))
    return list((await session.execute(stmt)).scalars())


async def get_totp(session: AsyncSession, coach_id: int) -> CoachTotp | None:
    return await session.get(CoachTotp, coach_id)


async def has_second_factor(session: AsyncSession, coach_id: int) -> bool:
    """A confirmed authenticator app or a passkey: logging in asks for one of them."""
    totp = await get_totp(session, coach_id)
    return (totp is not None and totp.confirmed_at is not None) or bool(
        await session.scalar(select(has_passkey_clause(coach_id))))


async def get_unused_recovery_codes(session: AsyncSession, coach_id: int) -> list[RecoveryCode]:
    stmt = select(RecoveryCode).where(RecoveryCode.coach_id == coach_id, RecoveryCode.used_at.is_(None))
    return list((await session.execute(stmt)).scalars())


async def get_account_link(session: AsyncSession, token_hash: str, purpose: str) -> AccountLink | None:
    stmt = select(AccountLink).where(AccountLink.token_hash == token_hash, AccountLink.purpose == purpose)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_api_token(session: AsyncSession, token_hash: str) -> tuple[ApiToken, Coach] | None:
    """A live token and its active coach."""
    stmt = (
        select(ApiToken, Coach)
        .join(Coach, Coach.id == ApiToken.coach_id)
        .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None), Coach.deactivated_at.is_(None))
    )
    found = (await session.execute(stmt)).first()
    return (found[0], found[1]) if found else None


async def get_api_tokens(session: AsyncSession, coach_id: int) -> list[ApiToken]:
    stmt = (select(ApiToken).where(ApiToken.coach_id == coach_id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc()))
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True)
class CoachRow:
    coach: Coach
    has_2fa: bool
    engagements: int
    invited: bool  # has not set a password yet


async def get_coaches(session: AsyncSession) -> list[CoachRow]:
    """Every coach for the administration page, with the number of engagements."""
    counts = (select(Engagement.coach_id, func.count().label("n"))
              .group_by(Engagement.coach_id).subquery())
    stmt = (
        select(Coach, CoachTotp.confirmed_at, has_passkey_clause(Coach.id), func.coalesce(counts.c.n, 0))
        .outerjoin(CoachTotp, CoachTotp.coach_id == Coach.id)
        .outerjoin(counts, counts.c.coach_id == Coach.id)
        .order_by(Coach.deactivated_at.is_not(None), Coach.name, Coach.id)
    )
    return [CoachRow(coach, confirmed is not None or bool(passkey), int(n), coach.password_hash == "")
            for coach, confirmed, passkey, n in (await session.execute(stmt)).all()]


async def count_admins(session: AsyncSession) -> int:
    stmt = select(func.count()).select_from(Coach).where(Coach.role == "admin", Coach.deactivated_at.is_(None))
    return int(await session.scalar(stmt) or 0)


async def prune_accounts(session: AsyncSession, now: datetime, tries_before: datetime) -> int:
    """Forget ended or run-out sessions, used or expired links and old login attempts
    (in the caller's transaction)."""
    removed = 0
    for stmt in (
        delete(PasskeyChallenge).where(PasskeyChallenge.expires_at < now),
        delete(AuthSession).where(or_(AuthSession.ended_at.is_not(None), AuthSession.expires_at < now)),
        delete(AccountLink).where(or_(AccountLink.used_at.is_not(None), AccountLink.expires_at < now)),
        delete(LoginTry).where(LoginTry.at < tries_before),
    ):
        removed += int((await session.execute(stmt)).rowcount or 0)  # type: ignore[attr-defined]
    return removed
