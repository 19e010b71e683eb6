"""One booked session, for the coachee behind its link (``/booking/<token>``): what, when,
where, how to reach the coach, an ``.ics`` file to add it to a calendar, and behind their
own buttons moving it (pick → summary → confirm, ``/move``) and cancelling it (asks first).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from aiohttp import web

from ecoach.actions.booking import do_cancel, do_reschedule
from ecoach.actions.booking_notices import FEED_DESCRIPTION, calendar_event, place_line
from ecoach.actions.booking_offer import check_manage_token, parse_start
from ecoach.actions.errors import ActionError
from ecoach.actions.unit import unit_of_work
from ecoach.core.i18n import gettext_for as catalogue
from ecoach.core.ics import feed
from ecoach.logbook import booking_queries as bq
from ecoach.logbook import queries
from ecoach.logbook.booking_models import Booking
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.web.booking import context_of, page_state, pick_zone, when_local
from ecoach.web.confirm import confirm_page
from ecoach.web.render import gettext_for, page_language, render, set_language


async def _managed(request: web.Request, session) -> Booking:  # type: ignore[no-untyped-def]
    try:
        booking = await check_manage_token(session, request.match_info["token"], request.app[CLOCK].now())
    except ActionError as exc:
        if exc.language:
            set_language(request, exc.language)
        raise
    set_language(request, booking.language)
    return booking


async def _state(request: web.Request, *, move: bool, query: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The booking, its type, coach and contact, whether it can still change, and (on the
    move page) the free times to move to."""
    query = request.query if query is None else query
    now = request.app[CLOCK].now()
    cutoff = request.app[SETTINGS].booking.change_cutoff_hours
    async with request.app[SESSIONS]() as session:
        booking = await _managed(request, session)
        coach = await queries.get_coach(session, booking.coach_id)
        item = await bq.get_session_type(session, booking.coach_id, booking.session_type_id)
        profile = await bq.get_profile(session, booking.coach_id)
        assert coach is not None and item is not None
        open_for_change = booking.active and booking.starts_at - timedelta(hours=cutoff) > now
        changeable = booking.status == "confirmed" and open_for_change
        state = await page_state(request, session, coach, [item] if changeable and move else [],
                                 booking.attendee_time_zone, exclude_id=booking.id, query=query,
                                 hide=booking.starts_at)
    language = await page_language(request)
    return {**state, "booking": booking, "session_type": item, "coach_name": coach.name, "coach_email": coach.email,
            "coach_phone": profile.phone_number if profile else None, "token": request.match_info["token"],
            "changeable": changeable, "cancellable": open_for_change, "cutoff_hours": cutoff,
            "mail_enabled": request.app[SETTINGS].mail.enabled, "when": when_local(booking, state["zone"], language),
            "coach_when": when_local(booking, coach.time_zone, language)}


async def manage_page(request: web.Request, *, error: str | None = None, status: int = 200,
                      query: Mapping[str, str] | None = None, move: bool = False) -> web.StreamResponse:
    context = await _state(request, move=move, query=query)
    context.update(done=(request.query if query is None else query).get("done", ""), error=error)
    template = "booking_move.html" if move and context["changeable"] else "booking_manage.html"
    response = await render(request, template, context, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


async def show_manage_page(request: web.Request) -> web.StreamResponse:
    return await manage_page(request)


async def show_move_page(request: web.Request) -> web.StreamResponse:
    return await manage_page(request, move=True)


async def confirm_cancel(request: web.Request) -> web.StreamResponse:
    context = await _state(request, move=False)
    booking = context["booking"]
    token = context["token"]
    back = f"/booking/{token}?zone={context['zone']}"
    if not context["cancellable"]:
        raise web.HTTPSeeOther(back)
    when = f"{context['when']['day']}, {context['when']['start']}"
    key = "coachee_withdraw" if booking.status == "requested" else "coachee_cancel"
    return await confirm_page(request, key, action=f"/booking/{token}/cancel", back=back, coachee=True,
                              values={"what": context["session_type"].name, "when": when},
                              fields={"zone": context["zone"]})


async def change_booking(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    action = request.match_info["action"]
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            booking = await _managed(request, session)
            if action == "cancel":
                outcome = await do_cancel(session, context_of(request), booking, by="coachee")
            else:
                outcome = await do_reschedule(session, context_of(request), booking,
                                              parse_start(form.get("start", "")), by="coachee")
    except ActionError as exc:
        if exc.code.startswith("manage_link_"):
            raise
        return await manage_page(request, error=exc.translated(await gettext_for(request)), status=exc.status,
                                 query={"zone": str(form.get("zone", ""))}, move=action == "reschedule")
    zone = pick_zone(str(form.get("zone", "")), outcome.booking.attendee_time_zone)
    raise web.HTTPSeeOther(f"/booking/{request.match_info['token']}?zone={zone}&done={action}")


async def session_file(request: web.Request) -> web.StreamResponse:
    """The session as an .ics file to open in any calendar (no mail needed)."""
    async with request.app[SESSIONS]() as session:
        booking = await _managed(request, session)
        coach = await queries.get_coach(session, booking.coach_id)
        item = await bq.get_session_type(session, booking.coach_id, booking.session_type_id)
    assert coach is not None and item is not None
    _ = catalogue(booking.language)
    title = _(FEED_DESCRIPTION) % {"type": item.name, "name": coach.name}
    base = request.app[SETTINGS].base_url
    description = "\n".join(x for x in (place_line(booking, _), f"{base}/booking/{request.match_info['token']}") if x)
    event = calendar_event(booking, title, description, coach, booking.updated_at)
    body = feed([event] if booking.active else [], title)
    return web.Response(body=body, content_type="text/calendar", charset="utf-8",
                        headers={"Cache-Control": "no-store", "Content-Disposition": 'attachment; filename="session.ics"'})


def register(app: web.Application) -> None:
    app.router.add_get("/booking/{token}", show_manage_page)
    app.router.add_get("/booking/{token}/move", show_move_page)
    app.router.add_get("/booking/{token}/cancel", confirm_cancel)
    app.router.add_get("/booking/{token}/session.ics", session_file)
    app.router.add_post("/booking/{token}/{action:cancel|reschedule}", change_booking)
