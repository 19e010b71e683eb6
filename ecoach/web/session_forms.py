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
from ecoach.actions.errors import ActionError
from ecoach.actions.form_answers import FormInvalid, do_answer_form, form_goals
from ecoach.actions.form_links import TITLES, check_form_token, closes_at, moment
from ecoach.actions.session_close import do_set_step_done
from ecoach.actions.unit import unit_of_work
from ecoach.core.session_forms import Checked, GOAL_QUESTION, goal_field, questions_for
from ecoach.core.supports import LIKERT
from ecoach.logbook import queries
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.models import Engagement
from ecoach.logbook.session_models import FormRequest
from ecoach.keys import CLOCK, I18N, SESSIONS
from ecoach.web.params import path_id
from ecoach.web.render import render, set_language


def _in_language(request: web.Request, exc: ActionError) -> None:
    if exc.language:
        set_language(request, exc.language)


def questions_context(form: FormRequest, goals: list[Any], values: Mapping[str, Any],
                      checked: Checked | None, gettext: Any) -> dict[str, Any]:
    """The fields as the template draws them, with what was typed and each error."""
    errors = checked.errors if checked else {}
    params = checked.params if checked else {}

    def error(name: str) -> str | None:
        message = errors.get(name)
        return gettext(message) % params.get(name, {}) if message and params.get(name) else (
            gettext(message) if message else None)

    fields = [{"name": q.name, "label": gettext(q.label), "kind": q.kind, "required": q.required,
               "value": str(values.get(q.name, "") or ""), "error": error(q.name)}
              for q in questions_for(form.kind, form.respondent)]
    goal_fields = [{"name": goal_field(g), "label": g.title, "value": str(values.get(goal_field(g), "") or ""),
                    "error": error(goal_field(g))} for g in goals]
    return {"fields": fields, "goal_fields": goal_fields,
            "goal_question": gettext(GOAL_QUESTION[form.kind]) if form.kind in GOAL_QUESTION else "",
            "likert": [gettext(label) for label in LIKERT],
            "error_list": [{"name": f["name"], "label": f["label"], "error": f["error"]}
                           for f in fields + goal_fields if f["error"]]}


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


def shown_answers(form: FormRequest, gettext: Any) -> list[dict[str, str]]:
    if form.answers is None:
        return []
    shown = []
    fields = form.answers.get("fields", {})
    for q in questions_for(form.kind, form.respondent):
        value = fields.get(q.name)
        if value in (None, ""):
            continue
        text = f"{value}/10" if q.kind == "score" else (gettext(LIKERT[value - 1]) if q.kind == "likert" else value)
        shown.append({"label": gettext(q.label), "value": str(text)})
    for goal in form.answers.get("goals", []):
        if goal.get("score") is not None:
            shown.append({"label": goal["title"], "value": f"{goal['score']}/10"})
    return shown


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


def register(app: web.Application) -> None:
    app.router.add_get("/f/{token}", form_page)
    app.router.add_post("/f/{token}", form_answer)
    app.router.add_post("/c/{token}/action-steps/{id}/done", tick_step)
