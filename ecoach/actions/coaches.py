"""Coach accounts: creation, language, API tokens (login: ``actions.login``)."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.audit import record_audit
from ecoach.core import zones
from ecoach.actions.errors import ActionError, Conflict, N_
from ecoach.actions.passwords import check_new_password, hash_now
from ecoach.core.tokens import new_token, token_digest
from ecoach.core.types import LANGUAGES
from ecoach.logbook import account_queries as aq
from ecoach.logbook import queries
from ecoach.logbook.models import ApiToken, Coach

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLES = ("coach", "admin")
TOKEN_SCOPES = ("read", "read-write")


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
    """A zone as typed ("Amsterdam", "Nederland", "Europe/Amsterdam") to its IANA name."""
    found = zones.resolve(zone[:100]) if isinstance(zone, str) else None
    try:
        if found is None or len(found) > 64:  # the column's width
            raise ValueError(zone)
        ZoneInfo(found)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ActionError("time_zone_invalid", N_("Unknown time zone '%(zone)s'. Type a big city near you or "
                                                  "your country, e.g. Amsterdam or Nederland."),
                          zone=str(zone)[:64]) from None
    return found


async def do_add_coach(
    session: AsyncSession,
    *,
    name: str,
    email: str,
    password: str | None,
    language: str,
    time_zone: str,
    now: datetime,
    role: str | None = None,
) -> Coach:
    """Add a coach. ``password=None`` makes an invited coach, who sets a password from the
    invitation link. The first coach is the administrator unless ``role`` says otherwise."""
    email = check_email(email) or ""
    if password is not None:
        check_new_password(password, email=email)
    if await queries.get_coach_by_email(session, email):
        raise Conflict("coach_exists", N_("A coach with e-mail %(email)s exists already."), email=email)
    if role is None:
        role = "coach" if await aq.count_admins(session) else "admin"
    coach = Coach(
        name=check_name(name),
        email=email,
        password_hash=hash_now(password) if password is not None else "",
        language=check_language(language),
        time_zone=check_time_zone(time_zone),
        created_at=now,
        role=check_role(role),
    )
    session.add(coach)
    await session.flush()
    log.info("coach %s added (%s)", coach.id, coach.role)
    record_audit(session, "coach_added", coach_id=coach.id, now=now, role=coach.role, invited=password is None)
    return coach


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ActionError("role_invalid", N_("A role is 'coach' or 'admin'."))
    return role


async def do_set_coach_language(session: AsyncSession, coach: Coach, language: str) -> None:
    coach.language = check_language(language)


async def do_create_api_token(
    session: AsyncSession, coach_id: int, name: str, now: datetime, scope: str = "read-write"
) -> str:
    """Create an API token; the plain token is returned once and never stored."""
    if scope not in TOKEN_SCOPES:
        raise ActionError("token_scope_invalid", N_("A token's scope is 'read' or 'read-write'."))
    token = new_token()
    row = ApiToken(coach_id=coach_id, name=check_name(name), token_hash=token_digest(token), created_at=now,
                   scope=scope)
    session.add(row)
    await session.flush()
    record_audit(session, "api_token_created", coach_id=coach_id, now=now, token=row.id, scope=scope)
    return token
