"""Regression tests for the defects the black-box review found (issue 8), on both databases."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from aiohttp import WSMsgType, WSServerHandshakeError
from argon2 import PasswordHasher
from sqlalchemy import func, select

from ecoach.actions import passwords
from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.models import Exchange
from tests.support import PASSWORD, app_client, csrf_of, login, seed, settings_for
from tests.conftest import fresh_keyring

SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options")


async def count_exchanges(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, fresh_keyring())() as session:
            return int((await session.execute(select(func.count()).select_from(Exchange))).scalar_one())
    finally:
        await engine.dispose()


async def frame(ws) -> dict:  # type: ignore[no-untyped-def]
    msg = await ws.receive(timeout=5)
    assert msg.type == WSMsgType.TEXT, msg
    return json.loads(msg.data)


def cookie_header(client) -> str:  # type: ignore[no-untyped-def]
    return "; ".join(f"{c.key}={c.value}" for c in client.session.cookie_jar)


# --- 1. logout ends the session ----------------------------------------------------------

async def test_a_copied_cookie_stops_working_after_logout(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    settings = settings_for(db_url)
    async with app_client(settings, clock) as client, app_client(settings, clock) as thief:
        await login(client, a["email"])
        copied = cookie_header(client)
        csrf = await csrf_of(client, "/")
        assert (await thief.get("/", headers={"Cookie": copied}, allow_redirects=False)).status == 200
        token = await csrf_of(client, "/")
        await client.post("/logout", data={"_csrf": token})
        # Replayed after logout: the login page, no page, no message, no socket.
        page = await thief.get("/", headers={"Cookie": copied}, allow_redirects=False)
        assert page.status == 303 and page.headers["Location"].startswith("/login")
        sent = await thief.post(f"/engagements/{a['engagement_id']}/messages", allow_redirects=False,
                                headers={"Cookie": copied},
                                data={"_csrf": csrf, "client_id": "replayed-1", "text": "hi"})
        assert sent.status in (303, 403) and sent.headers.get("Location", "/login").startswith("/login")
        ws = await thief.ws_connect("/ws", headers={"Cookie": copied})
        assert (await frame(ws))["code"] == "login_required"
        await ws.close()
    assert await count_exchanges(db_url) == 0


async def test_logout_closes_the_sessions_open_socket(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, a["email"])
        ws = await client.ws_connect("/ws")
        await client.post("/logout", data={"_csrf": await csrf_of(client, "/")})
        ended = await frame(ws)
        assert (ended["code"], ended["fatal"]) == ("login_required", True)
        assert (await ws.receive(timeout=5)).type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)


async def test_sessions_end_after_idle_time_and_lifetime(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    settings = settings_for(db_url, session_max_age_hours=2, accounts={"session_idle_minutes": 30})
    async with app_client(settings, clock) as client:
        await login(client, a["email"])
        for _ in range(4):  # active every 25 minutes: stays logged in ...
            clock.advance(minutes=25)
            assert (await client.get("/", allow_redirects=False)).status == 200
        clock.advance(minutes=25)  # ... but not past the absolute lifetime (2 h)
        assert (await client.get("/", allow_redirects=False)).status == 303
        await login(client, a["email"])
        clock.advance(minutes=31)  # idle too long
        assert (await client.get("/", allow_redirects=False)).status == 303


# --- 2. open redirect --------------------------------------------------------------------

HOSTILE_NEXT = ["/\t/evil.example/", "/\r\n/evil.example", "//evil.example/", "/\\evil.example",
                "https://evil.example/", "\\/evil.example", "/%0a", "java\nscript:alert(1)", " //evil.example"]


async def test_no_open_redirect_after_login(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    async with app_client(settings_for(db_url), clock) as client:
        for target in HOSTILE_NEXT:
            token = await csrf_of(client, "/login")
            response = await client.post("/login", allow_redirects=False, data={
                "_csrf": token, "email": a["email"], "password": PASSWORD, "next": target})
            assert response.headers["Location"].lower() in ("/", "/%0a"), target
        page = await client.get("/login?next=%2F%09%2Fevil.example%2F", allow_redirects=False)
        assert page.status == 303 and page.headers["Location"] == "/"
        page = await client.get("/login?next=/engagements/1%3Fa%3Db", allow_redirects=False)
        assert page.headers["Location"] == "/engagements/1?a=b"


# --- 3. the login limiter ----------------------------------------------------------------

async def _try(client, email: str, password: str, address: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"X-Forwarded-For": address} if address else {}
    token = await csrf_of(client, "/login")
    return await client.post("/login", allow_redirects=False, headers=headers,
                             data={"_csrf": token, "email": email, "password": password})


async def test_guessing_from_one_client_does_not_lock_out_the_coach(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    settings = settings_for(db_url, login_attempts=5, trusted_proxies="127.0.0.1")
    async with app_client(settings, clock) as client:
        for _ in range(5):
            assert (await _try(client, a["email"], "wrong password", "203.0.113.5")).status == 400
        refused = await _try(client, a["email"], PASSWORD, "203.0.113.5")
        assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
        # The coach, from their own address, logs in as usual.
        assert (await _try(client, a["email"], PASSWORD, "198.51.100.7")).status == 303


async def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    async with app_client(settings_for(db_url, login_attempts=3, trusted_proxies=""), clock) as client:
        for n in range(3):  # a different made-up address each time: still one client
            assert (await _try(client, a["email"], "wrong password", f"192.0.2.{n}")).status == 400
        assert (await _try(client, a["email"], PASSWORD, "192.0.2.99")).status == 429


async def test_the_account_slows_down_but_the_right_password_gets_in(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    settings = settings_for(db_url, login_attempts=5, trusted_proxies="127.0.0.1",
                            accounts={"account_login_attempts": 4, "account_login_interval_seconds": 30})
    async with app_client(settings, clock) as client:
        for n in range(4):  # a botnet: one guess per address
            assert (await _try(client, a["email"], "wrong password", f"203.0.113.{n}")).status == 400
        slowed = await _try(client, a["email"], PASSWORD, "198.51.100.7")
        assert slowed.status == 429 and int(slowed.headers["Retry-After"]) <= 30
        clock.advance(seconds=31)
        assert (await _try(client, a["email"], PASSWORD, "198.51.100.7")).status == 303
        clock.advance(seconds=31)  # the next guess is allowed again, and slows the account again
        assert (await _try(client, a["email"], "wrong again", "203.0.113.9")).status == 400
        assert (await _try(client, a["email"], "wrong again", "203.0.113.10")).status == 429


async def test_parallel_attempts_are_counted_exactly(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    async with app_client(settings_for(db_url, login_attempts=5), clock) as client:
        token = await csrf_of(client, "/login")
        before = passwords.Counter.checks

        async def attempt():  # type: ignore[no-untyped-def]
            response = await client.post("/login", allow_redirects=False, data={
                "_csrf": token, "email": a["email"], "password": "wrong password"})
            return response.status

        statuses = await asyncio.gather(*(attempt() for _ in range(30)))
        assert passwords.Counter.checks - before == 5
        assert sorted(statuses) == [400] * 5 + [429] * 25


async def test_password_hashing_runs_off_the_event_loop(db_url, clock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    threads: list[str] = []

    class Watched(PasswordHasher):
        def verify(self, stored, password):  # type: ignore[no-untyped-def]
            threads.append(threading.current_thread().name)
            return super().verify(stored, password)

    monkeypatch.setattr(passwords, "hasher", Watched(time_cost=1, memory_cost=64, parallelism=1))
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, a["email"])
    assert threads and all(name.startswith("argon2") for name in threads)


# --- 5. no 500 on bad input --------------------------------------------------------------

async def test_bad_numbers_and_text_get_clear_errors(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    eid = a["engagement_id"]
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, a["email"])
        for path, status in [
            ("/engagements/9223372036854775808", 404), ("/engagements/%C2%B2", 404),
            ("/engagements/-1", 404), ("/?page=99999999999999999999999", 200),
            (f"/engagements/{eid}?before=%C2%B2", 200), (f"/engagements/{eid}?before=99999999999999999999", 200),
            ("/search?q=%00", 400), ("/search?q=a%ED%A0%80", 200),
        ]:
            response = await client.get(path)
            assert response.status == status, path
        csrf = await csrf_of(client, "/")
        for path in ("/sessions/bookings/%C2%B2/reschedule", "/sessions/bookings/9223372036854775808/cancel"):
            response = await client.post(path, data={"_csrf": csrf}, allow_redirects=False)
            assert response.status == 404, path
        nul = await client.post(f"/engagements/{eid}/messages", allow_redirects=False,
                                data={"_csrf": csrf, "client_id": "nul-00001", "text": "a\x00b"})
        assert nul.status == 400 and "niet opgeslagen" in await nul.text()
        api = {"Authorization": f"Bearer {a['api_token']}", "Content-Type": "application/json"}
        url = f"/api/v1/engagements/{eid}/messages"
        for raw, status in [("[" * 100000, 422), ('{"client_id": "abcdefgh", "text": "\\ud800"}', 422),
                            ('{"client_id": "abcdefgh", "text": "a\\u0000"}', 422), ("{", 400),
                            ('{"client_id": "abcdefgh", "text": "x", "n": 1e400}', 422)]:
            response = await client.post(url, data=raw.encode(), headers=api)
            assert response.status == status, raw[:40]
            assert (await response.json())["error"]["code"] == "invalid_request"
        for query in ("limit=99999999999999999999999", "after_id=%C2%B2", "before_id=9223372036854775808"):
            response = await client.get(f"/api/v1/engagements/{eid}/exchanges?{query}", headers=api)
            assert response.status == 422, query
    assert await count_exchanges(db_url) == 0


HOSTILE_FRAMES = [
    "[" * 100000, '{"type": "message", "client_id": "abcdefgh", "text": "\\ud800"}',
    '{"type": "message", "client_id": "abcdefgh", "text": "a\\u0000b"}',
    '{"type": "sync", "after": 99999999999999999999999}', '{"type": "sync", "after": -1}',
    '{"type": "sync", "engagement_id": 9223372036854775808}', '{"type": "sync", "after": "²"}',
    '{"type": "\\ud800"}', '{"type": "message", "client_id": "\\u0000\\u0000\\u0000\\u0000x", "text": "hi"}',
]


async def test_websockets_answer_bad_frames_with_error_frames(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, a["email"])
        for path in (f"/c/{a['chat_token']}/ws", "/ws"):
            ws = await client.ws_connect(path)
            for data in HOSTILE_FRAMES:
                await ws.send_str(data)
                answer = await frame(ws)
                assert answer["type"] == "error" and answer["code"] != "internal", (path, data[:40])
            await ws.send_json({"type": "ping"})
            assert (await frame(ws))["type"] == "pong"
            await ws.close()
    assert await count_exchanges(db_url) == 0


# --- 6. limits on connections and slow clients --------------------------------------------

async def test_sockets_per_link_are_capped(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    settings = settings_for(db_url, limits={"sockets_per_link": 3})
    async with app_client(settings, clock) as client:
        path = f"/c/{a['chat_token']}/ws"
        open_ = [await client.ws_connect(path) for _ in range(3)]
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect(path)
        assert refused.value.status == 429
        await open_[0].close()
        await asyncio.sleep(0)  # let the server see the close before the next handshake
        for _ in range(50):
            try:
                open_[0] = await client.ws_connect(path)
                break
            except WSServerHandshakeError:
                await asyncio.sleep(0.02)
        else:
            raise AssertionError("a closed socket's place was not freed")
        assert (await client.get("/healthz")).status == 200
        for ws in open_:
            await ws.close()


async def test_handshakes_per_client_are_limited(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    async with app_client(settings_for(db_url, limits={"handshakes_per_minute": 5}), clock) as client:
        for _ in range(5):
            ws = await client.ws_connect(f"/c/{a['chat_token']}/ws")
            await ws.close()
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect(f"/c/{a['chat_token']}/ws")
        assert refused.value.status == 429


async def test_a_slow_request_body_times_out(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    async with app_client(settings_for(db_url, limits={"body_timeout_seconds": 0.3}), clock) as client:
        reader, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 1000\r\n\r\nemail=a")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
        assert status_line.split()[1] == b"408"
        writer.close()


# --- 7. security headers everywhere, no-store on authenticated pages ----------------------

async def test_security_headers_on_errors_and_redirects(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    async with app_client(settings_for(db_url), clock) as client:
        responses = [
            await client.get("/", allow_redirects=False),  # 303 to the login page
            await client.get("/nowhere"),  # 404 from the router
            await client.get("/api/v1/engagements"),  # 401
            await client.post("/logout", data={}),  # 403 (CSRF)
            await client.put("/login"),  # 405
            await client.get("/static/style.css"),
        ]
        assert [r.status for r in responses] == [303, 404, 401, 403, 405, 200]
        for response in responses:
            for name in SECURITY_HEADERS:
                assert name in response.headers, (response.status, name)
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert responses[-1].headers.get("Cache-Control") != "no-store"
        await login(client, a["email"])
        page = await client.get(f"/engagements/{a['engagement_id']}")
        assert page.headers["Cache-Control"] == "no-store"


# --- 8. both websockets refuse other sites ------------------------------------------------

async def test_coachee_socket_refuses_another_origin(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    async with app_client(settings_for(db_url), clock) as client:
        ws = await client.ws_connect(f"/c/{a['chat_token']}/ws", headers={"Origin": "https://evil.example"})
        assert (await frame(ws))["code"] == "origin_refused"
        await ws.close()
        ws = await client.ws_connect(f"/c/{a['chat_token']}/ws",
                                     headers={"Origin": f"http://{client.host}:{client.port}"})
        await ws.send_json({"type": "ping"})
        assert (await frame(ws))["type"] == "pong"
        await ws.close()


# --- 9. the API does what its document says ------------------------------------------------

async def test_api_document_matches_behaviour(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    auth = {"Authorization": f"Bearer {a['api_token']}"}
    async with app_client(settings_for(db_url), clock) as client:
        doc = await (await client.get("/api/openapi.json")).json()
        messages = doc["paths"]["/api/v1/engagements/{id}/messages"]["post"]["responses"]
        assert {"200", "201"} <= set(messages)
        limit = next(p for p in doc["paths"]["/api/v1/engagements"]["get"]["parameters"] if p["name"] == "limit")
        assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 500)
        assert (await client.get("/api/v1/engagements?limit=0", headers=auth)).status == 422
        assert (await client.get("/api/v1/search", headers=auth)).status == 422
        assert (await client.get("/api/v1/search?q=%20", headers=auth)).status == 422
        wrong = await client.put("/api/v1/engagements", headers=auth)
        assert wrong.status == 405 and set(wrong.headers["Allow"].split(",")) == {"GET", "POST"}
        assert (await wrong.json())["error"]["code"]


async def test_connections_past_the_per_client_rate_are_closed_before_http(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    from aiohttp import ClientSession, ServerDisconnectedError, ClientOSError, TCPConnector, web

    from ecoach.app import build_app
    from ecoach.web.connections import ConnectionGate, GatedRunner
    from tests.server_process import free_port

    gate = ConnectionGate(per_client=100, per_second=2.5)  # a burst of five, then 2.5 a second
    runner = GatedRunner(build_app(settings_for(db_url), clock=clock), gate)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        outcomes = []
        async with ClientSession(connector=TCPConnector(force_close=True)) as http:
            for _ in range(8):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        outcomes.append(response.status)
                except (ServerDisconnectedError, ClientOSError):
                    outcomes.append("closed")
        assert outcomes[:5] == [200] * 5 and "closed" in outcomes[5:]
        assert gate.refused >= 1 and not gate.open  # every admitted connection was counted out
    finally:
        await runner.cleanup()
