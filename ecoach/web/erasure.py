"""Erasing a coachee and their engagement, for the coach: a page that says what it does
and asks for the coachee's name, the erasure itself, and its content-free record."""

from __future__ import annotations

from aiohttp import web

from ecoach.actions.erasure import check_erase_confirmation, do_erase_engagement
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.unit import unit_of_work
from ecoach.keys import CLOCK, SESSIONS
from ecoach.logbook import queries
from ecoach.logbook.access import get_owned_engagement
from ecoach.logbook.erasure import get_erasure
from ecoach.web.params import path_id
from ecoach.web.render import gettext_for, render
from ecoach.web.security import get_coach, require_coach


async def _owned(request: web.Request, session):  # type: ignore[no-untyped-def]
    # Only the owner erases, not a co-coach (ecoach.logbook.access).
    engagement = await get_owned_engagement(session, get_coach(request).id, path_id(request))
    if engagement is None:
        raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    coachee = await queries.get_coachee(session, engagement.coachee_id)
    return engagement, coachee


async def _page(request: web.Request, *, error: str | None = None, status: int = 200) -> web.Response:
    async with request.app[SESSIONS]() as session:
        engagement, coachee = await _owned(request, session)
        others = await queries.count_engagements_of(session, coachee.id)
    return await render(request, "erase.html", {"engagement": engagement, "coachee": coachee,
                                                "keeps_coachee": others > 1, "error": error}, status=status)


@require_coach
async def erase_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@require_coach
async def erase(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            engagement, coachee = await _owned(request, session)
            check_erase_confirmation(coachee.name, form.get("confirm"))
            erased = await do_erase_engagement(session, engagement, by="coach", coach_id=get_coach(request).id,
                                               now=request.app[CLOCK].now())
    except ActionError as exc:
        if exc.code != "erase_confirmation":
            raise
        return await _page(request, error=exc.translated(await gettext_for(request)), status=400)
    raise web.HTTPSeeOther(f"/erasures/{erased.erasure_id}")


@require_coach
async def erasure_record(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        record = await get_erasure(session, get_coach(request).id, path_id(request))
    if record is None:
        raise NotFound("erasure_unknown", N_("There is no such erasure."))
    return await render(request, "erased.html", {"record": record})


def register(app: web.Application) -> None:
    app.router.add_get("/engagements/{id}/erase", erase_page)
    app.router.add_post("/engagements/{id}/erase", erase)
    app.router.add_get("/erasures/{id}", erasure_record)
