"""The coach's websocket: ``/ws``. Live inbox and timeline updates for all of the
coach's engagements, and chat replies. Only the coach's own engagements are reachable."""

from __future__ import annotations

import logging

from aiohttp import web

from ecoach.actions.bundles import check_minutes
from ecoach.actions.errors import ActionError, Forbidden, N_, NotFound
from ecoach.actions.exchanges import check_client_id, check_message, exchange_dict
from ecoach.actions.replies import do_coach_reply
from ecoach.channels.chat import co_coaching
from ecoach.channels.chat.endpoint import max_frame
from ecoach.actions.auth_sessions import socket_event_filter
from ecoach.channels.chat.protocol import HISTORY_LIMIT, Connection, Frame, FrameError, int_field, limited, prepare
from ecoach.core import topics
from ecoach.core.tokens import token_digest
from ecoach.logbook import queries
from ecoach.keys import HUB, I18N, SESSIONS, SETTINGS, reply_context
from ecoach.web.security import AUTH_COOKIE, AUTH_SESSION, current_coach, same_origin

log = logging.getLogger(__name__)


async def coach_socket(request: web.Request) -> web.StreamResponse:
    app = request.app
    coach = await current_coach(request)
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=max_frame(app[SETTINGS]))
    await prepare(request, ws)
    language = coach.language if coach else app[SETTINGS].default_language
    conn = Connection(request, ws, app[I18N].gettext(language))
    if coach is None:
        await conn.reject(ActionError("login_required", N_("Please log in again.")))
        return ws
    if not same_origin(request):
        await conn.reject(Forbidden("origin_refused", N_("This connection did not come from this site.")))
        return ws
    coach_id = coach.id
    conn.reader = ("coach", coach.language, coach.time_zone)
    owned: set[int] = set()

    async def check_owned(engagement_id: int) -> None:
        if engagement_id in owned:
            return
        async with app[SESSIONS]() as session:
            if await queries.get_engagement(session, coach_id, engagement_id) is None:
                raise NotFound("engagement_unknown", N_("This engagement does not exist."))
        owned.add(engagement_id)

    async def on_frame(frame: Frame) -> None:
        kind = frame["type"]
        if kind == "ping":
            await conn.reply({"type": "pong"})
            return
        if kind not in ("sync", "message"):
            raise FrameError("frame_unknown", N_("Unknown message type '%(type)s'."), type=kind[:40])
        engagement_id = int_field(frame, "engagement_id")
        await check_owned(engagement_id)
        if kind == "sync":
            async with app[SESSIONS]() as session:
                rows = await queries.get_timeline(
                    session, engagement_id, after_id=int_field(frame, "after", 0), limit=HISTORY_LIMIT
                )
            conn.send({"type": "history", "engagement_id": engagement_id,
                       "exchanges": [exchange_dict(r) for r in rows]})
            return
        client_id = check_client_id(frame.get("client_id"))
        text = check_message(frame.get("text"), app[SETTINGS].max_message_chars)
        recorded = await do_coach_reply(
            reply_context(app), coach, engagement_id,
            channel=frame.get("channel") or "chat", text=text, client_id=client_id, origin=conn.id,
            minutes=check_minutes(frame.get("minutes")),
        )
        await conn.reply({"type": "ack", "client_id": client_id,
                          "exchange": recorded.as_dict(), "duplicate": not recorded.created})

    hub = app[HUB]
    sub = hub.subscribe(topics.coach(coach_id))
    ended = ActionError("login_required", N_("Please log in again."))
    on_event = socket_event_filter(request[AUTH_SESSION].id, lambda: conn.error(ended, fatal=True))
    co = await co_coaching.follow(app, coach_id, sub, owned)  # engagements this coach co-coaches
    try:
        await conn.serve(hub, sub, co.wrap(on_event), on_frame)
    finally:
        co.stop()
    return ws


def register(app: web.Application) -> None:
    app.router.add_get("/ws", limited(login_key)(coach_socket))


def login_key(request: web.Request) -> str:
    return "login:" + token_digest(request.cookies.get(AUTH_COOKIE, "")[:128])
