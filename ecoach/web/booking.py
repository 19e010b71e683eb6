"""Booking pages for coachees: ``/book/<token>`` (the coach's public intake page or an
engagement's private link) and the coach's secret calendar feed ``/calendar/<token>.ics``.

Booking is three steps, as in Cal.com and Calendly: pick a time (plain links), see a
summary of what will be booked, confirm (the only POST). Times are shown in the booker's
zone: the ``zone`` query parameter, typed as a city ("Amsterdam") or set by ``booking.js``
from the browser's own zone on the first visit; the coach's zone is shown alongside.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ecoach.actions.booking import BookingContext, do_book_from_link
from ecoach.actions.booking_notices import coach_feed
from ecoach.actions.bundles import Rules, booking_refused
from ecoach.actions.booking_offer import Offer, get_offer
from ecoach.actions.errors import ActionError
from ecoach.actions.session_types import check_booking_link, check_feed_token
from ecoach.actions.unit import unit_of_work
from ecoach.core import formats, zones
from ecoach.core.slots import by_day, find_slot
from ecoach.logbook import booking_queries as bq
from ecoach.logbook import queries
from ecoach.logbook.booking_models import Booking, BookingProfile, SessionType
from ecoach.logbook.models import Coach
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.web.render import gettext_for, page_language, render, set_language

log = logging.getLogger(__name__)


def pick_zone(value: str | None, default: str) -> str:
    return zones.resolve(value) or default


def context_of(request: web.Request) -> BookingContext:
    settings = request.app[SETTINGS]
    return BookingContext(settings, request.app[CLOCK].now(), settings.secret)


def bookable(types: list[SessionType], profile: BookingProfile | None) -> list[SessionType]:
    """The types a booker may pick: not a phone session without a number to call, nor a
    video session in a personal room that has no address yet."""
    phone = bool(profile and profile.phone_number)
    room = not (profile and profile.video_provider == "personal" and not profile.personal_room_url)
    return [t for t in types if (t.channel != "phone" or phone) and (t.channel != "video" or room)]


def slot_days(offer: Offer, zone: str, coach_zone: str, language: str, first: date | None,
              days: int, hide: datetime | None = None) -> tuple[list[dict[str, Any]], date | None, date | None]:
    """One page of free slots grouped by the booker's dates: (days, earlier, later)."""
    tz = ZoneInfo(zone)
    grouped = by_day((s for s in offer.slots if s.start != hide), tz)
    start = next((i for i, (day, _) in enumerate(grouped) if first is None or day >= first), len(grouped))
    shown = [{"label": _initial(formats.day(day, None, language, year=False)),
              "slots": [{"value": s.start.isoformat(), "time": formats.clock(s.start, zone, language),
                         "coach_time": formats.clock(s.start, coach_zone, language)} for s in slots]}
             for day, slots in grouped[start:start + days]]
    earlier = grouped[max(0, start - days)][0] if start > 0 else None
    later = grouped[start + days][0] if start + days < len(grouped) else None
    return shown, earlier, later


def _initial(text: str) -> str:
    return text[:1].upper() + text[1:]


def _first_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def when_local(booking: Booking, zone: str, language: str) -> dict[str, str]:
    return when_of(booking.starts_at, booking.ends_at, zone, language)


def when_of(start: datetime, end: datetime, zone: str, language: str) -> dict[str, str]:
    return {"day": formats.day(start, zone, language), "start": formats.clock(start, zone, language),
            "end": formats.clock(end, zone, language)}


async def page_state(request: web.Request, session, coach: Coach, types: list[SessionType],  # type: ignore[no-untyped-def]
                     default_zone: str, exclude_id: int | None = None,
                     query: Mapping[str, str] | None = None, hide: datetime | None = None) -> dict[str, Any]:
    """The chosen session type, zone, one page of its free slots, and the picked slot
    (``start``) as a summary to confirm, if it is still free."""
    query = request.query if query is None else query
    chosen = next((t for t in types if str(t.id) == query.get("type")), types[0] if types else None)
    typed = query.get("zone", "").strip()
    zone = pick_zone(typed, default_zone)
    language = await page_language(request)
    state: dict[str, Any] = {"types": types, "chosen": chosen, "zone": zone, "zone_given": bool(typed),
                             "zone_unknown": typed if typed and zones.resolve(typed) is None else None,
                             "coach_zone": coach.time_zone, "days": [], "earlier": None, "later": None,
                             "picked": None, "picked_gone": False}
    if chosen is not None:
        offer = await get_offer(session, chosen, now=request.app[CLOCK].now(), exclude_id=exclude_id,
                                step_minutes=request.app[SETTINGS].booking.slot_step_minutes)
        state["days"], state["earlier"], state["later"] = slot_days(
            offer, zone, coach.time_zone, language, _first_day(query.get("from")),
            request.app[SETTINGS].booking.days_per_page, hide)
        picked = _picked(query.get("start"), chosen, offer, hide)
        if picked is not None:
            end = picked + timedelta(minutes=chosen.duration_minutes)
            state["picked"] = {"value": picked.isoformat(), **when_of(picked, end, zone, language),
                               "coach": when_of(picked, end, coach.time_zone, language)}
        state["picked_gone"] = bool(query.get("start")) and picked is None
    return state


def _picked(value: str | None, chosen: SessionType, offer: Offer, hide: datetime | None) -> datetime | None:
    """The clicked slot, if it is (still) one of the free ones."""
    try:
        start = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    if start is None or start.tzinfo is None or start == hide or find_slot(offer.slots, start) is None:
        return None
    return start


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
        profile = await bq.get_profile(session, coach.id)
        types = bookable(await bq.get_session_types(session, coach.id, intake=True if engagement is None else None),
                         profile)
        default_zone = engagement.time_zone if engagement is not None else coach.time_zone
        refused = engagement is not None and await booking_refused(
            session, engagement, request.app[CLOCK].now(), Rules.of(request.app[SETTINGS].billing))
        state = await page_state(request, session, coach, [] if refused else types, default_zone, query=query)
    # A used-up package is said once, plainly (the include), instead of the free times.
    context = {**state, "coach_name": coach.name, "token": token, "intake": engagement is None,
               "refused": refused, "error": None if refused else error, "form": form or {},
               "mail_enabled": request.app[SETTINGS].mail.enabled}
    response = await render(request, "booking.html", context, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


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
    app.router.add_get("/calendar/{token:[A-Za-z0-9_-]+}.ics", calendar_feed)
