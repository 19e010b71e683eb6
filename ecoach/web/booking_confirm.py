"""The coach's confirmation pages for sessions (GET beside each destructive POST, for
browsers without JavaScript; see web/confirm.py): cancelling a session, declining an
intake request, replacing the intake page's address or the calendar feed's."""

from __future__ import annotations

from aiohttp import web

from ecoach.actions.errors import N_, NotFound
from ecoach.logbook import booking_queries as bq
from ecoach.keys import CLOCK, SESSIONS
from ecoach.web.booking import when_local
from ecoach.web.confirm import confirm_page
from ecoach.web.params import path_id
from ecoach.web.render import page_language
from ecoach.web.security import get_coach, require_coach


async def _booking_values(request: web.Request) -> tuple[dict[str, str], int | None]:
    coach = get_coach(request)
    async with request.app[SESSIONS]() as session:
        booking = await bq.get_booking(session, coach.id, path_id(request))
        if booking is None:
            raise NotFound("booking_unknown", N_("This session does not exist."))
        item = await bq.get_session_type(session, coach.id, booking.session_type_id)
    when = when_local(booking, coach.time_zone, await page_language(request))
    values = {"what": item.name if item else "", "when": f"{when['day']}, {when['start']}",
              "name": booking.attendee_name}
    return values, booking.engagement_id


@require_coach
async def confirm_cancel(request: web.Request) -> web.StreamResponse:
    values, engagement_id = await _booking_values(request)
    back = f"/engagements/{engagement_id}#sessions" if engagement_id else "/sessions"
    return await confirm_page(request, "cancel_session", action=f"/sessions/bookings/{path_id(request)}/cancel",
                              back=back, values=values)


@require_coach
async def confirm_decline(request: web.Request) -> web.StreamResponse:
    values, _engagement = await _booking_values(request)
    return await confirm_page(request, "decline_request", action=f"/sessions/requests/{path_id(request)}/decline",
                              back="/sessions#requests", values=values)


@require_coach
async def confirm_new_feed(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        profile = await bq.get_profile(session, get_coach(request).id)
    if profile is None or profile.feed_token_hash is None:
        raise web.HTTPSeeOther("/sessions#calendar-feed")
    return await confirm_page(request, "new_feed", action="/sessions/feed", back="/sessions#calendar-feed")


@require_coach
async def confirm_new_public_link(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        link = await bq.get_active_booking_link(session, get_coach(request).id, None, request.app[CLOCK].now())
    if link is None:  # nothing to replace
        raise web.HTTPSeeOther("/sessions#public-page")
    return await confirm_page(request, "new_public_link", action="/sessions/public-link", back="/sessions#public-page")


def register(app: web.Application) -> None:
    app.router.add_get("/sessions/bookings/{id}/cancel", confirm_cancel)
    app.router.add_get("/sessions/requests/{id}/decline", confirm_decline)
    app.router.add_get("/sessions/public-link", confirm_new_public_link)
    app.router.add_get("/sessions/feed", confirm_new_feed)
