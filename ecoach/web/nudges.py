"""Nudges on the web: the panel on the engagement page (upcoming nudges with edit, skip
and send now; the plan; action steps), the action-step form on the coachee's chat page,
and the coachee's pause page behind the signed link in every nudge."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp_session import get_session
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import action_steps, nudges as plans
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.nudge_forms import check_plan_form
from ecoach.actions.nudge_send import do_send_now
from ecoach.actions.nudge_texts import DEFAULT_TEMPLATES, FALLBACKS, nudge_text
from ecoach.actions.unit import unit_of_work
from ecoach.core.nudge_rules import VARIABLES, render_template
from ecoach.logbook import nudge_queries, queries
from ecoach.logbook.models import Coachee, Engagement
from ecoach.logbook.nudge_models import NudgePlan
from ecoach.web import nudges_coachee
from ecoach.keys import CLOCK, I18N, SESSIONS, SETTINGS
from ecoach.web.nudges_coachee import FLASH, flash as _flash
from ecoach.web.render import gettext_for, render
from ecoach.web.params import path_id
from ecoach.web.security import get_coach, require_coach

log = logging.getLogger(__name__)

ALERTED = web.RequestKey("nudge_alerts", set)  # inbox rows with an unseen re-engagement alert
KINDS = {plans.PLAN: N_("Encouragement"), plans.ACTION_STEP: N_("Action-step follow-up"),
         plans.CHECKIN: N_("Check-in")}
WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"),
            N_("Sunday"))
DONE = {"saved": N_("The nudge plan is saved."), "edited": N_("The nudge is changed."),
        "skipped": N_("The nudge is skipped."), "sent": N_("The nudge is sent."),
        "step": N_("The action step is recorded."), "step_cancelled": N_("The action step is removed.")}


def _int(request: web.Request, name: str) -> int:
    return path_id(request, name)


async def _owned(request: web.Request, session: AsyncSession) -> Engagement:
    engagement = await queries.get_engagement(session, get_coach(request).id, _int(request, "id"))
    if engagement is None:
        raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    return engagement


async def _back(request: web.Request, engagement_id: int, done: str) -> web.StreamResponse:
    await _flash(request, engagement_id, (await gettext_for(request))(DONE[done]))
    raise web.HTTPSeeOther(f"/engagements/{engagement_id}#nudges")


# --- the inbox badge and the panel on the engagement page (for ecoach.web.inbox) -------


async def inbox_alerts(session: AsyncSession, rows: list[Any]) -> set[int]:
    return await nudge_queries.get_alerted(session, [row.engagement.id for row in rows])



async def panel(request: web.Request, session: AsyncSession, engagement: Engagement, coachee: Coachee) -> dict[str, Any]:
    """What ``_nudges_panel.html`` shows; also clears the re-engagement badge (seen), in the
    page's unit of work."""
    now, settings = request.app[CLOCK].now(), request.app[SETTINGS]
    plan = await nudge_queries.get_plan(session, engagement.id)
    if plan is not None and plan.alert_at is not None:
        plan.alert_at = None
        await session.flush()
    coach = get_coach(request)
    upcoming = []
    for nudge in await nudge_queries.get_upcoming(session, engagement.id, limit=10):
        preview_plan = plan or NudgePlan(templates={}, goal=None)
        text = await nudge_text(session, nudge, preview_plan, engagement, coach, coachee, now)
        upcoming.append({"nudge": nudge, "kind": KINDS[nudge.kind], "preview": text})
    web_session = await get_session(request)
    flash = web_session.pop(FLASH, None)
    if flash and flash.get("engagement_id") != engagement.id:
        flash = None
    return {
        "plan": plan,
        "upcoming": upcoming,
        "steps": await nudge_queries.get_action_steps(session, engagement.id),
        "flash": flash,
        "enabled": settings.nudges.enabled,
        "weekdays": WEEKDAYS,
        "today": now.astimezone(plans.zone_of(engagement)).date().isoformat(),
    }


# --- the plan --------------------------------------------------------------------------


# What each variable becomes, said in words beside the "{{ name }}" to type.
VARIABLE_HELP = {"coachee": N_("your coachee's name"), "coach": N_("your name"), "goal": N_("the goal below"),
                 "action_step": N_("the action step the nudge asks about"),
                 "next_session": N_("the next booked session")}


def variables_help() -> list[tuple[str, str]]:
    return [("{{ %s }}" % name, VARIABLE_HELP[name]) for name in VARIABLES]


async def _plan_page(request: web.Request, engagement: Engagement, coachee: Coachee, plan: NudgePlan | None,
                     form: dict[str, Any], error: str | None, status: int = 200) -> web.StreamResponse:
    gettext = request.app[I18N].gettext
    # The standard text as this coachee would read it, not with its {{ variables }}.
    defaults = {}
    for lang in ("nl", "en"):
        values = {name: gettext(lang)(text) for name, text in FALLBACKS.items()}
        values.update(coachee=coachee.name, coach=get_coach(request).name, goal=(plan.goal if plan and plan.goal
                                                                               else values["goal"]))
        defaults[lang] = render_template(gettext(lang)(DEFAULT_TEMPLATES[plans.PLAN]), values)
    return await render(request, "nudges_plan.html", {
        "engagement": engagement, "coachee": coachee, "plan": plan, "form": form, "error": error,
        "weekdays": WEEKDAYS, "variables": variables_help(), "defaults": defaults,
        "can_mail": request.app[SETTINGS].mail.enabled and bool(coachee.email),
    }, status=status)


def _form_of(plan: NudgePlan | None, settings: Any) -> dict[str, Any]:
    if plan is None:
        return {"enabled": False, "cadence": "weekly", "weekdays": ["0"], "time_of_day": settings.nudges.default_time,
                "every_days": 7, "start_on": "", "channel": "chat", "goal": "",
                "silence_days": settings.nudges.silence_days, "template_nl": "", "template_en": ""}
    templates = plan.templates or {}
    return {"enabled": plan.enabled, "cadence": plan.cadence, "weekdays": plan.weekdays.split(","),
            "time_of_day": plan.time_of_day, "every_days": plan.every_days,
            "start_on": plan.start_on.isoformat() if plan.start_on else "", "channel": plan.channel,
            "goal": plan.goal or "", "silence_days": plan.silence_days,
            "template_nl": templates.get("nl", ""), "template_en": templates.get("en", "")}


@require_coach
async def plan_form(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        engagement = await _owned(request, session)
        coachee = await queries.get_coachee(session, engagement.coachee_id)
        plan = await nudge_queries.get_plan(session, engagement.id)
    assert coachee is not None
    return await _plan_page(request, engagement, coachee, plan, _form_of(plan, request.app[SETTINGS]), None)


@require_coach
async def save_plan(request: web.Request) -> web.StreamResponse:
    post = await request.post()
    form = {k: str(v) for k, v in post.items() if k != "weekdays"}
    weekdays = [str(v) for v in post.getall("weekdays", [])]
    settings, now = request.app[SETTINGS], request.app[CLOCK].now()
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        coachee = await queries.get_coachee(session, engagement.coachee_id)
        assert coachee is not None
        try:
            values = check_plan_form(form, weekdays, engagement=engagement, coachee=coachee,
                                           settings=settings, today=now.astimezone(plans.zone_of(engagement)).date())
        except ActionError as exc:  # refused before anything was written
            plan = await nudge_queries.get_plan(session, engagement.id)
            error = exc.translated(await gettext_for(request))
            return await _plan_page(request, engagement, coachee, plan, {**form, "weekdays": weekdays,
                                    "enabled": bool(form.get("enabled"))}, error, status=exc.status)
        await plans.do_save_plan(session, engagement, values, settings=settings, now=now)
    return await _back(request, engagement.id, "saved")


# --- one planned nudge -----------------------------------------------------------------


@require_coach
async def edit_form(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        engagement = await _owned(request, session)
        nudge = await plans.get_planned_nudge(session, engagement, _int(request, "nudge"))
        coachee = await queries.get_coachee(session, engagement.coachee_id)
        plan = await nudge_queries.get_plan(session, engagement.id) or NudgePlan(templates={}, goal=None)
        assert coachee is not None
        preview = await nudge_text(session, nudge, plan, engagement, get_coach(request), coachee,
                                   request.app[CLOCK].now())
    return await render(request, "nudge_edit.html", {
        "engagement": engagement, "coachee": coachee, "nudge": nudge, "kind": KINDS[nudge.kind],
        "text": nudge.text or preview, "error": None,
        "variables": variables_help()})


@require_coach
async def edit_nudge(request: web.Request) -> web.StreamResponse:
    text = str((await request.post()).get("text", ""))
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            engagement = await _owned(request, session)
            await plans.do_edit_nudge(session, engagement, _int(request, "nudge"), text, now=request.app[CLOCK].now())
    except ActionError as exc:
        if exc.status == 404:
            raise
        async with request.app[SESSIONS]() as session:
            engagement = await _owned(request, session)
            coachee = await queries.get_coachee(session, engagement.coachee_id)
            nudge = await nudge_queries.get_nudge(session, engagement.id, _int(request, "nudge"))
        return await render(request, "nudge_edit.html", {
            "engagement": engagement, "coachee": coachee, "nudge": nudge, "kind": KINDS[nudge.kind] if nudge else "",
            "text": text, "error": exc.translated(await gettext_for(request)),
            "variables": variables_help()}, status=exc.status)
    return await _back(request, engagement.id, "edited")


@require_coach
async def skip_nudge(request: web.Request) -> web.StreamResponse:
    settings, now = request.app[SETTINGS], request.app[CLOCK].now()
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        await _or_flash(request, engagement, plans.do_skip_nudge(
            session, engagement, _int(request, "nudge"), settings=settings, now=now))
    return await _back(request, engagement.id, "skipped")


@require_coach
async def send_now(request: web.Request) -> web.StreamResponse:
    settings, now = request.app[SETTINGS], request.app[CLOCK].now()
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        await _or_flash(request, engagement, do_send_now(
            session, engagement, _int(request, "nudge"), settings=settings, now=now))
    return await _back(request, engagement.id, "sent")


async def _or_flash(request: web.Request, engagement: Engagement, action: Any) -> Any:
    """Run the action; a refusal goes back to the engagement page as a message."""
    try:
        return await action
    except ActionError as exc:
        if exc.status == 404:
            raise
        await _flash(request, engagement.id, exc.translated(await gettext_for(request)), error=True)
        raise web.HTTPSeeOther(f"/engagements/{engagement.id}#nudges") from None


# --- action steps ----------------------------------------------------------------------


@require_coach
async def add_step(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    settings, now = request.app[SETTINGS], request.app[CLOCK].now()
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        await _or_flash(request, engagement, action_steps.do_add_action_step(
            session, engagement, text=str(form.get("text", "")), due_on=str(form.get("due_on", "")),
            by="coach", author_name=get_coach(request).name, settings=settings, now=now))
    return await _back(request, engagement.id, "step")


@require_coach
async def cancel_step(request: web.Request) -> web.StreamResponse:
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        await action_steps.do_cancel_action_step(session, engagement, _int(request, "step"),
                                                 now=request.app[CLOCK].now())
    return await _back(request, engagement.id, "step_cancelled")


def register(app: web.Application) -> None:
    app.router.add_get("/engagements/{id}/nudges/plan", plan_form)
    app.router.add_post("/engagements/{id}/nudges/plan", save_plan)
    app.router.add_get("/engagements/{id}/nudges/{nudge}/edit", edit_form)
    app.router.add_post("/engagements/{id}/nudges/{nudge}/edit", edit_nudge)
    app.router.add_post("/engagements/{id}/nudges/{nudge}/skip", skip_nudge)
    app.router.add_post("/engagements/{id}/nudges/{nudge}/send", send_now)
    app.router.add_post("/engagements/{id}/action-steps", add_step)
    app.router.add_post("/engagements/{id}/action-steps/{step}/cancel", cancel_step)
    nudges_coachee.register(app)
