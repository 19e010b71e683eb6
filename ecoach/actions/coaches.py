"""Coach accounts: creation, login with rate limiting, API tokens."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import ActionError, Conflict, N_, TooMany
from ecoach.core.tokens import new_token, token_digest
from ecoach.core.types import LANGUAGES
from ecoach.logbook import queries
from ecoach.logbook.models import ApiToken, Coach, LoginAttempt

log = logging.getLogger(__name__)

_hasher = PasswordHasher()
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
# Verified against when the e-mail is unknown, so timing does not reveal accounts.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str, *, required: bool = True) -> str | None:
    email = normalise_email(email)
    if not email:
        if required:
            raise ActionError("email_required", N_("An e-mail address is required."))
        return None
    if not _EMAIL.match(email) or len(email) > 320:
        raise ActionError("email_invalid", N_("'%(email)s' is not a valid e-mail address."), email=email)
    return email


def check_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ActionError("name_required", N_("A name is required."))
    if len(name) > 200:
        raise ActionError("name_too_long", N_("A name can be at most 200 characters."))
    return name


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ActionError("language_invalid", N_("Language must be 'nl' or 'en'."))
    return language


def check_time_zone(zone: str) -> str:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ActionError("time_zone_invalid", N_("Unknown time zone '%(zone)s'."), zone=zone) from None
    return zone


async def do_add_coach(
    session: AsyncSession,
    *,
    name: str,
    email: str,
    password: str,
    language: str,
    time_zone: str,
    now: datetime,
) -> Coach:
    email = check_email(email) or ""
    if len(password) < MIN_PASSWORD:
        raise ActionError(
            "password_short", N_("A password needs at least %(n)s characters."), n=MIN_PASSWORD
        )
    if await queries.get_coach_by_email(session, email):
        raise Conflict("coach_exists", N_("A coach with e-mail %(email)s exists already."), email=email)
    coach = Coach(
        name=check_name(name),
        email=email,
        password_hash=_hasher.hash(password),
        language=check_language(language),
        time_zone=check_time_zone(time_zone),
        created_at=now,
    )
    session.add(coach)
    await session.flush()
    log.info("coach %s added", coach.id)
    return coach


async def do_login(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    client: str,
    now: datetime,
    max_attempts: int,
    window: timedelta,
) -> Coach:
    """Verify a login. Failed attempts are counted per address and per client; past the
    limit every attempt is refused until the window has passed."""
    email = normalise_email(email)
    keys = [f"email:{email}", f"client:{client}"]
    failures = await queries.count_failed_logins(session, keys, now - window)
    if failures >= max_attempts:
        raise TooMany(
            "login_rate_limited",
            N_("Too many failed logins. Try again in %(minutes)s minutes."),
            minutes=max(1, int(window.total_seconds() // 60)),
        )
    coach = await queries.get_coach_by_email(session, email)
    try:
        _hasher.verify(coach.password_hash if coach else _DUMMY_HASH, password)
        ok = coach is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or coach is None:
        session.add_all(LoginAttempt(key=k, at=now) for k in keys)
        await session.commit()
        raise ActionError("login_failed", N_("E-mail address or password is wrong."))
    await session.execute(delete(LoginAttempt).where(LoginAttempt.key == keys[0]))
    if _hasher.check_needs_rehash(coach.password_hash):
        coach.password_hash = _hasher.hash(password)
    await session.commit()
    return coach


async def do_set_coach_language(session: AsyncSession, coach: Coach, language: str) -> None:
    coach.language = check_language(language)


async def do_create_api_token(
    session: AsyncSession, coach_id: int, name: str, now: datetime
) -> str:
    """Create an API token; the plain token is returned once and never stored."""
    token = new_token()
    session.add(
        ApiToken(coach_id=coach_id, name=check_name(name), token_hash=token_digest(token), created_at=now)
    )
    await session.flush()
    return token
