"""The chat socket's writer (``channels.chat.protocol.Connection``) on a real aiohttp
server: a burst of events (a group commit's pushes) arrives whole and in order, an answer
to the client's frame goes out at once yet never ahead of a frame queued before it, and a
connection does not get the events it caused itself."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ecoach.channels.chat.protocol import Connection, Frame
from ecoach.core.hub import Hub
from ecoach.keys import SETTINGS, SOCKETS
from ecoach.settings import Settings

BURST = 200


def _app(hub: Hub) -> web.Application:
    app = web.Application()
    app[SETTINGS] = Settings()
    app[SOCKETS] = set()

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = Connection(request, ws, lambda text: text)
        sub = hub.subscribe("t")

        async def on_frame(frame: Frame) -> None:
            if frame["type"] == "burst":  # as a commit: many events at once, then the answer
                for n in range(BURST):
                    hub.publish("t", {"type": "exchange", "n": n, "origin": None})
                hub.publish("t", {"type": "exchange", "n": -1, "origin": conn.id})  # this socket's own
                await conn.reply({"type": "ack", "client_id": frame.get("client_id")})
            elif frame["type"] == "queued":  # a frame already queued goes out before the answer
                conn.send({"type": "status", "status": "paused"})
                await conn.reply({"type": "ack", "client_id": frame.get("client_id")})
            elif frame["type"] == "ping":
                await conn.reply({"type": "pong"})

        await conn.serve(hub, sub, lambda event: event, on_frame)
        return ws

    app.router.add_get("/ws", socket)
    return app


async def test_a_burst_arrives_whole_in_order_and_without_the_sockets_own_event() -> None:
    hub = Hub()
    async with TestClient(TestServer(_app(hub))) as client:
        ws = await client.ws_connect("/ws")
        await ws.send_json({"type": "ping"})
        assert (await ws.receive_json(timeout=10)) == {"type": "pong"}  # nothing queued: at once
        await ws.send_json({"type": "burst", "client_id": "burst-001"})
        got = [await ws.receive_json(timeout=10) for _ in range(BURST + 1)]
        # The answer first (as when it went through the writer task: the events were still
        # on their way from the hub), then every event in order, without the socket's own
        # (its ack carries it).
        assert got[0] == {"type": "ack", "client_id": "burst-001"}
        assert [f["n"] for f in got[1:]] == list(range(BURST))
        await ws.send_json({"type": "queued", "client_id": "queued-01"})
        assert (await ws.receive_json(timeout=10))["type"] == "status"
        assert (await ws.receive_json(timeout=10)) == {"type": "ack", "client_id": "queued-01"}
        await ws.send_json({"type": "ping"})
        assert (await ws.receive_json(timeout=10)) == {"type": "pong"}
        await ws.close()
        await asyncio.sleep(0)
