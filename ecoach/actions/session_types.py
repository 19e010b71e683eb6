"""What a coach offers to book: session types, the meeting room and phone number, the
booking links (public intake page, private per engagement) and the calendar feed."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.core.inputs import parse_int
from ecoach.actions.audit import record_audit
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.channels.video import CHANNELS, MeetingError, check_phone, check_room_url
from ecoach.core.tokens import derived_token, looks_like_token, new_salt, token_digest
from ecoach.logbook import booking_queries as bq
from ecoach.logbook.booking_models import BookingLink, BookingProfile, SessionType
from ecoach.logbook.models import Coach, Engagement

log = logging.getLogger(__name__)

# (field, lowest, highest, message) of the whole-number settings of a session type.
NUMBERS = (
    ("duration_minutes", 5, 600, N_("The duration must be %(low)s to %(high)s minutes.")),
    ("buffer_before_minutes", 0, 240, N_("The buffer before must be %(low)s to %(high)s minutes.")),
    ("buffer_after_minutes", 0, 240, N_("The buffer after must be %(low)s to %(high)s minutes.")),
    ("min_notice_minutes", 0, 60 * 24 * 60, N_("The minimum notice must be %(low)s to %(high)s minutes.")),
    ("max_per_day", 0, 50, N_("The maximum per day must be %(low)s to %(high)s (0: no limit).")),
    ("horizon_days", 1, 730, N_("How far ahead must be %(low)s to %(high)s days.")),
)
AVAILABILITY = ("sessions", "all")


def link_token(secret: str, purpose: str, salt: str) -> str:
    """A link the server can show again: HMAC of purpose and stored salt under the key."""
    return derived_token(secret, f"{purpose}:{salt}")


def _number(form: Mapping[str, Any], field: str, low: int, high: int, message: str) -> int:
    raw = str(form.get(field, "")).strip()
    number = parse_int(raw, low=low, high=high)
    if number is None:
        raise ActionError(f"session_type_{field}", message, low=low, high=high)
    return number


def check_session_type(form: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a session type from a form, checked."""
    name = " ".join(str(form.get("name", "")).split())
    if not name or len(name) > 200:
        raise ActionError("session_type_name", N_("A session type needs a name of at most 200 characters."))
    channel = str(form.get("channel", ""))
    if channel not in CHANNELS:
        raise ActionError("session_type_channel", N_("Choose video, phone or in person."))
    address = " ".join(str(form.get("address", "")).split())[:500] or None
    if channel == "in_person" and not address:
        raise ActionError("session_type_address", N_("A session in person needs an address."))
    availability = str(form.get("availability", "sessions"))
    if availability not in AVAILABILITY:
        raise ActionError("session_type_availability", N_("Unknown availability '%(value)s'."), value=availability)
    values: dict[str, Any] = {f: _number(form, f, low, high, msg) for f, low, high, msg in NUMBERS}
    values.update(name=name, channel=channel, address=address if channel == "in_person" else None,
                  availability=availability, intake=str(form.get("intake", "")) in ("1", "on", "true"))
    return values


async def do_save_session_type(session: AsyncSession, coach: Coach, values: dict[str, Any], *,
                               type_id: int | None, now: datetime) -> SessionType:
    if type_id is None:
        item = SessionType(coach_id=coach.id, created_at=now, active=True, **values)
        session.add(item)
    else:
        found = await bq.get_session_type(session, coach.id, type_id)
        if found is None:
            raise NotFound("session_type_unknown", N_("This session type does not exist."))
        item = found
        for key, value in values.items():
            setattr(item, key, value)
    await session.flush()
    record_audit(session, "session_type_changed", coach_id=coach.id, now=now, session_type=item.id,
                 created=type_id is None)
    return item


async def do_set_session_type_active(session: AsyncSession, coach: Coach, type_id: int, active: bool, *,
                                     now: datetime) -> None:
    """Archived types are not offered any more; booked sessions of them stay as they are."""
    item = await bq.get_session_type(session, coach.id, type_id)
    if item is None:
        raise NotFound("session_type_unknown", N_("This session type does not exist."))
    item.active = active
    record_audit(session, "session_type_changed", coach_id=coach.id, now=now, session_type=type_id, active=active)


async def get_or_create_profile(session: AsyncSession, coach_id: int, now: datetime) -> BookingProfile:
    profile = await bq.get_profile(session, coach_id)
    if profile is None:
        profile = BookingProfile(coach_id=coach_id, video_provider="template", updated_at=now)
        session.add(profile)
        await session.flush()
    return profile


async def do_save_profile(session: AsyncSession, coach: Coach, form: Mapping[str, Any], now: datetime) -> BookingProfile:
    provider = str(form.get("video_provider", "template"))
    if provider not in ("template", "personal"):
        raise ActionError("video_provider", N_("Choose a new room per session or your personal room."))
    room = str(form.get("personal_room_url", "")).strip()
    phone = str(form.get("phone_number", "")).strip()
    try:
        room_url = check_room_url(room) if room else None
    except MeetingError:
        raise ActionError("room_url_invalid", N_("A meeting room must be an address starting with https://.")) from None
    if provider == "personal" and not room_url:
        raise ActionError("room_url_required", N_("Enter your personal meeting room to use it."))
    try:
        number = check_phone(phone) if phone else None
    except MeetingError:
        raise ActionError("phone_invalid", N_("A phone number has digits, optionally a leading + and spaces.")) from None
    profile = await get_or_create_profile(session, coach.id, now)
    profile.video_provider, profile.personal_room_url, profile.phone_number = provider, room_url, number
    profile.updated_at = now
    record_audit(session, "booking_profile_changed", coach_id=coach.id, now=now)
    return profile


async def do_new_feed_token(session: AsyncSession, coach: Coach, *, now: datetime, secret: str) -> str:
    """A new secret calendar feed URL; the previous one stops working at once."""
    profile = await get_or_create_profile(session, coach.id, now)
    profile.feed_salt = new_salt()
    token = link_token(secret, "feed", profile.feed_salt)
    profile.feed_token_hash = token_digest(token)
    profile.updated_at = now
    await session.flush()
    record_audit(session, "calendar_feed_created", coach_id=coach.id, now=now)
    return token


def feed_token_of(profile: BookingProfile | None, secret: str) -> str | None:
    if profile is None or not profile.feed_salt:
        return None
    return link_token(secret, "feed", profile.feed_salt)


async def check_feed_token(session: AsyncSession, token: str) -> BookingProfile:
    profile = await bq.get_profile_by_feed(session, token_digest(token)) if looks_like_token(token) else None
    if profile is None:
        raise NotFound("feed_unknown", N_("This calendar address is not valid (any more)."))
    return profile


async def do_new_booking_link(session: AsyncSession, coach_id: int, engagement_id: int | None, *,
                              now: datetime, days: int, secret: str) -> str:
    """Replace the booking link of an engagement (or the coach's public intake link)."""
    owner = (BookingLink.engagement_id.is_(None) if engagement_id is None
             else BookingLink.engagement_id == engagement_id)
    await session.execute(
        update(BookingLink)
        .where(BookingLink.coach_id == coach_id, owner, BookingLink.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    salt = new_salt()
    token = link_token(secret, "booking", salt)
    session.add(BookingLink(coach_id=coach_id, engagement_id=engagement_id, token_hash=token_digest(token),
                            salt=salt, created_at=now, expires_at=now + timedelta(days=days) if days else None))
    await session.flush()
    record_audit(session, "booking_link_created", coach_id=coach_id, engagement_id=engagement_id, now=now,
                 intake=engagement_id is None)
    return token


def booking_token_of(link: BookingLink | None, secret: str) -> str | None:
    return link_token(secret, "booking", link.salt) if link is not None else None


async def check_booking_link(session: AsyncSession, token: str, now: datetime
                             ) -> tuple[BookingLink, Engagement | None]:
    """The link and its engagement (None for the public intake page), or why not."""
    link = await bq.get_booking_link(session, token_digest(token)) if looks_like_token(token) else None
    if link is None:
        raise NotFound("booking_link_unknown", N_("This booking link is not valid. Ask your coach for a new link."))
    engagement = await session.get(Engagement, link.engagement_id) if link.engagement_id else None
    error = None
    if link.revoked_at is not None:
        error = NotFound("booking_link_revoked",
                         N_("This booking link has been replaced. Ask your coach for the new link."))
    elif link.expires_at is not None and link.expires_at <= now:
        error = NotFound("booking_link_expired", N_("This booking link has expired. Ask your coach for a new link."))
    if error is not None:
        error.language = engagement.language if engagement else None
        raise error
    return link, engagement
