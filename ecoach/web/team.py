"""Co-coaches and supervisors, for the coach: the engagement page's "Coaches on this
engagement" panel, sharing with a supervisor, and the supervisor's own pages
(``/supervising``: what was shared with them, every read in the audit trail). And what the
coachee's chat page shows of it: their coaches' names and their groups."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ecoach.actions import team
from ecoach.actions.errors import N_, NotFound
from ecoach.actions.unit import unit_of_work
from ecoach.keys import CLOCK, SESSIONS
from ecoach.logbook import access, queries
from ecoach.logbook import group_queries as gq
from ecoach.logbook import team_queries as tq
from ecoach.logbook.group_models import SUPERVISOR
from ecoach.logbook.models import Engagement
from ecoach.web.confirm import CONFIRMATIONS, Confirmation, confirm_page
from ecoach.web.params import path_id
from ecoach.web.render import render
from ecoach.web.security import get_coach, require_coach

SHAREABLE_ON_PAGE = 200

CONFIRMATIONS["remove_team_member"] = Confirmation(
    N_("Remove %(name)s from this engagement?"),
    N_("%(name)s loses access at once, also in pages open now. For a supervisor, everything you shared "
       "with them is withdrawn. Nothing in the logbook is deleted."),
    N_("Remove"))
CONFIRMATIONS["withdraw_supervision"] = Confirmation(
    N_("Stop sharing with %(name)s?"),
    N_("%(name)s can no longer read any of the messages you shared from this engagement."),
    N_("Stop sharing"), N_("Keep sharing"))


async def panel(request: web.Request, session, engagement: Engagement) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The engagement page's team panel (``_team_panel.html``)."""
    me = get_coach(request).id
    members = await access.members_of(session, engagement.id)
    shared = await tq.get_shared_ids(session, engagement.id)
    owner = await queries.get_coach(session, engagement.coach_id)
    return {"owner": engagement.coach_id == me, "owner_name": owner.name if owner else "",
            "members": [(m, c, len(shared.get(c.id, ()))) for m, c in members],
            "groups": await gq.get_groups_of(session, engagement.id),
            "has_supervisor": any(m.role == SUPERVISOR for m, _c in members)}


async def coachee_context(session, engagement: Engagement, base: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """For the coachee's chat page: who coaches them, and their groups' pages."""
    groups = await gq.get_groups_of(session, engagement.id)
    return {"coaches": await access.coach_names(session, engagement),
            "groups": [(g.name, f"{base}/groups/{g.id}") for g in groups]}


async def _owned(request: web.Request, session) -> Engagement:  # type: ignore[no-untyped-def]
    engagement = await access.get_owned_engagement(session, get_coach(request).id, path_id(request))
    if engagement is None:
        raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    return engagement


@require_coach
async def add_member(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        await team.do_add_member(session, get_coach(request), engagement, email=form.get("email"),
                                 role=form.get("role"), now=request.app[CLOCK].now())
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}#team")


async def _member(request: web.Request):  # type: ignore[no-untyped-def]
    async with request.app[SESSIONS]() as session:
        engagement = await _owned(request, session)
        wanted = path_id(request, "member")
        found = next(((m, c) for m, c in await access.members_of(session, engagement.id) if m.id == wanted), None)
    if found is None:
        raise NotFound("member_unknown", N_("This coach is not on this engagement (any more)."))
    return engagement, found[0], found[1]


@require_coach
async def confirm_remove(request: web.Request) -> web.StreamResponse:
    engagement, member, coach = await _member(request)
    back = f"/engagements/{engagement.id}"
    return await confirm_page(request, "remove_team_member", action=f"{back}/team/{member.id}/remove",
                              back=back, values={"name": coach.name})


@require_coach
async def remove_member(request: web.Request) -> web.StreamResponse:
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        await team.do_remove_member(session, get_coach(request), engagement, path_id(request, "member"),
                                    now=request.app[CLOCK].now())
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}#team")


@require_coach
async def share_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        engagement = await _owned(request, session)
        supervisors = [(m, c) for m, c in await access.members_of(session, engagement.id) if m.role == SUPERVISOR]
        timeline = await queries.get_timeline(session, engagement.id, limit=SHAREABLE_ON_PAGE, include_internal=False)
        shared = await tq.get_shared_ids(session, engagement.id)
        coachee = await queries.get_coachee(session, engagement.coachee_id)
    return await render(request, "supervision_share.html", {
        "engagement": engagement, "coachee": coachee, "supervisors": supervisors, "timeline": timeline,
        "shared": shared})


@require_coach
async def share(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        await team.do_share_with_supervisor(session, get_coach(request), engagement,
                                            supervisor_id=form.get("supervisor_id"),
                                            exchange_ids=form.getall("exchange_id", []), now=request.app[CLOCK].now())
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}/supervisor-share?done=shared")


@require_coach
async def confirm_withdraw(request: web.Request) -> web.StreamResponse:
    engagement, member, coach = await _member(request)
    back = f"/engagements/{engagement.id}/supervisor-share"
    return await confirm_page(request, "withdraw_supervision", action=f"{back}/{member.id}/withdraw", back=back,
                              values={"name": coach.name})


@require_coach
async def withdraw(request: web.Request) -> web.StreamResponse:
    engagement, member, _coach = await _member(request)
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        await team.do_withdraw_shares(session, get_coach(request), engagement, supervisor_id=member.coach_id,
                                      now=request.app[CLOCK].now())
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}/supervisor-share?done=withdrawn")


@require_coach
async def supervising(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        cases = await tq.get_shared_summaries(session, get_coach(request).id)
    return await render(request, "supervising.html", {"cases": cases})


@require_coach
async def supervising_case(request: web.Request) -> web.StreamResponse:
    async with unit_of_work(request.app[SESSIONS]) as session:  # the read is noted in the trail
        case = await team.do_read_shared(session, get_coach(request), path_id(request), now=request.app[CLOCK].now())
    return await render(request, "supervising_case.html", {"case": case})


def register(app: web.Application) -> None:
    app.router.add_post("/engagements/{id}/team", add_member)
    app.router.add_get("/engagements/{id}/team/{member}/remove", confirm_remove)
    app.router.add_post("/engagements/{id}/team/{member}/remove", remove_member)
    app.router.add_get("/engagements/{id}/supervisor-share", share_page)
    app.router.add_post("/engagements/{id}/supervisor-share", share)
    app.router.add_get("/engagements/{id}/supervisor-share/{member}/withdraw", confirm_withdraw)
    app.router.add_post("/engagements/{id}/supervisor-share/{member}/withdraw", withdraw)
    app.router.add_get("/supervising", supervising)
    app.router.add_get("/supervising/{id}", supervising_case)
