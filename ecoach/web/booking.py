"""Booking pages for coachees: ``/book/<token>`` (the coach's public intake page or an
engagement's private link), ``/booking/<token>`` (see, reschedule or cancel one
session) and the coach's secret calendar feed ``/calendar/<token>.ics``.

Times are shown in the booker's zone: the ``zone`` query parameter (a select that works
without JavaScript), which ``booking.js`` sets from the browser's own zone on the first
visit; the coach's zone is shown alongside.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from functools import cache
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from aiohttp import web
from babel.dates import format_date, format_time

from ecoach.actions.booking import BookingContext, do_book_from_link, do_cancel, do_reschedule
from ecoach.actions.booking_notices import coach_feed
from ecoach.actions.bundles import Rules, booking_refused
from ecoach.actions.booking_offer import Offer, check_manage_token, get_offer, parse_start
from ecoach.actions.errors import ActionError
from ecoach.actions.session_types import check_booking_link, check_feed_token
from ecoach.actions.unit import unit_of_work
from ecoach.core.slots import by_day
from ecoach.logbook import booking_queries as bq
from ecoach.logbook import queries
from ecoach.logbook.booking_models import Booking, SessionType
from ecoach.logbook.models import Coach
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.web.render import gettext_for, page_language, render, set_language

log = logging.getLogger(__name__)


@cache
def zone_names() -> tuple[str, ...]:
    return tuple(sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))))


def pick_zone(value: str | None, default: str) -> str:
    return value if value and (value in zone_names() or value == "UTC") else default


def context_of(request: web.Request) -> BookingContext:
    settings = request.app[SETTINGS]
    return BookingContext(settings, request.app[CLOCK].now(), settings.secret)


def slot_days(offer: Offer, zone: str, coach_zone: str, language: str, first: date | None,
              days: int, hide: datetime | None = None) -> tuple[list[dict[str, Any]], date | None, date | None]:
    """One page of free slots grouped by the booker's dates: (days, earlier, later)."""
    tz, coach_tz = ZoneInfo(zone), ZoneInfo(coach_zone)
    grouped = by_day((s for s in offer.slots if s.start != hide), tz)
    start = next((i for i, (day, _) in enumerate(grouped) if first is None or day >= first), len(grouped))
    page = grouped[start:start + days]
    shown = []
    for day, slots in page:
        label = format_date(day, "EEEE d MMMM", locale=language)
        shown.append({
            "label": label[:1].upper() + label[1:],
            "slots": [{"value": s.start.isoformat(),
                       "time": format_time(s.start.astimezone(tz), "HH:mm", locale=language),
                       "coach_time": format_time(s.start.astimezone(coach_tz), "HH:mm", locale=language)}
                      for s in slots],
        })
    earlier = grouped[max(0, start - days)][0] if start > 0 else None
    later = grouped[start + days][0] if start + days < len(grouped) else None
    return shown, earlier, later


def _first_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def when_local(booking: Booking, zone: str, language: str) -> dict[str, str]:
    tz = ZoneInfo(zone)
    return {"day": format_date(booking.starts_at.astimezone(tz), "EEEE d MMMM y", locale=language),
            "start": format_time(booking.starts_at.astimezone(tz), "HH:mm", locale=language),
            "end": format_time(booking.ends_at.astimezone(tz), "HH:mm", locale=language)}


async def page_state(request: web.Request, session, coach: Coach, types: list[SessionType],  # type: ignore[no-untyped-def]
                     default_zone: str, exclude_id: int | None = None,
                     query: Mapping[str, str] | None = None, hide: datetime | None = None) -> dict[str, Any]:
    """The chosen session type, zone and one page of its free slots."""
    query = request.query if query is None else query
    chosen = next((t for t in types if str(t.id) == query.get("type")), types[0] if types else None)
    zone = pick_zone(query.get("zone"), default_zone)
    language = await page_language(request)
    state: dict[str, Any] = {"types": types, "chosen": chosen, "zone": zone, "zones": zone_names(),
                             "zone_given": bool(query.get("zone")),
                             "coach_zone": coach.time_zone, "days": [], "earlier": None, "later": None}
    if chosen is not None:
        offer = await get_offer(session, chosen, now=request.app[CLOCK].now(), exclude_id=exclude_id,
                                step_minutes=request.app[SETTINGS].booking.slot_step_minutes)
        state["days"], state["earlier"], state["later"] = slot_days(
            offer, zone, coach.time_zone, language, _first_day(query.get("from")),
            request.app[SETTINGS].booking.days_per_page, hide)
    return state


async def booking_page(request: web.Request, *, error: str | None = None, status: int = 200,
                       form: dict[str, str] | None = None, query: Mapping[str, str] | None = None
                       ) -> web.StreamResponse:
    query = request.query if query is None else query
    token = request.match_info["token"]
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        try:
            link, engagement = await check_booking_link(session, token, now)
        except ActionError as exc:
            if exc.language:
                set_language(request, exc.language)
            raise
        if engagement is not None:
            set_language(request, engagement.language)
        coach = await queries.get_coach(session, link.coach_id)
        assert coach is not None
        types = await bq.get_session_types(session, coach.id, intake=True if engagement is None else None)
        default_zone = engagement.time_zone if engagement is not None else coach.time_zone
        refused = engagement is not None and await booking_refused(
            session, engagement, request.app[CLOCK].now(), Rules.of(request.app[SETTINGS].billing))
        state = await page_state(request, session, coach, [] if refused else types, default_zone, query=query)
    picked = query.get("start") if engagement is None else None
    # A used-up package is said once, plainly (the include), instead of the free times.
    context = {**state, "coach_name": coach.name, "token": token, "intake": engagement is None,
               "refused": refused, "error": None if refused else error, "form": form or {},
               "picked": _picked(picked, state, await page_language(request))}
    response = await render(request, "booking.html", context, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _picked(value: str | None, state: dict[str, Any], language: str) -> dict[str, str] | None:
    """The slot an intake visitor clicked, shown above the details form."""
    if not value:
        return None
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        return None
    if start.tzinfo is None or state["chosen"] is None:
        return None
    tz = ZoneInfo(state["zone"])
    end = start + timedelta(minutes=state["chosen"].duration_minutes)
    return {"value": value, "day": format_date(start.astimezone(tz), "EEEE d MMMM y", locale=language),
            "start": format_time(start.astimezone(tz), "HH:mm", locale=language),
            "end": format_time(end.astimezone(tz), "HH:mm", locale=language)}


async def show_booking_page(request: web.Request) -> web.StreamResponse:
    return await booking_page(request)


async def submit_booking(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    fields = {k: str(form.get(k, "")) for k in ("type", "start", "zone", "name", "email", "message")}
    language = await page_language(request)
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            outcome = await do_book_from_link(
                session, context_of(request), request.match_info["token"], type_id=fields["type"],
                start=fields["start"], zone=pick_zone(fields["zone"], "UTC"), language=language,
                name=fields["name"], email=fields["email"], message=fields["message"])
    except ActionError as exc:
        if exc.code.startswith(("booking_link_", "engagement_")):
            raise
        # Back to the page with the reason and fresh slots (the same type and zone); a
        # refused name or address keeps the picked time and what was typed.
        details = exc.code.startswith(("email", "name", "intake"))
        query = {"type": fields["type"], "zone": fields["zone"], **({"start": fields["start"]} if details else {})}
        return await booking_page(request, error=exc.translated(await gettext_for(request)), status=exc.status,
                                  form=fields, query=query)
    zone = outcome.booking.attendee_time_zone
    raise web.HTTPSeeOther(f"/booking/{outcome.manage_token}?zone={zone}&done=1")


async def _managed(request: web.Request, session) -> Booking:  # type: ignore[no-untyped-def]
    try:
        booking = await check_manage_token(session, request.match_info["token"], request.app[CLOCK].now())
    except ActionError as exc:
        if exc.language:
            set_language(request, exc.language)
        raise
    set_language(request, booking.language)
    return booking


async def manage_page(request: web.Request, *, error: str | None = None, status: int = 200,
                      query: Mapping[str, str] | None = None) -> web.StreamResponse:
    query = request.query if query is None else query
    now = request.app[CLOCK].now()
    cutoff = request.app[SETTINGS].booking.change_cutoff_hours
    async with request.app[SESSIONS]() as session:
        booking = await _managed(request, session)
        coach = await queries.get_coach(session, booking.coach_id)
        item = await bq.get_session_type(session, booking.coach_id, booking.session_type_id)
        assert coach is not None and item is not None
        changeable = (booking.status == "confirmed" and booking.starts_at - timedelta(hours=cutoff) > now)
        cancellable = booking.active and booking.starts_at - timedelta(hours=cutoff) > now
        state = await page_state(request, session, coach, [item] if changeable else [], booking.attendee_time_zone,
                                 exclude_id=booking.id, query=query, hide=booking.starts_at)
    language = await page_language(request)
    context = {**state, "booking": booking, "session_type": item, "coach_name": coach.name,
               "token": request.match_info["token"], "done": query.get("done", ""),
               "changeable": changeable, "cancellable": cancellable, "cutoff_hours": cutoff, "error": error,
               "mail_enabled": request.app[SETTINGS].mail.enabled,
               "when": when_local(booking, state["zone"], language),
               "coach_when": when_local(booking, coach.time_zone, language)}
    response = await render(request, "booking_manage.html", context, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


async def show_manage_page(request: web.Request) -> web.StreamResponse:
    return await manage_page(request)


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
                                 query={"zone": str(form.get("zone", ""))})
    zone = pick_zone(str(form.get("zone", "")), outcome.booking.attendee_time_zone)
    raise web.HTTPSeeOther(f"/booking/{request.match_info['token']}?zone={zone}&done={action}")


async def calendar_feed(request: web.Request) -> web.StreamResponse:
    """The coach's secret subscription URL: every current session, for any calendar app."""
    async with request.app[SESSIONS]() as session:
        profile = await check_feed_token(session, request.match_info["token"])
        body = await coach_feed(session, profile.coach_id, request.app[SETTINGS], request.app[CLOCK].now())
    return web.Response(body=body, content_type="text/calendar", charset="utf-8",
                        headers={"Cache-Control": "no-cache", "Content-Disposition": 'inline; filename="ecoach.ics"'})


def register(app: web.Application) -> None:
    app.router.add_get("/book/{token}", show_booking_page)
    app.router.add_post("/book/{token}", submit_booking)
    app.router.add_get("/booking/{token}", show_manage_page)
    app.router.add_post("/booking/{token}/{action:cancel|reschedule}", change_booking)
    app.router.add_get("/calendar/{token:[A-Za-z0-9_-]+}.ics", calendar_feed)
