"""Engagements: create, pause, resume, close; the coachee's chat link."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.audit import record_audit
from ecoach.actions.coaches import check_email, check_language, check_name, check_time_zone
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.unit import emit
from ecoach.core import topics
from ecoach.core.tokens import derived_token, looks_like_token, new_salt, new_token, token_digest
from ecoach.core.types import EngagementStatus
from ecoach.logbook import queries
from ecoach.logbook.models import ChatLink, Coach, Coachee, Engagement

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewEngagement:
    engagement: Engagement
    coachee: Coachee
    chat_token: str


async def do_create_engagement(
    session: AsyncSession,
    coach: Coach,
    *,
    coachee_name: str,
    coachee_email: str = "",
    language: str | None = None,
    time_zone: str | None = None,
    sponsor_name: str = "",
    sponsor_email: str = "",
    now: datetime,
    link_days: int = 0,
    secret: str | None = None,
) -> NewEngagement:
    language = check_language(language or coach.language)
    coachee = Coachee(
        coach_id=coach.id,
        name=check_name(coachee_name),
        email=check_email(coachee_email, required=False),
        language=language,
        created_at=now,
    )
    session.add(coachee)
    await session.flush()
    engagement = Engagement(
        coach_id=coach.id,
        coachee_id=coachee.id,
        sponsor_name=" ".join(sponsor_name.split()) or None,
        sponsor_email=check_email(sponsor_email, required=False),
        language=language,
        time_zone=check_time_zone(time_zone or coach.time_zone),
        status=EngagementStatus.active.value,
        created_at=now,
        last_exchange_at=now,
        unread_count=0,
    )
    session.add(engagement)
    await session.flush()
    token = await do_new_chat_link(session, engagement, now=now, days=link_days, secret=secret)
    log.info("engagement %s created for coach %s", engagement.id, coach.id)
    return NewEngagement(engagement, coachee, token)


async def do_new_chat_link(
    session: AsyncSession, engagement: Engagement, *, now: datetime, days: int = 0,
    secret: str | None = None,
) -> str:
    """Revoke the current chat link(s) and issue a new one; returns the plain token.
    With ``secret`` the token is derived from it, so it can be shown again later."""
    replaced = await _revoke_chat_links(session, engagement, now=now)
    salt = new_salt() if secret else None
    token = derived_token(secret, salt) if secret and salt else new_token()
    session.add(
        ChatLink(
            engagement_id=engagement.id,
            token_hash=token_digest(token),
            created_at=now,
            expires_at=now + timedelta(days=days) if days else None,
            salt=salt,
        )
    )
    await session.flush()
    record_audit(session, "chat_link_created", coach_id=engagement.coach_id, engagement_id=engagement.id,
                 now=now, replaced=replaced > 0)
    return token


async def do_revoke_chat_links(session: AsyncSession, engagement: Engagement, *, now: datetime) -> None:
    """Withdraw the engagement's chat link(s); after commit every coachee socket opened
    with one is closed, in every server process."""
    if await _revoke_chat_links(session, engagement, now=now):
        record_audit(session, "chat_link_revoked", coach_id=engagement.coach_id, engagement_id=engagement.id,
                     now=now)


async def _revoke_chat_links(session: AsyncSession, engagement: Engagement, *, now: datetime) -> int:
    revoked = await session.execute(
        update(ChatLink)
        .where(ChatLink.engagement_id == engagement.id, ChatLink.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(ChatLink.token_hash)
        .execution_options(synchronize_session=False)
    )
    digests = list(revoked.scalars())
    if digests:
        emit(session, [topics.chat_link(digest) for digest in digests], {"type": "revoked"})
    return len(digests)


async def check_chat_token(session: AsyncSession, token: str, now: datetime) -> tuple[ChatLink, Engagement]:
    """The link and its engagement, or a clear reason why the link does not work."""
    found = await queries.get_chat_link(session, token_digest(token)) if looks_like_token(token) else None
    if found is None:
        raise NotFound("chat_link_unknown", N_("This chat link is not valid. Ask your coach for a new link."))
    link, engagement = found
    error = None
    if link.revoked_at is not None:
        error = NotFound(
            "chat_link_revoked",
            N_("This chat link has been replaced or withdrawn. Ask your coach for the new link."),
        )
    elif link.expires_at is not None and link.expires_at <= now:
        error = NotFound("chat_link_expired", N_("This chat link has expired. Ask your coach for a new link."))
    if error is not None:
        error.language = engagement.language  # the coachee reads it in their own language
        raise error
    return link, engagement


_TRANSITIONS = {
    "pause": ({"active"}, "paused"),
    "resume": ({"paused"}, "active"),
    "close": ({"active", "paused"}, "closed"),
    "reopen": ({"closed"}, "active"),
}


async def do_change_status(
    session: AsyncSession, engagement: Engagement, action: str, *, now: datetime
) -> Engagement:
    """Pause, resume, close or reopen (a closed engagement, as it was: the logbook, links
    and plan stay); the coach's pages and the coachee's chat hear it after commit."""
    if action not in _TRANSITIONS:
        raise ActionError("status_action_unknown", N_("Unknown action '%(action)s'."), action=action)
    allowed, target = _TRANSITIONS[action]
    if engagement.status not in allowed:
        raise ActionError(
            "status_transition",
            N_("An engagement that is %(status)s cannot be changed this way."),
            status=engagement.status,
        )
    engagement.status = target
    if target == "paused":
        engagement.paused_at = now
    elif target == "closed":
        engagement.closed_at = now
    elif target == "active":
        engagement.paused_at = None
        engagement.closed_at = None
    await session.flush()
    emit(session, [topics.engagement(engagement.id), topics.coach(engagement.coach_id)],
         {"type": "status", "engagement_id": engagement.id, "status": target})
    return engagement


def chat_token_of(link: ChatLink, secret: str) -> str | None:
    """The link's token again, if it was derived from the secret key."""
    return derived_token(secret, link.salt) if link.salt else None
