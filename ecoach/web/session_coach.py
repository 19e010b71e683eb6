"""The coach's side of the session structure: a session's page (check-in answers, the
close with summary and action steps, feedback), sending forms, the review decision, and
the four-supports questionnaire (the coach's own answers, and both side by side)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp_session import get_session

from ecoach.actions import form_links, session_flow
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.form_answers import FormInvalid, do_answer_as_coach
from ecoach.actions.reviews import do_decide_review
from ecoach.actions.session_close import MAX_STEPS, do_close_session, steps_from_form
from ecoach.actions.session_goals import adjust_url
from ecoach.actions.unit import unit_of_work
from ecoach.actions import nudges as plans
from ecoach.core.supports import change, compare
from ecoach.logbook import booking_queries as bq
from ecoach.logbook import queries, session_queries
from ecoach.logbook.models import Engagement, Exchange
from ecoach.logbook.session_models import ROUNDS, FormRequest
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.web.booking import when_local
from ecoach.web.params import path_id
from ecoach.web.render import gettext_for, page_language, render
from ecoach.web.security import get_coach, require_coach
from ecoach.web.form_views import questions_context, shown_answers
from ecoach.web.session_panels import FLASH, form_state, take_flash

log = logging.getLogger(__name__)

DONE = {"checkin": N_("The check-in is sent."), "feedback": N_("The feedback form is sent."),
        "evaluation": N_("The evaluation form is sent."), "supports": N_("The questionnaire is sent."),
        "closed": N_("The session is closed."), "review": N_("The review is recorded."),
        "mine": N_("Your answers are saved.")}


async def _flash(request: web.Request, engagement_id: int, done: str) -> None:
    session = await get_session(request)
    session[FLASH] = {"engagement_id": engagement_id, "message": (await gettext_for(request))(DONE[done])}


async def _owned(request: web.Request, session: Any) -> Engagement:
    engagement = await queries.get_engagement(session, get_coach(request).id, path_id(request, "id"))
    if engagement is None:
        raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    return engagement


def _round(request: web.Request, value: object) -> str:
    if value not in ROUNDS:
        raise ActionError("round_unknown", N_("Choose the start or the end round."))
    return str(value)


# --- a session's page --------------------------------------------------------------------


async def _session_page(request: web.Request, *, error: str | None = None, form: dict[str, str] | None = None,
                        status: int = 200) -> web.StreamResponse:
    coach = get_coach(request)
    gettext = await gettext_for(request)
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        engagement = await _owned(request, session)
        booking = await bq.get_booking(session, coach.id, path_id(request, "booking"))
        if booking is None or booking.engagement_id != engagement.id:
            raise NotFound("booking_unknown", N_("This session does not exist."))
        coachee = await queries.get_coachee(session, engagement.coachee_id)
        item = await bq.get_session_type(session, coach.id, booking.session_type_id)
        forms = {f.kind: f for f in await session_queries.get_session_forms(session, [booking.id])}
        close = await session_queries.get_close(session, booking.id)
        summary = await session.get(Exchange, close.exchange_id) if close and close.exchange_id else None
        steps = await session_queries.get_session_steps(session, booking.id)
    context = {
        "engagement": engagement, "coachee": coachee, "booking": booking, "type_name": item.name if item else "",
        "when": when_local(booking, coach.time_zone, await page_language(request)),
        "checkin": forms.get("checkin"), "feedback": forms.get("feedback"),
        "checkin_state": form_state(forms.get("checkin"), now), "feedback_state": form_state(forms.get("feedback"), now),
        "checkin_answers": shown_answers(forms["checkin"], gettext) if "checkin" in forms else [],
        "feedback_answers": shown_answers(forms["feedback"], gettext) if "feedback" in forms else [],
        "close": close, "summary": summary, "steps": steps, "started": booking.starts_at <= now,
        "ended": booking.ends_at <= now, "max_steps": MAX_STEPS, "error": error, "form": form or {},
        "today": now.astimezone(plans.zone_of(engagement)).date().isoformat(),
        "flash": await take_flash(request, engagement.id),
    }
    return await render(request, "session_page.html", context, status=status)


@require_coach
async def session_page(request: web.Request) -> web.StreamResponse:
    return await _session_page(request)


def _session_path(request: web.Request) -> str:
    return f"/engagements/{path_id(request, 'id')}/sessions/{path_id(request, 'booking')}"


@require_coach
async def close_session(request: web.Request) -> web.StreamResponse:
    posted = await request.post()
    form = {k: str(v) for k, v in posted.items() if k != "_csrf"}
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            engagement = await _owned(request, session)
            await do_close_session(session, get_coach(request), path_id(request, "booking"),
                                   summary=form.get("summary", ""), shared=form.get("shared") == "1",
                                   steps=steps_from_form(form), settings=request.app[SETTINGS],
                                   now=request.app[CLOCK].now())
    except ActionError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _session_page(request, error=exc.translated(await gettext_for(request)), form=form,
                                   status=exc.status)
    await _flash(request, engagement.id, "closed")
    raise web.HTTPSeeOther(_session_path(request))


@require_coach
async def send_session_form(request: web.Request) -> web.StreamResponse:
    kind = request.match_info["kind"]
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            engagement = await _owned(request, session)
            await session_flow.do_send_session_form(session, get_coach(request), path_id(request, "booking"), kind,
                                                    settings=request.app[SETTINGS], now=request.app[CLOCK].now())
    except ActionError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _session_page(request, error=exc.translated(await gettext_for(request)), status=exc.status)
    await _flash(request, engagement.id, kind)
    raise web.HTTPSeeOther(_session_path(request))


# --- evaluation, questionnaire, reviews (from the coaching panel) -------------------------


@require_coach
async def send_form(request: web.Request) -> web.StreamResponse:
    kind = request.match_info["kind"]
    posted = await request.post()
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        round = _round(request, posted.get("round")) if kind == "supports" else None
        await form_links.do_send_form(session, engagement, kind=kind, round=round, settings=request.app[SETTINGS],
                                      now=request.app[CLOCK].now())
    await _flash(request, engagement.id, kind)
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}#coaching")


@require_coach
async def decide_review(request: web.Request) -> web.StreamResponse:
    posted = await request.post()
    form = {k: str(v) for k, v in posted.items() if k != "_csrf"}
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        review = await do_decide_review(session, get_coach(request), engagement, path_id(request, "review"), form,
                                        settings=request.app[SETTINGS], now=request.app[CLOCK].now())
    await _flash(request, engagement.id, "review")
    if review.decision == "adjust":
        raise web.HTTPSeeOther(adjust_url(engagement))
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}#coaching")


async def _mine_page(request: web.Request, *, values: dict[str, str] | None = None, checked: Any = None,
                     summary: str | None = None, status: int = 200) -> web.StreamResponse:
    gettext = await gettext_for(request)
    async with request.app[SESSIONS]() as session:
        engagement = await _owned(request, session)
        round = _round(request, request.match_info["round"])
        coachee = await queries.get_coachee(session, engagement.coachee_id)
        mine = await session_queries.get_current_form(session, engagement.id, "supports", round=round,
                                                      respondent="coach")
    if values is None:
        values = {k: str(v) for k, v in ((mine.answers or {}).get("fields", {}) if mine else {}).items()}
    form = FormRequest(kind="supports", respondent="coach")
    context = {"engagement": engagement, "coachee": coachee, "round": round, "summary": summary,
               **questions_context(form, [], values, checked, gettext)}
    return await render(request, "supports_mine.html", context, status=status)


@require_coach
async def mine_form(request: web.Request) -> web.StreamResponse:
    return await _mine_page(request)


@require_coach
async def mine_answer(request: web.Request) -> web.StreamResponse:
    posted = await request.post()
    values = {k: str(v) for k, v in posted.items() if k != "_csrf"}
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            engagement = await _owned(request, session)
            await do_answer_as_coach(session, engagement, round=_round(request, request.match_info["round"]),
                                     form_data=values, now=request.app[CLOCK].now())
    except FormInvalid as exc:
        return await _mine_page(request, values=values, checked=exc.checked,
                                summary=exc.translated(await gettext_for(request)), status=400)
    await _flash(request, engagement.id, "mine")
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}/supports")


@require_coach
async def supports_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        engagement = await _owned(request, session)
        coachee = await queries.get_coachee(session, engagement.coachee_id)
        rounds = {}
        for round in ROUNDS:
            theirs = await session_queries.get_current_form(session, engagement.id, "supports", round=round)
            mine = await session_queries.get_current_form(session, engagement.id, "supports", round=round,
                                                          respondent="coach")
            rounds[round] = {"coachee": theirs, "coach": mine,
                             "summaries": compare(theirs.answers if theirs else None, mine.answers if mine else None)}
    both = all(r["coachee"] is not None and r["coachee"].answers for r in rounds.values())
    context = {"engagement": engagement, "coachee": coachee, "rounds": rounds,
               "change": change(rounds["start"]["summaries"], rounds["end"]["summaries"]) if both else None,
               "flash": await take_flash(request, engagement.id)}
    return await render(request, "supports_compare.html", context)


def register(app: web.Application) -> None:
    app.router.add_get("/engagements/{id}/sessions/{booking}", session_page)
    app.router.add_post("/engagements/{id}/sessions/{booking}/close", close_session)
    app.router.add_post("/engagements/{id}/sessions/{booking}/send/{kind:checkin|feedback}", send_session_form)
    app.router.add_post("/engagements/{id}/forms/{kind:evaluation|supports}", send_form)
    app.router.add_post("/engagements/{id}/reviews/{review}", decide_review)
    app.router.add_get("/engagements/{id}/supports", supports_page)
    app.router.add_get("/engagements/{id}/supports/{round}/mine", mine_form)
    app.router.add_post("/engagements/{id}/supports/{round}/mine", mine_answer)
