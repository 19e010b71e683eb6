"""Coach administration in the browser (administrators only): invite a coach, deactivate
and reactivate, hand a deactivated coach's engagements to another coach, roles."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ecoach.actions import coach_admin as actions
from ecoach.actions.errors import ActionError
from ecoach.actions.unit import unit_of_work
from ecoach.core.inputs import parse_int
from ecoach.logbook import account_queries as aq
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.web.params import path_id
from ecoach.web.render import gettext_for, render
from ecoach.web.security import get_coach, require_admin

DONE = {"invited", "deactivated", "reactivated", "handed_over", "role"}


async def _page(request: web.Request, **extra: Any) -> web.Response:
    async with request.app[SESSIONS]() as session:
        coaches = await aq.get_coaches(session)
    done = request.query.get("done")
    context: dict[str, Any] = {
        "coaches": coaches, "active": [r.coach for r in coaches if r.coach.deactivated_at is None
                                       and not r.invited],
        "done": done if done in DONE else None, "moved": request.query.get("moved", "")[:6],
        "error": None, "form": {}, "invite_url": None, "mail_enabled": request.app[SETTINGS].mail.enabled,
    }
    context.update(extra)
    return await render(request, "admin_coaches.html", context, status=context.pop("status", 200))


async def _failed(request: web.Request, exc: ActionError, **extra: Any) -> web.Response:
    return await _page(request, error=exc.translated(await gettext_for(request)), status=exc.status, **extra)


@require_admin
async def coaches_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@require_admin
async def invite(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    fields = {k: str(form.get(k, ""))[:320] for k in ("name", "email", "language")}
    app = request.app
    try:
        async with unit_of_work(app[SESSIONS]) as session:  # the queued mail goes out after the commit
            _coach, url = await actions.do_invite_coach(
                session, app[SETTINGS], get_coach(request), name=fields["name"], email=fields["email"],
                language=fields["language"] or app[SETTINGS].default_language, now=app[CLOCK].now())
    except ActionError as exc:
        return await _failed(request, exc, form=fields)
    return await _page(request, done="invited", invite_url=url)


@require_admin
async def reinvite(request: web.Request) -> web.StreamResponse:
    app = request.app
    async with unit_of_work(app[SESSIONS]) as session:
        url = await actions.do_reinvite(session, app[SETTINGS], get_coach(request), path_id(request),
                                        now=app[CLOCK].now())
    return await _page(request, done="invited", invite_url=url)


@require_admin
async def deactivate(request: web.Request) -> web.StreamResponse:
    coach_id = path_id(request)
    async with unit_of_work(request.app[SESSIONS]) as session:
        await actions.do_deactivate(session, get_coach(request), coach_id, now=request.app[CLOCK].now())
    raise web.HTTPSeeOther("/admin/coaches?done=deactivated")


@require_admin
async def reactivate(request: web.Request) -> web.StreamResponse:
    async with unit_of_work(request.app[SESSIONS]) as session:
        await actions.do_reactivate(session, path_id(request), now=request.app[CLOCK].now())
    raise web.HTTPSeeOther("/admin/coaches?done=reactivated")


@require_admin
async def hand_over(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    target = parse_int(form.get("to"), low=1) or 0
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            moved = await actions.do_hand_over(session, path_id(request), target, now=request.app[CLOCK].now())
    except ActionError as exc:
        return await _failed(request, exc)
    raise web.HTTPSeeOther(f"/admin/coaches?done=handed_over&moved={moved}")


@require_admin
async def set_role(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            await actions.do_set_role(session, get_coach(request), path_id(request), str(form.get("role", "")),
                                      now=request.app[CLOCK].now())
    except ActionError as exc:
        return await _failed(request, exc)
    raise web.HTTPSeeOther("/admin/coaches?done=role")


def register(app: web.Application) -> None:
    app.router.add_get("/admin/coaches", coaches_page)
    app.router.add_post("/admin/coaches", invite)
    app.router.add_post("/admin/coaches/{id}/invite", reinvite)
    app.router.add_post("/admin/coaches/{id}/deactivate", deactivate)
    app.router.add_post("/admin/coaches/{id}/reactivate", reactivate)
    app.router.add_post("/admin/coaches/{id}/hand-over", hand_over)
    app.router.add_post("/admin/coaches/{id}/role", set_role)
