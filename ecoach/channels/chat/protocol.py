"""The chat wire protocol, shared by the coachee and coach websockets.

Client -> server (JSON text frames):
  {"type": "sync", "after": <last exchange id seen>, ["engagement_id": id]}
  {"type": "message", "client_id": "<8-64 of A-Za-z0-9_->", "text": "...", ["engagement_id": id]}
  {"type": "ping"}
Server -> client:
  {"type": "history", "engagement_id": id, "exchanges": [...]}   answer to sync
  {"type": "ack", "client_id": ..., "exchange": {...}, "duplicate": bool}
  {"type": "exchange", "engagement_id": id, "exchange": {...}}    pushed after commit
  {"type": "status", "engagement_id": id, "status": "active|paused|closed"}
  {"type": "error", "code": ..., "message": ..., ["client_id": ...], ["fatal": true]}
  {"type": "pong"}
A resend of an unacknowledged message reuses its client_id, so it is stored once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from ecoach.actions.errors import ActionError, N_
from ecoach.core import notices
from ecoach.core.hub import Hub, Subscription
from ecoach.core.inputs import JSON_MAX_DEPTH, MAX_INT, InputRefused, load_json
from ecoach.keys import OPEN_SOCKET, SETTINGS, SOCKET_LIMITS, SOCKETS
from ecoach.web.security import client_address

log = logging.getLogger(__name__)

Frame = dict[str, Any]
HISTORY_LIMIT = 500
# Frames go out as compact JSON (what ``json.dumps`` writes, less the spaces after ``,``
# and ``:``); one encoder for all, as ``json.dumps`` builds a new one per call when given
# any option. Frames are trees built here, never cyclic: no check for cycles.
dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


class FrameError(ActionError):
    pass


def parse_frame(data: Any, max_depth: int = JSON_MAX_DEPTH) -> Frame:
    try:
        frame = load_json(data, max_depth=max_depth)
    except InputRefused as exc:
        if exc.code == "text_invalid":
            raise FrameError("text_invalid", N_("The message contains characters that cannot be stored.")) from None
        raise FrameError("frame_invalid", N_("The server received a message it could not read.")) from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise FrameError("frame_invalid", N_("The server received a message it could not read."))
    return frame


def int_field(frame: Frame, name: str, default: int | None = None) -> int:
    value = frame.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise FrameError("frame_invalid", N_("The field '%(field)s' must be a whole number."), field=name)
    return value


class Connection:
    """One websocket: a single writer task sends queued frames and hub events in order."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, gettext: Any) -> None:
        self.request = request
        self.ws = ws
        self.gettext = gettext
        self.outgoing: asyncio.Queue[Frame | None] = asyncio.Queue()
        self.writing = False  # the writer task is sending a frame it took from ``outgoing``
        self.id = secrets.token_hex(8)  # marks what this connection sent (see origin)
        # (viewer, language, zone): exchanges go out rendered for this reader (notices in
        # their language, times as their pages show them).
        self.reader: tuple[str, str, str] | None = None

    def send(self, frame: Frame) -> None:
        if self.reader is not None:
            frame = localise_frame(frame, *self.reader)
        self.outgoing.put_nowait(frame)

    async def reply(self, frame: Frame) -> None:
        """Send the answer to a client's frame (an ack) at once when nothing is queued or
        being sent before it (else behind that, in order): every message has one, and a
        hand-over to the writer task was a second wake-up of the event loop per message."""
        if self.writing or not self.outgoing.empty():
            self.send(frame)
            return
        if self.reader is not None:
            frame = localise_frame(frame, *self.reader)
        try:
            await self.ws.send_str(dumps(frame))
        except ConnectionError:
            pass  # the client went away: the receive loop ends (as the writer task's sends)

    def error(self, exc: ActionError, *, client_id: Any = None, fatal: bool = False) -> None:
        frame: Frame = {"type": "error", "code": exc.code, "message": exc.translated(self.gettext)}
        if isinstance(client_id, str):
            frame["client_id"] = client_id
        if fatal:
            frame["fatal"] = True
            frame["status"] = exc.status
        self.send(frame)

    async def reject(self, exc: ActionError) -> None:
        """Refuse the connection with a clear reason the page can show."""
        await self.ws.send_json(
            {"type": "error", "code": exc.code, "message": exc.translated(self.gettext),
             "fatal": True, "status": exc.status}
        )
        await self.ws.close(code=4000 + exc.status)

    async def _writer(self) -> None:
        frame = await self.outgoing.get()
        while frame is not None:
            self.writing = True
            # Several frames waiting (a group commit's events on a coach's socket): corked,
            # the kernel sends them as one segment, not one per frame (each one a trip
            # through the network stack and a wake-up of the reader).
            corked = not self.outgoing.empty() and self._cork(True)
            try:
                while True:
                    await self.ws.send_str(dumps(frame))
                    if frame.get("fatal"):
                        await self.ws.close(code=4000 + int(frame.get("status", 400)))
                        return
                    if self.outgoing.empty():
                        break
                    if (frame := self.outgoing.get_nowait()) is None:
                        return
            finally:
                if corked:
                    self._cork(False)
            self.writing = False
            frame = await self.outgoing.get()

    def _cork(self, on: bool) -> bool:
        """Hold back (``on``) or push out what is written to this socket (Linux's TCP_CORK;
        elsewhere, and on a socket that is gone, nothing is held back: False)."""
        transport = self.request.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is None or not hasattr(socket, "TCP_CORK"):
            return False
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, int(on))
        except OSError:  # not TCP (a Unix socket behind a proxy), or closed meanwhile
            return False
        return True

    async def _relay(self, sub: Subscription, on_event: Callable[[Frame], Frame | None]) -> None:
        while (event := await sub.queue.get()) is not None:
            if event.get("origin") == self.id:
                continue  # our own message: its ack carried it already
            frame = on_event(event)
            if frame is not None:
                self.send(frame)
        # The hub dropped us (too slow): close so the client reconnects and resyncs.
        await self.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"resync")

    async def serve(
        self,
        hub: Hub,
        sub: Subscription,
        on_event: Callable[[Frame], Frame | None],
        on_frame: Callable[[Frame], Awaitable[None]],
    ) -> None:
        self.request.app[SOCKETS].add(self.ws)
        sub.origin = self.id  # the hub keeps this connection's own messages from it (see _relay)
        writer = asyncio.create_task(self._writer())
        relay = asyncio.create_task(self._relay(sub, on_event))
        try:
            async for msg in self.ws:
                if msg.type != WSMsgType.TEXT:
                    if msg.type == WSMsgType.BINARY:
                        self.error(FrameError("frame_binary", N_("Only text messages are accepted.")))
                    continue
                try:
                    await on_frame(parse_frame(msg.data, self.request.app[SETTINGS].limits.json_max_depth))
                except ActionError as exc:
                    self.error(exc, client_id=_client_id(msg.data))
                except Exception:  # noqa: BLE001 - never an HTTP error inside the socket
                    log.exception("frame failed on %s", self.request.path)
                    self.error(ActionError("internal", N_("Something went wrong on our side. Please try again.")),
                               client_id=_client_id(msg.data))
                if writer.done():
                    break
        finally:
            hub.unsubscribe(sub)
            relay.cancel()
            self.outgoing.put_nowait(None)
            try:
                await asyncio.wait_for(writer, timeout=5)
            except (asyncio.TimeoutError, ConnectionError, RuntimeError):
                writer.cancel()
            self.request.app[SOCKETS].discard(self.ws)


def localise_frame(frame: Frame, viewer: str, language: str, zone: str) -> Frame:
    if isinstance(frame.get("exchange"), dict):
        return {**frame, "exchange": notices.localise(frame["exchange"], viewer, language, zone)}
    if isinstance(frame.get("exchanges"), list):
        return {**frame, "exchanges": [notices.localise(x, viewer, language, zone) for x in frame["exchanges"]]}
    return frame


def _client_id(data: Any) -> Any:
    try:
        frame = load_json(data)
    except InputRefused:
        return None
    return frame.get("client_id") if isinstance(frame, dict) else None


async def prepare(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Upgrade the connection; from here on errors close the socket (see web.errors)."""
    await ws.prepare(request)
    request[OPEN_SOCKET] = ws


REFUSED = "Too many connections. Close other chat windows or try again later."


def limited(key_of: Callable[[web.Request], str]):  # type: ignore[no-untyped-def]
    """Mark a socket handler for ``socket_gate``: ``key_of(request)`` names what its open
    sockets are counted by (a chat link, a coach's login)."""

    def decorate(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):  # type: ignore[no-untyped-def]
        handler.socket_key = key_of  # type: ignore[attr-defined]
        return handler

    return decorate


@web.middleware
async def socket_gate(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """The first middleware: cap open sockets per key and per client, and handshakes per
    client, before the upgrade and before any other work (no session, no database), so a
    flood of refusals costs the server as little as possible: a plain 429."""
    key_of = getattr(request.match_info.handler, "socket_key", None)
    if key_of is None:
        return await handler(request)
    limits = request.app[SOCKET_LIMITS]
    ticket = limits.admit(key_of(request), client_address(request))
    if isinstance(ticket, str):
        return web.json_response({"error": {"code": ticket, "message": REFUSED}}, status=429,
                                 headers={"Retry-After": "60", **NO_STORE})
    try:
        return await handler(request)
    finally:
        limits.release(ticket)


NO_STORE = {"Cache-Control": "no-store"}
