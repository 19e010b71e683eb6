"""Coaching groups, for the coach (``/groups``, ``/groups/{id}``) and for a member
(``/c/{token}/groups/{group}``, by their own chat link).

The group page holds the members (add one of your engagements; removing asks first), the
group conversation (live through ``/groups/{id}/ws``; the coachee's chat script serves
both sides), a nudge to the whole group and a session booked for everyone at once.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from ecoach.actions import groups as group_actions
from ecoach.actions.booking import BookingContext
from ecoach.actions.booking_offer import get_offer
from ecoach.actions.engagements import check_chat_token
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.exchanges import check_client_id, check_message
from ecoach.actions.group_sessions import do_book_group_session
from ecoach.actions.unit import unit_of_work
from ecoach.core.inputs import parse_int
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.logbook import booking_queries as bq
from ecoach.logbook import group_queries as gq
from ecoach.logbook import queries
from ecoach.web.confirm import CONFIRMATIONS, Confirmation, confirm_page
from ecoach.web.params import path_id
from ecoach.web.render import render, set_language
from ecoach.web.security import get_coach, require_coach

HISTORY_ON_PAGE = 200
SLOTS_SHOWN = 60

CONFIRMATIONS["remove_group_member"] = Confirmation(
    N_("Remove %(name)s from the group %(group)s?"),
    N_("%(name)s can no longer read or write in the group's conversation, also not in a window open now. "
       "What %(name)s wrote stays in the group. Your own chat with %(name)s is not affected."),
    N_("Remove from the group"), N_("Keep in the group"))


async def _group(request: web.Request, session):  # type: ignore[no-untyped-def]
    group = await gq.get_group(session, get_coach(request).id, path_id(request))
    if group is None:
        raise NotFound("group_unknown", N_("This group does not exist."))
    return group


@require_coach
async def groups_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        rows = await gq.get_groups(session, get_coach(request).id)
    return await render(request, "groups.html", {"rows": rows})


@require_coach
async def create_group(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    async with unit_of_work(request.app[SESSIONS]) as session:
        group = await group_actions.do_create_group(session, get_coach(request), name=form.get("name"),
                                                    language=form.get("language"), now=request.app[CLOCK].now())
    raise web.HTTPSeeOther(f"/groups/{group.id}")


async def _slots(request: web.Request, session, coach_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The session kinds, and the free times of the chosen kind (``?type=``)."""
    types = await bq.get_session_types(session, coach_id)
    chosen = parse_int(request.query.get("type"))
    item = next((t for t in types if t.id == chosen), None)
    slots = []
    if item is not None:
        offer = await get_offer(session, item, now=request.app[CLOCK].now(),
                                step_minutes=request.app[SETTINGS].booking.slot_step_minutes)
        slots = offer.slots[:SLOTS_SHOWN]
    return {"session_types": types, "chosen_type": item, "slots": slots}


@require_coach
async def group_page(request: web.Request) -> web.StreamResponse:
    coach = get_coach(request)
    async with unit_of_work(request.app[SESSIONS]) as session:  # reading the page marks the group read
        group = await _group(request, session)
        await group_actions.do_mark_group_read(session, group)
        members = await gq.get_members(session, group.id)
        inside = {m.engagement.id for m in members}
        candidates = [r for r in await queries.get_inbox(session, coach.id, limit=500)
                      if r.engagement.id not in inside and r.engagement.coach_id == coach.id]
        messages = await gq.get_messages(session, group.id, limit=HISTORY_ON_PAGE)
        upcoming = await gq.get_group_sessions(session, group.id, request.app[CLOCK].now())
        slots = await _slots(request, session, coach.id)
        type_names = {t.id: t.name for t in await bq.get_session_types(session, coach.id, active_only=False)}
    context = {"group": group, "members": members, "candidates": candidates, "upcoming": upcoming,
               "type_names": type_names, "changeable_after": request.app[CLOCK].now(),
               "messages": [_shown(m, coach.id) for m in messages], "client_id": uuid.uuid4().hex,
               "max_chars": request.app[SETTINGS].max_message_chars, "done": request.query.get("done"), **slots}
    return await render(request, "group.html", context)


def _shown(message, coach_id: int | None = None, member_id: int | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    mine = (member_id is not None and message.engagement_id == member_id) or (
        coach_id is not None and message.author == "coach" and message.author_coach_id == coach_id)
    return {"m": message, "shape": "from-me" if mine else "from-them"}


@require_coach
async def add_member(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    async with unit_of_work(request.app[SESSIONS]) as session:
        group = await _group(request, session)
        await group_actions.do_add_group_member(session, get_coach(request), group, form.get("engagement_id"),
                                                now=request.app[CLOCK].now())
    raise web.HTTPSeeOther(f"/groups/{group.id}?done=member_added#members")


async def _member_context(request: web.Request) -> tuple[Any, Any]:
    async with request.app[SESSIONS]() as session:
        group = await _group(request, session)
        member = next((m for m in await gq.get_members(session, group.id)
                       if m.engagement.id == path_id(request, "engagement")), None)
    if member is None:
        raise NotFound("member_unknown", N_("This coachee is not in the group (any more)."))
    return group, member


@require_coach
async def confirm_remove_member(request: web.Request) -> web.StreamResponse:
    group, member = await _member_context(request)
    back = f"/groups/{group.id}"
    return await confirm_page(request, "remove_group_member",
                              action=f"{back}/members/{member.engagement.id}/remove", back=back,
                              values={"name": member.name, "group": group.name})


@require_coach
async def remove_member(request: web.Request) -> web.StreamResponse:
    async with unit_of_work(request.app[SESSIONS]) as session:
        group = await _group(request, session)
        await group_actions.do_remove_group_member(session, get_coach(request), group,
                                                   path_id(request, "engagement"), now=request.app[CLOCK].now())
    raise web.HTTPSeeOther(f"/groups/{group.id}?done=member_removed#members")


@require_coach
async def post_message(request: web.Request) -> web.StreamResponse:
    """The group's message box without JavaScript (with it, messages go over the socket)."""
    form = await request.post()
    text = check_message(form.get("text", ""), request.app[SETTINGS].max_message_chars)
    client_id = check_client_id(form.get("client_id"))
    async with unit_of_work(request.app[SESSIONS]) as session:
        group = await _group(request, session)
        await group_actions.do_post_group_message(session, group, text=text, client_id=client_id,
                                                  now=request.app[CLOCK].now(), coach=get_coach(request))
    raise web.HTTPSeeOther(f"/groups/{group.id}#group-chat")


@require_coach
async def nudge_group(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    text = check_message(form.get("text", ""), request.app[SETTINGS].max_message_chars)
    client_id = check_client_id(form.get("client_id"))
    async with unit_of_work(request.app[SESSIONS]) as session:
        group = await _group(request, session)
        await group_actions.do_group_nudge(session, get_coach(request), group, text=text, client_id=client_id,
                                           now=request.app[CLOCK].now())
    raise web.HTTPSeeOther(f"/groups/{group.id}?done=nudged#nudge")


@require_coach
async def book_session(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    settings = request.app[SETTINGS]
    ctx = BookingContext(settings=settings, now=request.app[CLOCK].now(), secret=settings.secret)
    async with unit_of_work(request.app[SESSIONS]) as session:
        group = await _group(request, session)
        await do_book_group_session(session, ctx, get_coach(request), group, type_id=form.get("type_id"),
                                    start=form.get("start"))
    raise web.HTTPSeeOther(f"/groups/{group.id}?done=booked#group-sessions")


async def member_page(request: web.Request) -> web.StreamResponse:
    """A member's view of the group: the conversation, and a way back to their own chat."""
    async with request.app[SESSIONS]() as session:
        try:
            _link, engagement = await check_chat_token(session, request.match_info["token"], request.app[CLOCK].now())
            group = await group_actions.check_group_member(session, request.match_info["group"], engagement)
        except ActionError as exc:
            if exc.language:
                set_language(request, exc.language)
            raise
        set_language(request, engagement.language)
        messages = await gq.get_messages(session, group.id, limit=HISTORY_ON_PAGE)
        coach = await queries.get_coach(session, group.coach_id)
        upcoming = await gq.get_group_sessions(session, group.id, request.app[CLOCK].now())
    context = {"group": group, "engagement": engagement, "coach_name": coach.name if coach else "",
               "messages": [_shown(m, member_id=engagement.id) for m in messages], "upcoming": upcoming,
               "max_chars": request.app[SETTINGS].max_message_chars,
               "chat_path": request.path.rsplit("/groups/", 1)[0]}
    response = await render(request, "group_member.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


def register(app: web.Application) -> None:
    app.router.add_get("/groups", groups_page)
    app.router.add_post("/groups", create_group)
    app.router.add_get("/groups/{id}", group_page)
    app.router.add_post("/groups/{id}/members", add_member)
    app.router.add_get("/groups/{id}/members/{engagement}/remove", confirm_remove_member)
    app.router.add_post("/groups/{id}/members/{engagement}/remove", remove_member)
    app.router.add_post("/groups/{id}/messages", post_message)
    app.router.add_post("/groups/{id}/nudge", nudge_group)
    app.router.add_post("/groups/{id}/sessions", book_session)
    app.router.add_get("/c/{token}/groups/{group}", member_page)
