"""The coach's side of sessions: ``/sessions`` (agenda, intake requests, session types,
meeting room, public page and calendar feed), the sessions panel on the engagement page,
and rescheduling, cancelling and summarising a session."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from aiohttp import web

from ecoach.actions.booking import do_cancel, do_reschedule, manage_token_of
from ecoach.actions.booking_after import do_add_summary
from ecoach.actions.booking_offer import parse_start
from ecoach.actions.booking_requests import do_accept_request, do_decline_request
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions import session_types as st
from ecoach.actions.unit import unit_of_work
from ecoach.logbook import booking_queries as bq
from ecoach.logbook import queries
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.models import Engagement
from ecoach.core.formats import UNIT_MINUTES, as_minutes, split_minutes
from ecoach.web import session_panels
from ecoach.web.booking import bookable, context_of, page_state, when_local
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.web.render import gettext_for, page_language, render
from ecoach.web.params import path_id
from ecoach.web.security import get_coach, require_coach

log = logging.getLogger(__name__)

FLASH = "booking_flash"


def _id(request: web.Request, name: str = "id") -> int:
    return path_id(request, name)


def _url(request: web.Request, path: str) -> str:
    return f"{request.app[SETTINGS].base_url}{path}"


async def _overview(request: web.Request, *, error: str | None = None, status: int = 200,
                    form: dict[str, Any] | None = None) -> web.StreamResponse:
    coach = get_coach(request)
    now = request.app[CLOCK].now()
    secret = request.app[SETTINGS].secret
    language = await page_language(request)
    async with request.app[SESSIONS]() as session:
        types = await bq.get_session_types(session, coach.id, active_only=False)
        agenda = await bq.get_coach_agenda(session, coach.id, now)
        profile = await bq.get_profile(session, coach.id)
        public = await bq.get_active_booking_link(session, coach.id, None, now)
    names = {t.id: t.name for t in types}
    rows = [{"booking": b, "name": name or b.attendee_name, "type": names.get(b.session_type_id, ""),
             "when": when_local(b, coach.time_zone, language)} for b, name in agenda]
    public_token = st.booking_token_of(public, secret)
    feed_token = st.feed_token_of(profile, secret)
    context = {
        "types": types, "requests": [r for r in rows if r["booking"].status == "requested"],
        "agenda": [r for r in rows if r["booking"].status == "confirmed"], "profile": profile,
        "public_url": _url(request, f"/book/{public_token}") if public_token else None,
        "feed_url": _url(request, f"/calendar/{feed_token}.ics") if feed_token else None,
        "error": error, "form": form or {}, "template": request.app[SETTINGS].booking.video_url_template,
        "unbookable": {t.id for t in types} - {t.id for t in bookable(types, profile)},
        "done": request.query.get("done"), "mail_enabled": request.app[SETTINGS].mail.enabled,
        "notice_parts": {t.id: split_minutes(t.min_notice_minutes) for t in types},
    }
    return await render(request, "sessions.html", context, status=status)


@require_coach
async def overview(request: web.Request) -> web.StreamResponse:
    return await _overview(request)


async def _write(request: web.Request, work, *, back: str = "/sessions") -> web.StreamResponse:  # type: ignore[no-untyped-def]
    """Run one coach action in a transaction; on a refusal, show the overview with why.
    ``work`` may return another page to go to (str)."""
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            target = await work(session)
    except ActionError as exc:
        if back != "/sessions" or isinstance(exc, NotFound):
            raise
        form = {k: str(v) for k, v in (await request.post()).items()}
        return await _overview(request, error=exc.translated(await gettext_for(request)), status=exc.status,
                               form=form)
    raise web.HTTPSeeOther(target if isinstance(target, str) else back)


def _with_notice_minutes(form) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The form asks the minimum notice as an amount and a unit (hours, days)."""
    values = {k: form.get(k) for k in form}
    amount, unit = str(form.get("min_notice_amount", "")).strip(), str(form.get("min_notice_unit", "hours"))
    if amount.isdigit() and unit in UNIT_MINUTES:
        values["min_notice_minutes"] = str(as_minutes(int(amount), unit))
    elif amount:
        values["min_notice_minutes"] = amount  # refused by the check, with its message
    return values


@require_coach
async def save_type(request: web.Request) -> web.StreamResponse:
    form = _with_notice_minutes(await request.post())
    type_id = _id(request) if "id" in request.match_info else None

    async def work(session):  # type: ignore[no-untyped-def]
        await st.do_save_session_type(session, get_coach(request), st.check_session_type(form), type_id=type_id,
                                      now=request.app[CLOCK].now())

    return await _write(request, work)


@require_coach
async def set_type_active(request: web.Request) -> web.StreamResponse:
    form = await request.post()

    async def work(session):  # type: ignore[no-untyped-def]
        await st.do_set_session_type_active(session, get_coach(request), _id(request), form.get("active") == "1",
                                            now=request.app[CLOCK].now())

    return await _write(request, work)


@require_coach
async def save_profile(request: web.Request) -> web.StreamResponse:
    form = await request.post()

    async def work(session):  # type: ignore[no-untyped-def]
        await st.do_save_profile(session, get_coach(request), form, request.app[CLOCK].now())

    return await _write(request, work)


@require_coach
async def new_public_link(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]

    async def work(session):  # type: ignore[no-untyped-def]
        await st.do_new_booking_link(session, get_coach(request).id, None, now=request.app[CLOCK].now(),
                                     days=settings.booking.link_days, secret=settings.secret)

    return await _write(request, work)


@require_coach
async def new_feed(request: web.Request) -> web.StreamResponse:
    async def work(session):  # type: ignore[no-untyped-def]
        await st.do_new_feed_token(session, get_coach(request), now=request.app[CLOCK].now(),
                                   secret=request.app[SETTINGS].secret)

    return await _write(request, work)


@require_coach
async def answer_request(request: web.Request) -> web.StreamResponse:
    accept = request.match_info["action"] == "accept"
    action = do_accept_request if accept else do_decline_request

    async def work(session):  # type: ignore[no-untyped-def]
        outcome = await action(session, context_of(request), get_coach(request), _id(request))
        # Say what happened: the new engagement (accepted), or the list with a notice.
        return (f"/engagements/{outcome.booking.engagement_id}?changed=accepted" if accept
                else "/sessions?done=declined")

    return await _write(request, work)


async def _owned_booking(request: web.Request, session) -> Booking:  # type: ignore[no-untyped-def]
    booking = await bq.get_booking(session, get_coach(request).id, _id(request))
    if booking is None:
        raise NotFound("booking_unknown", N_("This session does not exist."))
    return booking


def _back(booking: Booking) -> str:
    return f"/engagements/{booking.engagement_id}#sessions" if booking.engagement_id else "/sessions"


@require_coach
async def cancel_booking(request: web.Request) -> web.StreamResponse:
    async with unit_of_work(request.app[SESSIONS]) as session:
        booking = await _owned_booking(request, session)
        outcome = await do_cancel(session, context_of(request), booking, by="coach")
    raise web.HTTPSeeOther(_back(outcome.booking))


async def _reschedule_page(request: web.Request, *, error: str | None = None, status: int = 200) -> web.StreamResponse:
    coach = get_coach(request)
    language = await page_language(request)
    async with request.app[SESSIONS]() as session:
        booking = await _owned_booking(request, session)
        item = await bq.get_session_type(session, coach.id, booking.session_type_id)
        assert item is not None
        state = await page_state(request, session, coach, [item], coach.time_zone, exclude_id=booking.id,
                                 hide=booking.starts_at)
    context = {**state, "booking": booking, "session_type": item, "error": error,
               "when": when_local(booking, coach.time_zone, language), "back_page": _back(booking)}
    return await render(request, "booking_reschedule.html", context, status=status)


@require_coach
async def reschedule_form(request: web.Request) -> web.StreamResponse:
    return await _reschedule_page(request)


@require_coach
async def reschedule(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            booking = await _owned_booking(request, session)
            outcome = await do_reschedule(session, context_of(request), booking, parse_start(form.get("start", "")),
                                          by="coach")
    except ActionError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _reschedule_page(request, error=exc.translated(await gettext_for(request)), status=exc.status)
    raise web.HTTPSeeOther(_back(outcome.booking))


@require_coach
async def add_summary(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    settings = request.app[SETTINGS]
    async with unit_of_work(request.app[SESSIONS]) as session:
        recorded = await do_add_summary(
            session, get_coach(request), _id(request), form.get("text", ""), shared=form.get("shared") == "1",
            client_id=str(form.get("client_id", "")) or uuid.uuid4().hex, now=request.app[CLOCK].now(),
            max_chars=settings.max_message_chars)
    raise web.HTTPSeeOther(f"/engagements/{recorded.exchange.engagement_id}#latest")


@require_coach
async def new_engagement_link(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await queries.get_engagement(session, get_coach(request).id, _id(request))
        if engagement is None:
            raise NotFound("engagement_unknown", N_("This engagement does not exist."))
        await st.do_new_booking_link(session, engagement.coach_id, engagement.id, now=request.app[CLOCK].now(),
                                     days=settings.booking.link_days, secret=settings.secret)
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}#sessions")


async def engagement_panel(request: web.Request, session, engagement: Engagement) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """What the engagement page shows about sessions: the private booking link and the
    engagement's sessions with their actions."""
    coach = get_coach(request)
    now = request.app[CLOCK].now()
    secret = request.app[SETTINGS].secret
    language = await page_language(request)
    link = await bq.get_active_booking_link(session, coach.id, engagement.id, now)
    token = st.booking_token_of(link, secret)
    names = {t.id: t.name for t in await bq.get_session_types(session, coach.id, active_only=False)}
    sessions = [{"booking": b, "type": names.get(b.session_type_id, ""), "when": when_local(b, coach.time_zone, language),
                 "upcoming": b.active and b.starts_at > now, "past": b.status == "confirmed" and b.starts_at <= now,
                 "manage_url": _url(request, f"/booking/{manage_token_of(b, secret)}")}
                for b in await bq.get_engagement_bookings(session, engagement.id)]
    extras = await session_panels.session_extras(request, session, [s["booking"].id for s in sessions], language)
    return {"booking_url": _url(request, f"/book/{token}") if token else None, "sessions": sessions,
            "summary_client_id": uuid.uuid4().hex, "extras": extras}


def register(app: web.Application) -> None:
    app.router.add_get("/sessions", overview, name="sessions")
    app.router.add_post("/sessions/types", save_type)
    app.router.add_post("/sessions/types/{id}", save_type)
    app.router.add_post("/sessions/types/{id}/active", set_type_active)
    app.router.add_post("/sessions/profile", save_profile)
    app.router.add_post("/sessions/public-link", new_public_link)
    app.router.add_post("/sessions/feed", new_feed)
    app.router.add_post("/sessions/requests/{id}/{action:accept|decline}", answer_request)
    app.router.add_post("/sessions/bookings/{id}/cancel", cancel_booking)
    app.router.add_get("/sessions/bookings/{id}/reschedule", reschedule_form)
    app.router.add_post("/sessions/bookings/{id}/reschedule", reschedule)
    app.router.add_post("/sessions/bookings/{id}/summary", add_summary)
    app.router.add_post("/engagements/{id}/booking-link", new_engagement_link)
