"""Sharing resources: the coach's share panel on the engagement page (one click shares),
the coachee's "shared with you" list on the chat page and each shared resource's page,
where an exercise is answered (a form that works without JavaScript, on a phone too)."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import resources as library
from ecoach.actions import shares
from ecoach.actions.engagements import check_chat_token
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.exchanges import check_client_id
from ecoach.actions.unit import unit_of_work
from ecoach.keys import CLOCK, SESSIONS, SETTINGS, WRITER
from ecoach.logbook import mail_queries, queries, resource_queries
from ecoach.logbook.models import Engagement
from ecoach.web.params import number, path_id
from ecoach.web.render import gettext_for, render, set_language
from ecoach.web.security import get_coach, require_coach

PANEL_RESOURCES = 30


async def panel(request: web.Request, session: AsyncSession, engagement: Engagement) -> dict[str, Any]:
    """What ``_resources_panel.html`` shows on the engagement page."""
    coach = get_coach(request)
    return {
        "resources": await resource_queries.get_resources(session, coach.id, limit=PANEL_RESOURCES),
        "shares": await resource_queries.get_shares(session, engagement.id, limit=50),
        "client_id": uuid.uuid4().hex,
        "kind_labels": library.KIND_LABELS,
    }


async def coachee_list(session: AsyncSession, engagement: Engagement) -> dict[str, Any]:
    """What ``_shared_coachee.html`` shows on the chat page."""
    return {"entries": await resource_queries.get_shares(session, engagement.id, limit=100),
            "kind_labels": library.KIND_LABELS}


@require_coach
async def share(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    coach, settings, now = get_coach(request), request.app[SETTINGS], request.app[CLOCK].now()
    resource_id = number(form.get("resource_id"), "resource_id", None, low=1)
    client_id = check_client_id(form.get("client_id"))
    async with request.app[SESSIONS]() as session:  # read first: a file is checked outside the transaction
        engagement = await queries.get_engagement(session, coach.id, path_id(request))
        if engagement is None:
            raise NotFound("engagement_unknown", N_("This engagement does not exist."))
        resource = await library.get_owned_resource(session, coach.id, resource_id or 0)
    ready = await shares.ready_file_of(resource, settings)
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await queries.get_engagement(session, coach.id, engagement.id)
        assert engagement is not None
        recorded = await shares.do_share(
            session, shares.ShareRequest(coach, engagement, resource, str(form.get("channel", "chat")), client_id),
            ready, settings=settings, now=now)
        await request.app[WRITER].after_record(session, [recorded], now)
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}#x{recorded.exchange.id}")


async def _coachee(request: web.Request, session: AsyncSession) -> Engagement:
    try:
        _link, engagement = await check_chat_token(session, request.match_info["token"], request.app[CLOCK].now())
    except ActionError as exc:
        if exc.language:
            set_language(request, exc.language)
        raise
    set_language(request, engagement.language)
    return engagement


async def _shared_page(request: web.Request, *, error: str | None = None, given: list[str] | None = None,
                       status: int = 200) -> web.Response:
    async with request.app[SESSIONS]() as session:
        engagement = await _coachee(request, session)
        item = await shares.get_share(session, engagement.id, path_id(request, "xid"))
        answer = await resource_queries.get_answer(session, item.id) if item.answered_at else None
        coach = await queries.get_coach(session, engagement.coach_id)
        exchange = await mail_queries.get_exchange(session, engagement.id, item.exchange_id)
    token = request.match_info["token"]
    response = await render(request, "shared.html", {
        "engagement": engagement, "item": item, "answer": answer, "error": error, "given": given or [],
        "coach_name": coach.name if coach else "", "chat_path": f"/c/{token}",
        "file": (exchange.meta or {}).get("file") if exchange else None,
        "sent": request.query.get("sent") == "1", "kind_labels": library.KIND_LABELS,
    }, status=status)
    return response


async def shared_page(request: web.Request) -> web.StreamResponse:
    return await _shared_page(request)


async def answer(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    settings, now = request.app[SETTINGS], request.app[CLOCK].now()
    given: list[str] = []
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            engagement = await _coachee(request, session)
            item = await shares.get_share(session, engagement.id, path_id(request, "xid"))
            given = [str(form.get(f"answer_{i}", "")) for i in range(len(item.questions or []))]
            coachee = await queries.get_coachee(session, engagement.coachee_id)
            answers = shares.check_answers(item, form, settings.max_message_chars)
            recorded = await shares.do_answer_exercise(session, engagement, item, answers,
                                                       author_name=coachee.name if coachee else "", now=now)
            await request.app[WRITER].after_record(session, [recorded], now)
    except ActionError as exc:
        if exc.status == 404:
            raise
        return await _shared_page(request, error=exc.translated(await gettext_for(request)), given=given,
                                  status=exc.status)
    raise web.HTTPSeeOther(f"/c/{request.match_info['token']}/shared/{item.exchange_id}?sent=1")


def register(app: web.Application) -> None:
    app.router.add_post("/engagements/{id}/shares", share)
    app.router.add_get("/c/{token}/shared/{xid}", shared_page)
    app.router.add_post("/c/{token}/shared/{xid}", answer)
