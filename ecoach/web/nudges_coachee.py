"""The coachee's side of nudges: action steps on the chat page, and the pause page behind
the signed link in every nudge (in the engagement's language; pausing is a POST, so a
mail scanner following the link changes nothing)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp_session import get_session
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import action_steps, nudges as plans
from ecoach.actions.engagements import check_chat_token
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.unit import unit_of_work
from ecoach.core.nudge_rules import PauseTokenError, make_pause_token, read_pause_token
from ecoach.logbook import nudge_queries, queries
from ecoach.logbook.models import Engagement
from ecoach.logbook.nudge_models import NudgePlan
from ecoach.keys import CLOCK, I18N, SESSIONS, SETTINGS
from ecoach.web.render import render, set_language

FLASH = "flash_nudges"
STEP_RECORDED = N_("The action step is recorded.")


async def flash(request: web.Request, engagement_id: int, message: str, *, error: bool = False) -> None:
    """A message for the next page of this engagement (after a redirect)."""
    session = await get_session(request)
    session[FLASH] = {"engagement_id": engagement_id, "message": message, "error": error}


async def coachee_panel(request: web.Request, session: AsyncSession, engagement: Engagement) -> dict[str, Any]:
    """What the chat page shows: the coachee's action steps, the form, the pause page."""
    now, settings = request.app[CLOCK].now(), request.app[SETTINGS]
    web_session = await get_session(request)
    shown = web_session.pop(FLASH, None)
    return {
        "steps": await nudge_queries.get_action_steps(session, engagement.id),
        "today": now.astimezone(plans.zone_of(engagement)).date().isoformat(),
        "pause_path": f"/n/{make_pause_token(settings.secret, engagement.id, now)}",
        # None in the coach's read-only preview of the chat page (no token, no form).
        "form_action": f"/c/{request.match_info['token']}/action-steps" if "token" in request.match_info else None,
        "flash": shown if shown and shown.get("engagement_id") == engagement.id else None,
    }


async def coachee_add_step(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    form = await request.post()
    settings, now = request.app[SETTINGS], request.app[CLOCK].now()
    async with unit_of_work(request.app[SESSIONS]) as session:
        try:
            _link, engagement = await check_chat_token(session, token, now)
        except ActionError as exc:
            if exc.language:
                set_language(request, exc.language)
            raise
        set_language(request, engagement.language)
        coachee = await queries.get_coachee(session, engagement.coachee_id)
        assert coachee is not None
        gettext = request.app[I18N].gettext(engagement.language)
        try:
            await action_steps.do_add_action_step(
                session, engagement, text=str(form.get("text", "")), due_on=str(form.get("due_on", "")),
                by="coachee", author_name=coachee.name, settings=settings, now=now)
        except ActionError as exc:
            await flash(request, engagement.id, exc.translated(gettext), error=True)
            raise web.HTTPSeeOther(f"/c/{token}#action-steps") from None
    await flash(request, engagement.id, gettext(STEP_RECORDED))
    raise web.HTTPSeeOther(f"/c/{token}#action-steps")


# --- the coachee's pause page ----------------------------------------------------------


async def _pause_target(request: web.Request, session: AsyncSession) -> tuple[Engagement, NudgePlan]:
    settings, now = request.app[SETTINGS], request.app[CLOCK].now()
    try:
        engagement_id = read_pause_token(settings.secret, request.match_info["token"], now,
                                         settings.nudges.pause_link_days)
    except PauseTokenError as exc:
        if exc.reason == "expired" and exc.engagement_id is not None:
            engagement = await queries.get_engagement_by_id(session, exc.engagement_id)
            error = ActionError("pause_link_expired", N_(
                "This link has expired. The link in your most recent message from your coach works."))
            error.status = 410
            if engagement is not None:
                set_language(request, engagement.language)
            raise error from None
        raise NotFound("pause_link_invalid", N_("This link is not valid. Use the link in a message from your coach.")) from None
    engagement = await queries.get_engagement_by_id(session, engagement_id)
    if engagement is None:
        raise NotFound("pause_link_invalid", N_("This link is not valid. Use the link in a message from your coach."))
    set_language(request, engagement.language)
    return engagement, await plans.get_or_create_plan(session, engagement, settings, now)


async def pause_page(request: web.Request) -> web.StreamResponse:
    async with unit_of_work(request.app[SESSIONS]) as session:  # a first visit may make the plan row
        engagement, plan = await _pause_target(request, session)
        coach = await queries.get_coach(session, engagement.coach_id)
    response = await render(request, "nudges_pause.html", {
        "engagement": engagement, "paused": plan.paused_at is not None, "coach_name": coach.name if coach else "",
        "token": request.match_info["token"], "changed": request.query.get("done")})
    response.headers["Cache-Control"] = "no-store"
    return response


async def pause_change(request: web.Request) -> web.StreamResponse:
    action = str((await request.post()).get("action", ""))
    settings, now = request.app[SETTINGS], request.app[CLOCK].now()
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement, _plan = await _pause_target(request, session)
        if action == "pause":
            await plans.do_pause_nudges(session, engagement, settings=settings, now=now)
        elif action == "resume":
            await plans.do_resume_nudges(session, engagement, settings=settings, now=now)
        else:
            raise ActionError("pause_action", N_("Choose pause or resume."))
    raise web.HTTPSeeOther(f"/n/{request.match_info['token']}?done={action}")


def register(app: web.Application) -> None:
    app.router.add_post("/c/{token}/action-steps", coachee_add_step)
    app.router.add_get("/n/{token}", pause_page)
    app.router.add_post("/n/{token}", pause_change)
