"""deploy/nginx.conf on Debian's nginx, over TLS on loopback, in front of a real ``ecoach
serve``: pages, styles, scripts, JSON and the calendar feed arrive gzipped; a coachee's chat
works over a websocket through it; a body larger than ecoach reads stops at nginx (413);
/metrics answers through it from an internal network.
"""

from __future__ import annotations

import gzip
import ssl
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from ecoach.actions.session_types import do_new_feed_token
from ecoach.settings import Settings
from tests.booking_support import MONDAY, SECRET, ams, book, ctx, settings, setup
from tests.dovecot import wait_until
from tests.nginx_support import Nginx
from tests.server_process import ServerProcess

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
async def proxied(db_url: str, tmp_path: Path, sessions, make_coach, make_engagement,  # type: ignore[no-untyped-def]
                  clock) -> AsyncIterator[tuple[Nginx, dict[str, str]]]:
    """nginx in front of ``ecoach serve`` on a database with a coach who has a few booked
    sessions (a calendar feed worth compressing) and a coachee with a chat link."""
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    for day in range(3):
        for hour in (9, 10, 11):
            start = ams(MONDAY + timedelta(days=day), hour)
            await book(sessions, ctx(settings(db_url), clock.now()), s.tokens[0], s.type_id, start)
    async with sessions() as session:
        feed = await do_new_feed_token(session, s.coach, now=clock.now(), secret=SECRET)
        await session.commit()
    chat = (await make_engagement(s.coach, secret=SECRET)).chat_token
    (tmp_path / "ecoach").mkdir()
    server = ServerProcess(tmp_path / "ecoach", db_url, ECOACH_SECRET_KEY=SECRET, ECOACH_AUTO_MIGRATE="false",
                           ECOACH_SCHEDULER__ENABLED="false", ECOACH_METRICS__ENABLED="true")
    server.start()
    nginx = Nginx(tmp_path / "nginx", upstream=f"127.0.0.1:{server.port}")
    nginx.start()
    try:
        yield nginx, {"feed": feed, "chat": chat, "direct": server.url}
    finally:
        nginx.stop()
        server.stop()


async def test_nginx_gzips_text_carries_websockets_and_limits_bodies(proxied) -> None:  # type: ignore[no-untyped-def]
    nginx, made = proxied
    tls = ssl.create_default_context(cafile=nginx.certificate)
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        async def up() -> bool:
            try:
                async with http.get(nginx.https + "/healthz", ssl=tls) as response:
                    return response.status == 200
            except aiohttp.ClientConnectionError:
                return False

        await wait_until(up)
        # /metrics through nginx: open to this (internal) network, checked again by ecoach.
        async with http.get(nginx.https + "/metrics", ssl=tls, headers={"Accept-Encoding": "identity"}) as response:
            assert response.status == 200 and b"ecoach_task_lag_seconds" in await response.read()
        for path, kind in (("/login", "text/html"), ("/static/style.css", "text/css"),
                           ("/static/chat.js", "javascript"), ("/api/openapi.json", "application/json"),
                           (f"/calendar/{made['feed']}.ics", "text/calendar")):
            async with http.get(nginx.https + path, ssl=tls, headers={"Accept-Encoding": "gzip"}) as response:
                assert response.status == 200, path
                assert kind in response.headers["Content-Type"], (path, response.headers["Content-Type"])
                assert response.headers.get("Content-Encoding") == "gzip", path
                assert "Accept-Encoding" in response.headers.get("Vary", ""), path
                body = gzip.decompress(await response.read())
            async with http.get(made["direct"] + path, headers={"Accept-Encoding": "identity"}) as direct:
                if kind != "text/html":  # the page carries a fresh CSRF token each time
                    assert body == await direct.read(), path
        assert b"BEGIN:VEVENT" in body

        async with http.ws_connect(nginx.https.replace("https", "wss") + f"/c/{made['chat']}/ws", ssl=tls) as ws:
            await ws.send_json({"type": "message", "client_id": "through-nginx-1", "text": "Hallo via nginx"})
            while (frame := await ws.receive_json(timeout=30))["type"] != "ack":
                assert frame["type"] != "error", frame
            assert frame["client_id"] == "through-nginx-1" and frame["exchange"]["text"] == "Hallo via nginx"

        limit = Settings().max_request_bytes
        async with http.post(nginx.https + "/login", ssl=tls, data=b"x" * (limit + 1),
                             headers={"Content-Type": "application/x-www-form-urlencoded"}) as too_big:
            assert too_big.status == 413 and b"nginx" in await too_big.read(), "nginx refuses it, not ecoach"
        async with http.post(nginx.https + "/login", ssl=tls, data=b"x" * limit,
                             headers={"Content-Type": "application/x-www-form-urlencoded"}) as allowed:
            assert allowed.status != 413, "a body ecoach accepts passes nginx"
            assert allowed.status < 500
