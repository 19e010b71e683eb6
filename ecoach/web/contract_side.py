"""The coach's forms beside the contract: the sponsor contact, progress summaries for the
sponsor, and notes (private, or shared with the coachee) from the engagement page."""

from __future__ import annotations

from aiohttp import web

from ecoach.actions.errors import ActionError
from ecoach.actions.exchanges import check_client_id, check_message
from ecoach.actions.notes import do_add_note
from ecoach.actions.sponsor import do_save_sponsor, do_write_summary
from ecoach.actions.unit import unit_of_work
from ecoach.keys import CLOCK, SESSIONS, SETTINGS, reply_context
from ecoach.web.contract_coach import overview_page, owned_engagement
from ecoach.web.params import path_id
from ecoach.web.security import get_coach, require_coach


@require_coach
async def save_sponsor(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            engagement = await owned_engagement(request, session)
            await do_save_sponsor(session, engagement, organisation=data.get("organisation"),
                                  name=data.get("sponsor_name"), email=data.get("sponsor_email"),
                                  now=request.app[CLOCK].now())
    except ActionError as exc:
        if exc.status == 404:
            raise
        return await overview_page(request, error=exc)
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}/contract?done=sponsor#sponsor")


@require_coach
async def write_summary(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            engagement = await owned_engagement(request, session)
            await do_write_summary(session, engagement, data.get("summary"), now=request.app[CLOCK].now())
    except ActionError as exc:
        if exc.status == 404:
            raise
        return await overview_page(request, error=exc)
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}/contract?done=summary#summaries")


@require_coach
async def add_note(request: web.Request) -> web.StreamResponse:
    """The note box without JavaScript: a private note, or one shared with the coachee."""
    data = await request.post()
    engagement_id = path_id(request)
    text = check_message(data.get("note", ""), request.app[SETTINGS].max_message_chars)
    await do_add_note(reply_context(request.app), get_coach(request), engagement_id, text=text,
                      shared=data.get("visibility") == "shared", client_id=check_client_id(data.get("client_id")))
    raise web.HTTPSeeOther(f"/engagements/{engagement_id}#latest")


def register(app: web.Application) -> None:
    app.router.add_post("/engagements/{id}/sponsor", save_sponsor)
    app.router.add_post("/engagements/{id}/sponsor/summaries", write_summary)
    app.router.add_post("/engagements/{id}/notes", add_note)
