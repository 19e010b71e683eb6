"""Queries of passkeys and their ceremonies' challenges."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.passkey_models import CoachPasskey, PasskeyChallenge


async def get_passkeys(session: AsyncSession, coach_id: int) -> list[CoachPasskey]:
    stmt = select(CoachPasskey).where(CoachPasskey.coach_id == coach_id).order_by(CoachPasskey.id)
    return list((await session.execute(stmt)).scalars())


async def get_passkey(session: AsyncSession, coach_id: int, credential_id: str) -> CoachPasskey | None:
    """The coach's passkey with this credential id (another coach's is not found)."""
    stmt = select(CoachPasskey).where(CoachPasskey.coach_id == coach_id,
                                      CoachPasskey.credential_id == credential_id)
    return (await session.execute(stmt)).scalar_one_or_none()


def has_passkey_clause(coach_id_column):  # type: ignore[no-untyped-def]
    """``EXISTS`` a passkey of that coach, for queries that ask "is 2FA on?"."""
    return exists().where(CoachPasskey.coach_id == coach_id_column)


async def has_passkeys(session: AsyncSession, coach_id: int) -> bool:
    return bool(await session.scalar(select(has_passkey_clause(coach_id))))


async def credential_taken(session: AsyncSession, credential_id: str) -> bool:
    return bool(await session.scalar(select(exists().where(CoachPasskey.credential_id == credential_id))))


async def take_challenge(session: AsyncSession, auth_session_id: int, purpose: str,
                         now: datetime) -> PasskeyChallenge | None:
    """The login's live challenge for ``purpose``, deleted here: whoever deletes it uses it
    (a second, parallel answer finds nothing)."""
    stmt = select(PasskeyChallenge).where(PasskeyChallenge.auth_session_id == auth_session_id,
                                          PasskeyChallenge.purpose == purpose)
    found = (await session.execute(stmt)).scalars().first()
    if found is None:
        return None
    result = await session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.id == found.id))
    if not result.rowcount or found.expires_at <= now:  # type: ignore[attr-defined]
        return None
    return found

