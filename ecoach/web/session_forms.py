"""The coachee's forms: ``/f/<token>`` (check-in, feedback, evaluation, four-supports
questionnaire) in the engagement's language, without an account; and ticking an action
step off on the chat page (``/c/<token>/action-steps/<id>/done``, a plain form that the
chat page's script also sends in the background, queued while offline).

The form page never links to the chat: a form link that travelled by mail gives access
to that one form, not to the conversation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ecoach.actions.engagements import check_chat_token
from ecoach.actions.errors import ActionError, N_
from ecoach.actions.form_answers import FormInvalid, do_answer_form, do_update_scores, form_goals
from ecoach.actions.form_links import TITLES, check_form_token, closes_at, moment
from ecoach.actions.session_close import do_set_step_done
from ecoach.actions.unit import unit_of_work
from ecoach.core.session_forms import Checked
from ecoach.logbook import queries
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.models import Engagement
from ecoach.logbook.session_models import FormRequest
from ecoach.keys import CLOCK, I18N, SESSIONS
from ecoach.web.params import path_id
from ecoach.web.form_views import questions_context, shown_answers
from ecoach.web.render import render, set_language
from ecoach.web.session_panels import flash_scores


def _in_language(request: web.Request, exc: ActionError) -> None:
    if exc.language:
        set_language(request, exc.language)


async def _page(request: web.Request, form: FormRequest, engagement: Engagement, booking: Booking | None, *,
                values: Mapping[str, Any], checked: Checked | None = None, summary: str | None = None,
                status: int = 200) -> web.StreamResponse:
    gettext = request.app[I18N].gettext(engagement.language)
    async with request.app[SESSIONS]() as session:
        coach = await queries.get_coach(session, engagement.coach_id)
        goals = await form_goals(session, form, engagement) if form.answered_at is None else []
    until = closes_at(form, booking)
    context = {
        "form": form, "engagement": engagement, "title": gettext(TITLES[form.kind]),
        "coach_name": coach.name if coach else "",
        "when": moment(booking.starts_at, engagement.time_zone, engagement.language) if booking else None,
        "until": moment(until, engagement.time_zone, engagement.language) if until else None,
        "summary": summary, "answers": shown_answers(form, gettext),
        **questions_context(form, goals, values, checked, gettext),
    }
    response = await render(request, "session_form.html", context, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


async def form_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        try:
            form, engagement, booking = await check_form_token(session, request.match_info["token"],
                                                               request.app[CLOCK].now())
        except ActionError as exc:
            _in_language(request, exc)
            raise
    set_language(request, engagement.language)
    return await _page(request, form, engagement, booking, values={})


async def form_answer(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    posted = await request.post()
    values = {k: str(v) for k, v in posted.items() if k != "_csrf"}
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            await do_answer_form(session, token, values, now=request.app[CLOCK].now())
    except FormInvalid as exc:
        async with request.app[SESSIONS]() as session:
            form, engagement, booking = await check_form_token(session, token, request.app[CLOCK].now())
        set_language(request, engagement.language)
        summary = exc.translated(request.app[I18N].gettext(engagement.language))
        return await _page(request, form, engagement, booking, values=values, checked=exc.checked,
                           summary=summary, status=400)
    except ActionError as exc:
        _in_language(request, exc)
        raise
    raise web.HTTPSeeOther(f"/f/{token}")


async def tick_step(request: web.Request) -> web.StreamResponse:
    """Tick an action step off (``done=1``) or undo it (``done=0``), from the chat page."""
    token = request.match_info["token"]
    step_id = path_id(request, "id")
    done = str((await request.post()).get("done", "1")) != "0"
    async with unit_of_work(request.app[SESSIONS]) as session:
        try:
            _link, engagement = await check_chat_token(session, token, request.app[CLOCK].now())
        except ActionError as exc:
            _in_language(request, exc)
            raise
        set_language(request, engagement.language)
        coachee = await queries.get_coachee(session, engagement.coachee_id)
        assert coachee is not None
        step = await do_set_step_done(session, engagement, step_id, done=done, by="coachee",
                                      author_name=coachee.name, now=request.app[CLOCK].now())
    if "application/json" in request.headers.get("Accept", ""):
        return web.json_response({"id": step.id, "done": step.done_at is not None})
    raise web.HTTPSeeOther(f"/c/{token}#action-steps")


SCORES_SAVED = N_("Your scores are saved. Thank you!")


async def update_scores(request: web.Request) -> web.StreamResponse:
    """The coachee's own update of their goal scores, from the chat page."""
    token = request.match_info["token"]
    posted = await request.post()
    values = {k: str(v) for k, v in posted.items() if k != "_csrf"}
    engagement = None
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            _link, engagement = await check_chat_token(session, token, request.app[CLOCK].now())
            set_language(request, engagement.language)
            await do_update_scores(session, engagement, values, now=request.app[CLOCK].now())
    except ActionError as exc:
        _in_language(request, exc)
        if engagement is None or exc.status == 404:
            raise
        gettext = request.app[I18N].gettext(engagement.language)
        message = exc.translated(gettext)
        if isinstance(exc, FormInvalid):
            message = _score_errors(exc.checked, gettext) or message
        await flash_scores(request, engagement.id, message, error=True)
        raise web.HTTPSeeOther(f"/c/{token}#progress") from None
    await flash_scores(request, engagement.id, request.app[I18N].gettext(engagement.language)(SCORES_SAVED))
    raise web.HTTPSeeOther(f"/c/{token}#progress")


def _score_errors(checked: Checked, gettext: Any) -> str:
    titles = {f"goal_{g['id']}": g["title"] for g in checked.answers.get("goals", [])}
    return "; ".join(f"{titles.get(name, name)}: {gettext(message)}" for name, message in checked.errors.items())


def register(app: web.Application) -> None:
    app.router.add_get("/f/{token}", form_page)
    app.router.add_post("/f/{token}", form_answer)
    app.router.add_post("/c/{token}/action-steps/{id}/done", tick_step)
    app.router.add_post("/c/{token}/scores", update_scores)
