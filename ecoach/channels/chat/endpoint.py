"""The coachee's chat websocket: ``/c/{token}/ws``.

Transport only: authenticate the link, parse frames, hand messages to the exchange
writer, acknowledge after commit. Business rules live in the actions.
"""

from __future__ import annotations

import logging

from aiohttp import web

from ecoach.actions.engagements import check_chat_token
from ecoach.actions.errors import ActionError, Forbidden, N_, NotFound
from ecoach.actions.exchanges import NewExchange, check_client_id, check_message, exchange_dict
from ecoach.channels.chat.protocol import (
    HISTORY_LIMIT, Connection, Frame, FrameError, int_field, limited, prepare,
)
from ecoach.core import topics
from ecoach.core.tokens import token_digest
from ecoach.logbook import queries
from ecoach.keys import CLOCK, HANDSHAKE_READS, HUB, I18N, SESSIONS, SETTINGS, WRITER
from ecoach.web.security import same_origin

log = logging.getLogger(__name__)


def max_frame(settings) -> int:  # type: ignore[no-untyped-def]
    # Room for the longest allowed message in UTF-8 and JSON escaping; anything larger
    # is not a chat message and the socket is closed with 1009 (message too big).
    return settings.max_message_chars * 6 + 4096


async def coachee_socket(request: web.Request) -> web.StreamResponse:
    app = request.app
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=max_frame(app[SETTINGS]))
    await prepare(request, ws)
    token = request.match_info["token"]
    hub = app[HUB]
    # Listen for this link's revocation before checking it: one committed after the check
    # read the link still reaches this socket.
    sub = hub.subscribe(topics.chat_link(token_digest(token)))
    # Few handshakes read at once, each briefly (three reads, then the session is closed):
    # a burst of thousands must not hold the pool that messages and pages need.
    async with app[HANDSHAKE_READS], app[SESSIONS]() as session:
        try:
            link, engagement = await check_chat_token(session, token, app[CLOCK].now())
            coachee = engagement.coachee  # read with the link (one statement per handshake)
        except ActionError as exc:
            hub.unsubscribe(sub)
            conn = Connection(request, ws, app[I18N].gettext(exc.language or app[SETTINGS].default_language))
            await conn.reject(exc)
            return ws
    assert coachee is not None
    engagement_id, expires_at = engagement.id, link.expires_at
    conn = Connection(request, ws, app[I18N].gettext(engagement.language))
    conn.reader = ("coachee", engagement.language, engagement.time_zone)
    if not same_origin(request):  # as the coach's socket: no other site may open it
        hub.unsubscribe(sub)
        await conn.reject(Forbidden("origin_refused", N_("This connection did not come from this site.")))
        return ws
    hub.add_topics(sub, topics.engagement(engagement_id))

    def on_event(event: Frame) -> Frame | None:
        if event.get("type") == "erased" or event.get("status") == "erased":
            conn.error(NotFound("engagement_erased", N_("This conversation has been erased. Ask your coach "
                                                        "if you would like to continue.")), fatal=True)
            return None
        if event.get("type") == "revoked":
            raise_revoked = NotFound(
                "chat_link_revoked",
                N_("This chat link has been replaced or withdrawn. Ask your coach for the new link."),
            )
            conn.error(raise_revoked, fatal=True)
            return None
        return event

    async def on_frame(frame: Frame) -> None:
        kind = frame["type"]
        if kind == "ping":
            await conn.reply({"type": "pong"})
        elif kind == "sync":
            after = int_field(frame, "after", 0)
            async with app[SESSIONS]() as session:
                rows = await queries.get_timeline(
                    session, engagement_id, after_id=after, limit=HISTORY_LIMIT, include_internal=False
                )
            conn.send({"type": "history", "engagement_id": engagement_id,
                       "exchanges": [exchange_dict(r) for r in rows]})
        elif kind == "message":
            if expires_at is not None and expires_at <= app[CLOCK].now():
                raise NotFound("chat_link_expired", N_("This chat link has expired. Ask your coach for a new link."))
            client_id = check_client_id(frame.get("client_id"))
            text = check_message(frame.get("text"), app[SETTINGS].max_message_chars)
            recorded = await app[WRITER].submit(
                NewExchange(
                    engagement_id=engagement_id,
                    channel="chat",
                    direction="in",
                    author="coachee",
                    author_name=coachee.name,
                    text=text,
                    external_id=f"chat:{client_id}",
                    origin=conn.id,
                )
            )
            await conn.reply({"type": "ack", "client_id": client_id,
                             "exchange": recorded.as_dict(), "duplicate": not recorded.created})
        else:
            raise FrameError("frame_unknown", N_("Unknown message type '%(type)s'."), type=kind[:40])

    await conn.serve(hub, sub, on_event, on_frame)
    return ws


def register(app: web.Application) -> None:
    app.router.add_get("/c/{token}/ws", limited(link_key)(coachee_socket))


def link_key(request: web.Request) -> str:
    return "link:" + token_digest(request.match_info["token"])
