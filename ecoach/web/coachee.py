"""The coachee's chat page: ``/c/{token}``. No account, no app: the link is the key."""

from __future__ import annotations

from aiohttp import web

from ecoach.actions.agreement_texts import get_coachee_agreement
from ecoach.actions.engagements import check_chat_token
from ecoach.actions.errors import ActionError
from ecoach.logbook import queries
from ecoach.web import files as files_web
from ecoach.web import nudges_coachee
from ecoach.web import shares as shares_web
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.web.render import render, set_language

HISTORY_ON_PAGE = 200


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
        coachee = await queries.get_coachee(session, engagement.coachee_id)
        coach = await queries.get_coach(session, engagement.coach_id)
        timeline = await queries.get_timeline(
            session, engagement.id, limit=HISTORY_ON_PAGE, include_internal=False
        )
        action_steps = await nudges_coachee.coachee_panel(request, session, engagement)
        agreement = await get_coachee_agreement(session, engagement, request.app[CLOCK].now())
        shared = await shares_web.coachee_list(session, engagement)
    context = {
        "engagement": engagement,
        "coachee": coachee,
        "coach_name": coach.name if coach else "",
        "timeline": timeline,
        "max_chars": request.app[SETTINGS].max_message_chars,
        "action_steps": action_steps,
        "agreement": agreement,
        "shared": shared,
        **files_web.attach_context(request, upload=f"{request.path}/files/", download=f"{request.path}/exchanges/",
                                   direction="in"),
    }
    response = await render(request, "chat.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


def register(app: web.Application) -> None:
    app.router.add_get("/c/{token}", chat_page)
