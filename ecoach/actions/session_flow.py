"""The structure around every booked session, as scheduled work: the check-in goes to
the coachee ``sessions.checkin_before`` ahead, and after the session (plus
``sessions.feedback_after_minutes``) the feedback form goes out and, after every
``sessions.review_every``-th session, the coach is asked to review the goals.

Scheduled together with the booking's own tasks (``ecoach.actions.booking_tasks``), keyed
``session-checkin:<booking>`` and ``session-after:<booking>``: a moved session moves them,
a cancelled one removes them. The handlers (``ecoach.scheduler.sessions``) do nothing for
a session that is gone, moved past them, or whose form was sent already.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import reviews
from ecoach.actions.errors import Conflict, N_, NotFound
from ecoach.actions.form_links import SentForm, do_send_form
from ecoach.logbook import booking_queries as bq
from ecoach.logbook import session_queries
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.models import Coach, Engagement
from ecoach.logbook.session_models import SessionReview
from ecoach.logbook.tasks import cancel_tasks, schedule_task
from ecoach.settings import Settings

log = logging.getLogger(__name__)

CHECKIN_TASK = "sessions.checkin"
AFTER_TASK = "sessions.after"


def checkin_key(booking_id: int) -> str:
    return f"session-checkin:{booking_id}"


def after_key(booking_id: int) -> str:
    return f"session-after:{booking_id}"


async def schedule_structure_tasks(session: AsyncSession, booking: Booking, settings: Settings,
                                   now: datetime) -> None:
    """The check-in before the session and the feedback (and review) after it; a session
    booked inside the check-in time gets its check-in at once."""
    if booking.status != "confirmed" or booking.engagement_id is None:
        await cancel_tasks(session, key=checkin_key(booking.id))
        await cancel_tasks(session, key=after_key(booking.id))
        return
    if booking.starts_at > now:
        due = max(now, booking.starts_at - timedelta(minutes=settings.sessions.checkin_minutes))
        await schedule_task(session, CHECKIN_TASK, due, {"booking_id": booking.id}, key=checkin_key(booking.id),
                            now=now)
    after = booking.ends_at + timedelta(minutes=settings.sessions.feedback_after_minutes)
    await schedule_task(session, AFTER_TASK, after, {"booking_id": booking.id}, key=after_key(booking.id), now=now)


async def _session_of(session: AsyncSession, booking_id: int) -> tuple[Booking, Engagement] | None:
    booking = await session.get(Booking, booking_id)
    if booking is None or booking.status != "confirmed" or booking.engagement_id is None:
        return None
    engagement = await session.get(Engagement, booking.engagement_id)
    assert engagement is not None
    return booking, engagement


async def do_send_checkin(session: AsyncSession, booking_id: int, *, settings: Settings,
                          now: datetime) -> SentForm | None:
    """The check-in of an upcoming session, once (a coach may send it again by hand)."""
    found = await _session_of(session, booking_id)
    if found is None:
        return None
    booking, engagement = found
    if booking.starts_at <= now or engagement.status != "active":
        return None
    if await session_queries.get_current_form(session, engagement.id, "checkin", booking_id=booking.id):
        return None
    return await do_send_form(session, engagement, kind="checkin", booking=booking, settings=settings, now=now)


async def do_after_session(session: AsyncSession, booking_id: int, *, settings: Settings,
                           now: datetime) -> tuple[SentForm | None, SessionReview | None]:
    """After the session: the feedback form (once) and, every n-th session, the review."""
    found = await _session_of(session, booking_id)
    if found is None:
        return None, None
    booking, engagement = found
    if booking.ends_at > now:
        return None, None  # moved later meanwhile: its own task comes then
    sent = None
    if engagement.status == "active" and not await session_queries.get_current_form(
            session, engagement.id, "feedback", booking_id=booking.id):
        sent = await do_send_form(session, engagement, kind="feedback", booking=booking, settings=settings, now=now)
    review = None
    every = settings.sessions.review_every
    if every and engagement.status != "closed":
        number = await session_queries.count_sessions_held(session, engagement.id, booking.ends_at)
        if number and number % every == 0:
            review = await reviews.do_open_review(session, engagement, booking, number, now=now)
    return sent, review


async def do_send_session_form(session: AsyncSession, coach: Coach, booking_id: int, kind: str, *,
                               settings: Settings, now: datetime) -> SentForm:
    """The coach sends a session's check-in or feedback form (again): a new link that
    replaces the one sent before."""
    booking = await bq.get_booking(session, coach.id, booking_id)
    if booking is None or booking.engagement_id is None or kind not in ("checkin", "feedback"):
        raise NotFound("booking_unknown", N_("This session does not exist."))
    if booking.status != "confirmed":
        raise Conflict("session_not_confirmed", N_("This session is not booked (any more)."))
    if kind == "checkin" and booking.ends_at <= now:
        raise Conflict("checkin_too_late", N_("This session is over: a check-in is no longer useful."))
    if kind == "feedback" and booking.starts_at > now:
        raise Conflict("feedback_too_early", N_("Feedback can be asked once the session has started."))
    engagement = await session.get(Engagement, booking.engagement_id)
    assert engagement is not None
    return await do_send_form(session, engagement, kind=kind, booking=booking, settings=settings, now=now)
