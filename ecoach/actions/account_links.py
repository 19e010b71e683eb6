"""Password reset and invitation links: single-use, short-lived, mailed to the coach.

Asking for a reset answers the same whether or not the address belongs to a coach: the
mail goes out (through the outbox) only when it does. A new link replaces earlier unused
ones; using one is an atomic update, so a link works once even when clicked twice at once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.audit import record_audit
from ecoach.actions.coaches import normalise_email
from ecoach.actions.errors import N_, NotFound
from ecoach.actions.mail_outbox import do_enqueue_mail
from ecoach.core.i18n import gettext_for
from ecoach.core.mail.compose import compose_mail
from ecoach.core.tokens import looks_like_token, new_token, token_digest
from ecoach.logbook import account_queries as aq
from ecoach.logbook import queries
from ecoach.logbook.account_models import AccountLink
from ecoach.logbook.models import Coach
from ecoach.settings import Settings

log = logging.getLogger(__name__)

RESET = "reset"
INVITE = "invite"
RESET_SUBJECT = N_("Set a new password for ecoach")
RESET_BODY = N_(
    "Hello %(name)s,\n\nSomeone (probably you) asked to set a new password for your ecoach account. "
    "Choose one here within %(minutes)s minutes:\n\n%(url)s\n\n"
    "Did you not ask for this? Then ignore this mail: your password stays as it is."
)
INVITE_SUBJECT = N_("You are invited to coach with ecoach")
INVITE_BODY = N_(
    "Hello %(name)s,\n\n%(inviter)s invited you to the coaching practice on ecoach. "
    "Choose your password here within %(days)s days:\n\n%(url)s"
)


def _invalid() -> NotFound:
    return NotFound("link_invalid", N_("This link is not valid any more. Ask for a new one."))


async def do_create_link(session: AsyncSession, coach_id: int, purpose: str, *, now: datetime,
                         lifetime: timedelta) -> str:
    await session.execute(update(AccountLink).where(
        AccountLink.coach_id == coach_id, AccountLink.purpose == purpose, AccountLink.used_at.is_(None)
    ).values(used_at=now))
    token = new_token()
    session.add(AccountLink(coach_id=coach_id, purpose=purpose, token_hash=token_digest(token),
                            created_at=now, expires_at=now + lifetime))
    await session.flush()
    return token


async def check_link(session: AsyncSession, token: str, purpose: str, now: datetime) -> tuple[AccountLink, Coach]:
    if not looks_like_token(token):
        raise _invalid()
    link = await aq.get_account_link(session, token_digest(token), purpose)
    coach = await queries.get_coach(session, link.coach_id) if link else None
    if link is None or coach is None or link.used_at is not None or link.expires_at <= now:
        raise _invalid()
    if coach.deactivated_at is not None:
        raise _invalid()
    return link, coach


async def do_use_link(session: AsyncSession, link: AccountLink, now: datetime) -> None:
    """Mark the link used; a second use at the same moment finds it used."""
    result = await session.execute(update(AccountLink).where(
        AccountLink.id == link.id, AccountLink.used_at.is_(None)).values(used_at=now))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise _invalid()


async def do_request_reset(session: AsyncSession, settings: Settings, email: str, *, now: datetime) -> bool:
    """Queue a reset mail when the address is an active coach's (queueing wakes the
    outbox after commit). Returns whether a mail was queued (never shown to the visitor);
    the coach's audit trail notes the request."""
    coach = await queries.get_coach_by_email(session, normalise_email(email)[:320])
    if coach is None or coach.deactivated_at is not None or not settings.mail.enabled:
        log.info("password reset asked for an address that gets no mail")
        return False
    minutes = settings.accounts.reset_token_minutes
    token = await do_create_link(session, coach.id, RESET, now=now, lifetime=timedelta(minutes=minutes))
    _ = gettext_for(coach.language)
    values = {"name": coach.name, "minutes": minutes, "url": f"{settings.base_url}/password/reset/{token}"}
    await _queue(session, settings, coach, _(RESET_SUBJECT), _(RESET_BODY) % values, now=now)
    record_audit(session, "reset_link_requested", coach_id=coach.id, actor_id=None, now=now)
    return True


async def do_invite_mail(session: AsyncSession, settings: Settings, coach: Coach, inviter: Coach, *,
                         now: datetime) -> str:
    """Create the invitation link and queue its mail (when mail is enabled); returns the URL
    so the administrator can pass it on another way."""
    days = settings.accounts.invite_days
    token = await do_create_link(session, coach.id, INVITE, now=now, lifetime=timedelta(days=days))
    url = f"{settings.base_url}/invite/{token}"
    if settings.mail.enabled:
        _ = gettext_for(coach.language)
        values = {"name": coach.name, "inviter": inviter.name, "days": days, "url": url}
        await _queue(session, settings, coach, _(INVITE_SUBJECT), _(INVITE_BODY) % values, now=now)
    return url


async def _queue(session: AsyncSession, settings: Settings, coach: Coach, subject: str, text: str, *,
                 now: datetime) -> None:
    mail = settings.mail
    message, message_id = compose_mail(
        from_name="ecoach", from_address=mail.sender, to_address=coach.email, to_name=coach.name,
        reply_to=mail.sender, subject=subject, text=text, html=None, message_id_domain=mail.domain,
        in_reply_to=None, references=[], auto="auto-generated", date=now,
    )
    await do_enqueue_mail(session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
                          recipient=coach.email, kind="account", now=now)
