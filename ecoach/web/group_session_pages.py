"""Cancelling and moving a group session from the group page (``/groups/{id}/sessions/{booking}/...``).

Cancelling asks first (``confirm`` pattern: a dialog on the group page, or this module's
confirmation page without JavaScript); moving shows the free times of the session's kind
(its own time not counted as busy) on a page of its own. Another coach's group or a
session of another group is a 404; a session cancelled already or begun is a 409.
"""

from __future__ import annotations

from aiohttp import web

from ecoach.actions.booking import BookingContext
from ecoach.actions.booking_offer import check_change_allowed, get_offer
from ecoach.actions.errors import N_, ActionError, NotFound
from ecoach.actions.group_session_changes import check_group_booking, do_cancel_group_session, do_move_group_session
from ecoach.actions.unit import unit_of_work
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.logbook import booking_queries as bq
from ecoach.logbook import group_queries as gq
from ecoach.web.confirm import CONFIRMATIONS, Confirmation, confirm_page
from ecoach.web.params import path_id
from ecoach.web.i18n import format_when
from ecoach.web.render import gettext_for, page_language, render
from ecoach.web.security import get_coach, require_coach

SLOTS_SHOWN = 60

CONFIRMATIONS["cancel_group_session"] = Confirmation(
    N_("Cancel this group session?"),
    N_("%(what)s on %(when)s is cancelled for the group %(group)s, and every member is told. This cannot be "
       "undone: to meet after all, book a new time."),
    N_("Cancel group session"), N_("Keep the session"))


def _context(request: web.Request) -> BookingContext:
    settings = request.app[SETTINGS]
    return BookingContext(settings=settings, now=request.app[CLOCK].now(), secret=settings.secret)


async def _group_and_booking(request: web.Request, session):  # type: ignore[no-untyped-def]
    group = await gq.get_group(session, get_coach(request).id, path_id(request))
    if group is None:
        raise NotFound("group_unknown", N_("This group does not exist."))
    return group, await check_group_booking(session, group, request.match_info["booking"])


@require_coach
async def confirm_cancel(request: web.Request) -> web.StreamResponse:
    coach = get_coach(request)
    async with request.app[SESSIONS]() as session:
        group, booking = await _group_and_booking(request, session)
        check_change_allowed(booking, request.app[CLOCK].now(), 0, by="coach")
        item = await bq.get_session_type(session, coach.id, booking.session_type_id)
    back = f"/groups/{group.id}#group-sessions"
    when = format_when(booking.starts_at, coach.time_zone, await page_language(request))
    return await confirm_page(request, "cancel_group_session", action=request.path, back=back,
                              values={"what": item.name if item else "", "when": when, "group": group.name})


@require_coach
async def cancel(request: web.Request) -> web.StreamResponse:
    async with unit_of_work(request.app[SESSIONS]) as session:
        group, booking = await _group_and_booking(request, session)
        await do_cancel_group_session(session, _context(request), get_coach(request), group, booking)
    raise web.HTTPSeeOther(f"/groups/{group.id}?done=cancelled#group-sessions")


async def _move_page(request: web.Request, *, error: str | None = None, status: int = 200) -> web.StreamResponse:
    coach = get_coach(request)
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        group, booking = await _group_and_booking(request, session)
        check_change_allowed(booking, now, 0, by="coach")
        item = await bq.get_session_type(session, coach.id, booking.session_type_id)
        assert item is not None
        offer = await get_offer(session, item, now=now, step_minutes=request.app[SETTINGS].booking.slot_step_minutes,
                                exclude_id=booking.id)
    slots = [s for s in offer.slots if s.start != booking.starts_at][:SLOTS_SHOWN]
    context = {"group": group, "booking": booking, "session_type": item, "slots": slots, "error": error}
    return await render(request, "group_session_move.html", context, status=status)


@require_coach
async def move_form(request: web.Request) -> web.StreamResponse:
    return await _move_page(request)


@require_coach
async def move(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            group, booking = await _group_and_booking(request, session)
            await do_move_group_session(session, _context(request), get_coach(request), group, booking,
                                        start=form.get("start", ""))
    except ActionError as exc:
        if isinstance(exc, NotFound) or exc.code in ("booking_not_active", "booking_started",
                                                      "booking_not_confirmed"):
            raise
        return await _move_page(request, error=exc.translated(await gettext_for(request)), status=exc.status)
    raise web.HTTPSeeOther(f"/groups/{group.id}?done=moved#group-sessions")


def register(app: web.Application) -> None:
    app.router.add_get("/groups/{id}/sessions/{booking}/cancel", confirm_cancel)
    app.router.add_post("/groups/{id}/sessions/{booking}/cancel", cancel)
    app.router.add_get("/groups/{id}/sessions/{booking}/move", move_form)
    app.router.add_post("/groups/{id}/sessions/{booking}/move", move)
