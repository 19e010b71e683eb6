"""The group conversation's websockets: ``/groups/{id}/ws`` (the group's coach) and
``/c/{token}/groups/{id}/ws`` (a member, by their own chat link).

The same wire protocol as the one-to-one chat (``protocol``), so the coachee's chat
script serves the group page too: ``sync`` / ``message`` / ``ping`` in; ``history``,
``ack``, ``exchange``, ``error`` out. A group message goes out as an exchange shaped for
each reader (their own on the right; no member's engagement id is shown to others).

Only group events reach these sockets: a member's one-to-one timeline (on
``topics.engagement``) is never forwarded here, only its status and erasure. Removing a
member (``member_removed``) or withdrawing their link closes their group sockets at once;
every read and write also checks membership again in the database.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aiohttp import web

from ecoach.actions.auth_sessions import socket_event_filter
from ecoach.actions.engagements import check_chat_token
from ecoach.actions.errors import ActionError, Forbidden, N_, NotFound
from ecoach.actions.exchanges import check_client_id, check_message
from ecoach.actions.groups import NOT_MEMBER, check_group_member, do_post_group_message, message_dict
from ecoach.actions.unit import unit_of_work
from ecoach.channels.chat.endpoint import link_key, max_frame
from ecoach.channels.chat.coach import login_key
from ecoach.channels.chat.protocol import HISTORY_LIMIT, Connection, Frame, FrameError, int_field, limited, prepare
from ecoach.core import formats, topics
from ecoach.core.tokens import token_digest
from ecoach.keys import CLOCK, HUB, I18N, SESSIONS, SETTINGS
from ecoach.logbook import group_queries as gq
from ecoach.logbook import queries
from ecoach.core.inputs import parse_int
from ecoach.web.security import AUTH_SESSION, current_coach, same_origin

log = logging.getLogger(__name__)


def for_reader(message: dict[str, Any], *, language: str, zone: str, member_id: int | None = None,
               coach_id: int | None = None) -> dict[str, Any]:
    """A group message as one reader's page shows it."""
    mine = (member_id is not None and message.get("member") == member_id) or (
        coach_id is not None and message.get("author") == "coach" and message.get("coach") == coach_id)
    out = {key: value for key, value in message.items() if key not in ("member", "coach")}
    out["shape"] = "from-me" if mine else "from-them"
    out["when"] = formats.moment(datetime.fromisoformat(message["created_at"]), zone, language)
    return out


async def _serve(conn: Connection, request: web.Request, sub, on_event: _Events, *,  # type: ignore[no-untyped-def]
                 group_id: int,
                 check, post) -> None:
    """The frames both sides share: ``check()`` re-reads the right to the group."""
    app = request.app

    async def on_frame(frame: Frame) -> None:
        kind = frame["type"]
        if kind == "ping":
            await conn.reply({"type": "pong"})
        elif kind == "sync":
            async with app[SESSIONS]() as session:
                await check(session)
                rows = await gq.get_messages(session, group_id, after_id=int_field(frame, "after", 0),
                                             limit=HISTORY_LIMIT)
            conn.send({"type": "history", "exchanges": [on_event.shape(message_dict(r)) for r in rows]})
        elif kind == "message":
            client_id = check_client_id(frame.get("client_id"))
            text = check_message(frame.get("text"), app[SETTINGS].max_message_chars)
            async with unit_of_work(app[SESSIONS]) as session:
                message, created = await post(session, text, client_id)
                shaped = on_event.shape(message_dict(message))
            await conn.reply({"type": "ack", "client_id": client_id, "exchange": shaped, "duplicate": not created})
        else:
            raise FrameError("frame_unknown", N_("Unknown message type '%(type)s'."), type=kind[:40])

    await conn.serve(app[HUB], sub, on_event, on_frame)


class _Events:
    """Turns hub events into frames for one reader (``shape`` makes a message theirs)."""

    def __init__(self, shape, handle) -> None:  # type: ignore[no-untyped-def]
        self.shape, self.handle = shape, handle

    def __call__(self, event: Frame) -> Frame | None:
        if event.get("type") == "group_message" and isinstance(event.get("message"), dict):
            return {"type": "exchange", "exchange": self.shape(event["message"])}
        return self.handle(event)


async def coach_group_socket(request: web.Request) -> web.StreamResponse:
    app = request.app
    coach = await current_coach(request)
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=max_frame(app[SETTINGS]))
    await prepare(request, ws)
    conn = Connection(request, ws, app[I18N].gettext(coach.language if coach else app[SETTINGS].default_language))
    if coach is None:
        await conn.reject(ActionError("login_required", N_("Please log in again.")))
        return ws
    if not same_origin(request):
        await conn.reject(Forbidden("origin_refused", N_("This connection did not come from this site.")))
        return ws
    group_id = parse_int(request.match_info["id"], low=1)
    if group_id is None:  # a frame that says why, as for any refused socket
        await conn.reject(NotFound("group_unknown", N_("This group does not exist.")))
        return ws

    async def check(session) -> None:  # type: ignore[no-untyped-def]
        if await gq.get_group(session, coach.id, group_id) is None:
            raise NotFound("group_unknown", N_("This group does not exist."))

    async with app[SESSIONS]() as session:
        try:
            await check(session)
        except ActionError as exc:
            await conn.reject(exc)
            return ws

    async def post(session, text: str, client_id: str):  # type: ignore[no-untyped-def]
        group = await gq.get_group(session, coach.id, group_id)
        if group is None:
            raise NotFound("group_unknown", N_("This group does not exist."))
        return await do_post_group_message(session, group, text=text, client_id=client_id,
                                           now=app[CLOCK].now(), coach=coach, origin=conn.id)

    sub = app[HUB].subscribe(topics.group(group_id), topics.coach(coach.id))
    ended = ActionError("login_required", N_("Please log in again."))
    signed_out = socket_event_filter(request[AUTH_SESSION].id, lambda: conn.error(ended, fatal=True))

    def handle(event: Frame) -> Frame | None:
        signed_out(event)  # closes the socket when its login ended; nothing else passes
        return None

    events = _Events(lambda m: for_reader(m, language=coach.language, zone=coach.time_zone, coach_id=coach.id),
                     handle)
    await _serve(conn, request, sub, events, group_id=group_id, check=check, post=post)
    return ws


async def member_group_socket(request: web.Request) -> web.StreamResponse:
    app = request.app
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=max_frame(app[SETTINGS]))
    await prepare(request, ws)
    token = request.match_info["token"]
    hub = app[HUB]
    group_id = parse_int(request.match_info["group"], low=1)
    if group_id is None:
        await Connection(request, ws, app[I18N].gettext(app[SETTINGS].default_language)).reject(
            NotFound("group_member_removed", NOT_MEMBER))
        return ws
    # As the one-to-one socket: listen for the link's revocation and the member's removal
    # before checking them, so neither can slip by between check and subscription.
    sub = hub.subscribe(topics.chat_link(token_digest(token)), topics.group(group_id))
    async with app[SESSIONS]() as session:
        try:
            link, engagement = await check_chat_token(session, token, app[CLOCK].now())
            await check_group_member(session, group_id, engagement)
            coachee = await queries.get_coachee(session, engagement.coachee_id)
        except ActionError as exc:
            hub.unsubscribe(sub)
            conn = Connection(request, ws, app[I18N].gettext(exc.language or app[SETTINGS].default_language))
            await conn.reject(exc)
            return ws
    assert coachee is not None
    conn = Connection(request, ws, app[I18N].gettext(engagement.language))
    if not same_origin(request):
        hub.unsubscribe(sub)
        await conn.reject(Forbidden("origin_refused", N_("This connection did not come from this site.")))
        return ws
    engagement_id, expires_at, name = engagement.id, link.expires_at, coachee.name
    hub.add_topics(sub, topics.engagement(engagement_id))

    async def check(session) -> None:  # type: ignore[no-untyped-def]
        member = await queries.get_engagement_by_id(session, engagement_id)
        if member is None:
            raise NotFound("engagement_erased", N_("This conversation has been erased."))
        await check_group_member(session, group_id, member)

    async def post(session, text: str, client_id: str):  # type: ignore[no-untyped-def]
        if expires_at is not None and expires_at <= app[CLOCK].now():
            raise NotFound("chat_link_expired", N_("This chat link has expired. Ask your coach for a new link."))
        member = await queries.get_engagement_by_id(session, engagement_id)
        group = await gq.get_group_by_id(session, group_id)
        if member is None or group is None:
            raise NotFound("group_member_removed", NOT_MEMBER)
        return await do_post_group_message(session, group, text=text, client_id=client_id, now=app[CLOCK].now(),
                                           member=member, member_name=name, origin=conn.id, settings=app[SETTINGS])

    def handle(event: Frame) -> Frame | None:
        kind = event.get("type")
        if kind == "revoked":
            conn.error(NotFound("chat_link_revoked", N_("This chat link has been replaced or withdrawn. Ask your "
                                                        "coach for the new link.")), fatal=True)
        elif kind == "erased" or event.get("status") == "erased":
            conn.error(NotFound("engagement_erased", N_("This conversation has been erased.")), fatal=True)
        elif kind == "member_removed" and event.get("engagement_id") == engagement_id:
            conn.error(NotFound("group_member_removed", NOT_MEMBER), fatal=True)
        elif kind == "status" and event.get("engagement_id") == engagement_id:
            return {"type": "status", "status": event.get("status")}
        return None  # the member's one-to-one timeline never reaches the group page

    events = _Events(lambda m: for_reader(m, language=engagement.language, zone=engagement.time_zone,
                                          member_id=engagement_id), handle)
    await _serve(conn, request, sub, events, group_id=group_id, check=check, post=post)
    return ws


def register(app: web.Application) -> None:
    app.router.add_get("/groups/{id}/ws", limited(login_key)(coach_group_socket))
    app.router.add_get("/c/{token}/groups/{group}/ws", limited(link_key)(member_group_socket))
