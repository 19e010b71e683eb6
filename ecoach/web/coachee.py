"""The coachee's chat page: ``/c/{token}``. No account, no app: the link is the key.

``/engagements/{id}/preview`` shows the coach the same page read-only, as the coachee sees
it (their language and time zone), without posting anything in the coachee's name.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ecoach.actions.agreement_texts import get_coachee_agreement
from ecoach.actions.engagements import check_chat_token
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.logbook import queries
from ecoach.logbook.models import Engagement
from ecoach.web import data_export, nudges_coachee, session_panels
from ecoach.web import files as files_web
from ecoach.web import shares as shares_web
from ecoach.web import team as team_web
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.web.params import path_id
from ecoach.web.render import render, set_language
from ecoach.web.security import get_coach, require_coach

HISTORY_ON_PAGE = 200


async def _context(request: web.Request, session, engagement: Engagement,  # type: ignore[no-untyped-def]
                   base: str, token: str | None) -> dict[str, Any]:
    """What chat.html shows; ``base`` is where the page's files go and come from (the
    coachee's token path, or the coach's engagement path for the preview). ``token`` is
    the coachee's chat token, None in the coach's read-only preview: no forms to post
    then, and the coachee's flash messages are left alone."""
    coachee = await queries.get_coachee(session, engagement.coachee_id)
    coach = await queries.get_coach(session, engagement.coach_id)
    timeline = await queries.get_timeline(session, engagement.id, limit=HISTORY_ON_PAGE, include_internal=False)
    return {
        "engagement": engagement,
        "coachee": coachee,
        "coach_name": coach.name if coach else "",
        "timeline": timeline,
        "max_chars": request.app[SETTINGS].max_message_chars,
        "action_steps": await nudges_coachee.coachee_panel(request, session, engagement),
        "agreement": await get_coachee_agreement(session, engagement, request.app[CLOCK].now()),
        "coaching": await session_panels.coachee_panel(request, session, engagement, token),
        "data_request": await data_export.coachee_panel(request, session, engagement, token) if token else None,
        "shared": await shares_web.coachee_list(session, engagement),
        "team": await team_web.coachee_context(session, engagement, base),
        "preview": False,
        **files_web.attach_context(request, upload=f"{base}/files/", download=f"{base}/exchanges/", direction="in"),
    }


async def chat_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        try:
            _link, engagement = await check_chat_token(
                session, request.match_info["token"], request.app[CLOCK].now()
            )
        except ActionError as exc:
            if exc.language:
                set_language(request, exc.language)
            raise
        set_language(request, engagement.language)
        context = await _context(request, session, engagement, request.path, request.match_info["token"])
    response = await render(request, "chat.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


@require_coach
async def preview_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        engagement = await queries.get_engagement(session, get_coach(request).id, path_id(request))
        if engagement is None:
            raise NotFound("engagement_unknown", N_("This engagement does not exist."))
        set_language(request, engagement.language)
        context = await _context(request, session, engagement, f"/engagements/{engagement.id}", None)
    # The coachee's page, so without the coach's menu.
    return await render(request, "chat.html", {**context, "preview": True, "coach": None})


def register(app: web.Application) -> None:
    app.router.add_get("/c/{token}", chat_page)
    app.router.add_get("/engagements/{id}/preview", preview_page)
