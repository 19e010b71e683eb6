"""A bare aiohttp websocket server speaking the chat protocol without persistence: the
baseline that bench/chat_roundtrip.py compares ecoach against.

Coachee sockets (/c/<token>/ws) get an ack for every message; the observer socket (/ws)
gets a copy, as ecoach's coach socket does."""

from __future__ import annotations

import json
import sys

from aiohttp import WSMsgType, web

OBSERVERS: set[web.WebSocketResponse] = set()


async def coachee(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        frame = json.loads(msg.data)
        exchange = {"client_id": frame.get("client_id"), "text": frame.get("text")}
        await ws.send_str(json.dumps({"type": "ack", "client_id": frame.get("client_id"), "exchange": exchange}))
        event = json.dumps({"type": "exchange", "exchange": exchange})
        for observer in tuple(OBSERVERS):
            await observer.send_str(event)
    return ws


async def observer(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    OBSERVERS.add(ws)
    try:
        async for _ in ws:
            pass
    finally:
        OBSERVERS.discard(ws)
    return ws


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


app = web.Application()
app.router.add_get("/c/{token}/ws", coachee)
app.router.add_get("/ws", observer)
app.router.add_get("/healthz", healthz)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
