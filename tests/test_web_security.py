"""Isolation between coaches, bad input on pages and websockets, CSRF, headers, languages."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from aiohttp import WSMsgType
from sqlalchemy import func, select

from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.models import Exchange
from tests.support import app_client, csrf_of, login, mentions, seed, settings_for
from tests.conftest import fresh_keyring


async def count_exchanges(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, fresh_keyring())() as session:
            return int((await session.execute(select(func.count()).select_from(Exchange))).scalar_one())
    finally:
        await engine.dispose()


async def receive(ws, timeout: float = 5.0) -> dict:  # type: ignore[no-untyped-def]
    msg = await ws.receive(timeout=timeout)
    assert msg.type == WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def until(ws, kind: str) -> dict:  # type: ignore[no-untyped-def]
    for _ in range(20):
        frame = await receive(ws)
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind} frame")


@pytest.fixture
async def two(db_url, clock):  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org", coachee="Anna")
    b = await seed(db_url, clock.now(), email="b@example.org", coachee="Bram", language="en")
    settings = settings_for(db_url, max_message_chars=50, login_attempts=3)
    async with app_client(settings, clock) as client_a, app_client(settings, clock) as client_b:
        await login(client_a, a["email"])
        await login(client_b, b["email"])
        yield client_a, client_b, a, b


async def test_pages_refuse_another_coachs_engagement(two, db_url) -> None:  # type: ignore[no-untyped-def]
    client_a, client_b, a, _ = two
    eid = a["engagement_id"]
    response = await client_b.get(f"/engagements/{eid}")
    assert response.status == 404
    token = await csrf_of(client_b, "/")
    for path, data in [
        (f"/engagements/{eid}/messages", {"client_id": "abcdefgh", "text": "hi"}),
        (f"/engagements/{eid}/status", {"action": "close"}),
        (f"/engagements/{eid}/chat-link", {}),
        (f"/engagements/{eid}/chat-link/revoke", {}),
    ]:
        response = await client_b.post(path, data={"_csrf": token, **data}, allow_redirects=False)
        assert response.status == 404, path
    for path in ("/", "/inbox/rows"):
        assert not mentions(await (await client_b.get(path)).text(), "Anna"), path
    ws_a = await client_a.ws_connect("/ws")
    await ws_a.send_json({"type": "message", "engagement_id": eid, "client_id": "note-0001",
                          "text": "vertrouwelijk", "channel": "note"})
    assert (await until(ws_a, "ack"))["exchange"]["direction"] == "internal"
    await ws_a.close()
    found = await (await client_b.get("/search?q=vertrouwelijk")).text()
    assert 'class="hits"' not in found and "Nothing found" in found
    assert 'class="hits"' in await (await client_a.get("/search?q=vertrouwelijk")).text()
    assert await count_exchanges(db_url) == 1
    assert "Anna" in await (await client_a.get("/")).text()


async def test_coach_socket_refuses_another_coachs_engagement(two, db_url) -> None:  # type: ignore[no-untyped-def]
    client_a, client_b, a, b = two
    ws_b = await client_b.ws_connect("/ws")
    await ws_b.send_json({"type": "sync", "engagement_id": a["engagement_id"], "after": 0})
    assert (await until(ws_b, "error"))["code"] == "engagement_unknown"
    await ws_b.send_json({"type": "message", "engagement_id": a["engagement_id"],
                          "client_id": "abcdefgh", "text": "intrusion"})
    assert (await until(ws_b, "error"))["code"] == "engagement_unknown"
    # A's coachee writes: A hears it, B does not.
    ws_a = await client_a.ws_connect("/ws")
    coachee = await client_a.ws_connect(f"/c/{a['chat_token']}/ws")
    await coachee.send_json({"type": "message", "client_id": "coachee-001", "text": "hallo"})
    assert (await until(coachee, "ack"))["exchange"]["text"] == "hallo"
    assert (await until(ws_a, "exchange"))["exchange"]["text"] == "hallo"
    with pytest.raises(asyncio.TimeoutError):
        await ws_b.receive(timeout=0.5)
    assert await count_exchanges(db_url) == 1
    for ws in (ws_a, ws_b, coachee):
        await ws.close()


async def test_chat_socket_bad_input(two, db_url) -> None:  # type: ignore[no-untyped-def]
    client_a, _, a, _ = two
    ws = await client_a.ws_connect(f"/c/{a['chat_token']}/ws")
    cases = [
        ("not json", "frame_invalid"),
        ("[]", "frame_invalid"),
        (json.dumps({"type": 5}), "frame_invalid"),
        (json.dumps({"type": "dance"}), "frame_unknown"),
        (json.dumps({"type": "message", "client_id": "abcdefgh", "text": "x" * 51}), "message_too_long"),
        (json.dumps({"type": "message", "client_id": "abcdefgh", "text": "  "}), "message_empty"),
        (json.dumps({"type": "message", "client_id": "bad id!", "text": "hi"}), "client_id_invalid"),
        (json.dumps({"type": "sync", "after": "x"}), "frame_invalid"),
    ]
    for data, code in cases:
        await ws.send_str(data)
        frame = await until(ws, "error")
        assert frame["code"] == code and frame["message"], data
    await ws.send_bytes(b"\x00\x01")
    assert (await until(ws, "error"))["code"] == "frame_binary"
    # The socket still works, and a resend is stored once.
    for _ in range(2):
        await ws.send_json({"type": "message", "client_id": "resend-01", "text": "once"})
    first, second = await until(ws, "ack"), await until(ws, "ack")
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert first["exchange"]["id"] == second["exchange"]["id"]
    assert await count_exchanges(db_url) == 1
    await ws.close()


async def test_forms_need_the_csrf_token(two) -> None:  # type: ignore[no-untyped-def]
    client_a, _, a, _ = two
    path = f"/engagements/{a['engagement_id']}/status"
    for data in ({"action": "pause"}, {"action": "pause", "_csrf": "forged"}):
        response = await client_a.post(path, data=data, allow_redirects=False)
        assert response.status == 403
        assert "formulier is verlopen" in await response.text()
    page = await client_a.get(f"/engagements/{a['engagement_id']}")
    assert "actief" in await page.text()


async def test_expired_and_revoked_links(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    settings = settings_for(db_url, chat_link_days=1)
    async with app_client(settings, clock) as client:
        await login(client, a["email"])
        token = await csrf_of(client, f"/engagements/{a['engagement_id']}")
        await client.post(f"/engagements/{a['engagement_id']}/chat-link", data={"_csrf": token})
        page = await client.get(f"/c/{a['chat_token']}")
        assert page.status == 404 and "vervangen of ingetrokken" in await page.text()
        ws = await client.ws_connect(f"/c/{a['chat_token']}/ws")
        frame = await receive(ws)
        assert (frame["code"], frame["fatal"]) == ("chat_link_revoked", True)
        await ws.close()
        garbage = await client.get("/c/not-a-token")
        assert garbage.status == 404 and "niet geldig" in await garbage.text()
    fresh = await seed(db_url, clock.now(), email="c@example.org")
    clock.advance(days=2)
    async with app_client(settings_for(db_url, chat_link_days=1), clock) as client:
        # seed() made a link without expiry; make one with the 1-day setting, then age it.
        await login(client, fresh["email"])
        token = await csrf_of(client, f"/engagements/{fresh['engagement_id']}")
        await client.post(f"/engagements/{fresh['engagement_id']}/chat-link", data={"_csrf": token})
        page = await client.get(f"/engagements/{fresh['engagement_id']}")
        link = (await page.text()).split('id="chat-link"')[0].rsplit('value="', 1)[1].split('"')[0]
        clock.advance(days=2)
        expired = await client.get(link.replace("http://127.0.0.1:8080", ""))
        assert expired.status == 404 and "verlopen" in await expired.text()


async def test_paused_engagement_refuses_chat(two, db_url) -> None:  # type: ignore[no-untyped-def]
    client_a, _, a, _ = two
    token = await csrf_of(client_a, "/")
    await client_a.post(f"/engagements/{a['engagement_id']}/status", data={"_csrf": token, "action": "pause"})
    page = await client_a.get(f"/c/{a['chat_token']}")
    assert "gepauzeerd" in await page.text()
    ws = await client_a.ws_connect(f"/c/{a['chat_token']}/ws")
    await ws.send_json({"type": "message", "client_id": "paused-01", "text": "hallo?"})
    assert (await until(ws, "error"))["code"] == "engagement_paused"
    assert await count_exchanges(db_url) == 0
    await ws.close()


async def test_login_is_rate_limited(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    async with app_client(settings_for(db_url, login_attempts=3, login_window_seconds=300), clock) as client:
        for _ in range(3):
            token = await csrf_of(client, "/login")
            response = await client.post("/login", data={"_csrf": token, "email": a["email"], "password": "wrong"})
            assert response.status == 400
        token = await csrf_of(client, "/login")
        response = await client.post("/login", data={"_csrf": token, "email": a["email"], "password": "correct horse battery"})
        assert response.status == 429
        clock.advance(seconds=301)
        await login(client, a["email"])


async def test_unknown_pages_sockets_and_headers(two) -> None:  # type: ignore[no-untyped-def]
    client_a, _, _, _ = two
    for path in ("/engagements/99999", "/engagements/abc", "/nowhere"):
        response = await client_a.get(path)
        assert response.status == 404 and "bestaat niet" in await response.text()
    response = await client_a.get("/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    ws = await client_a.ws_connect("/ws", headers={"Origin": "https://evil.example"})
    assert (await receive(ws))["code"] == "origin_refused"
    await ws.close()


async def test_logged_out_and_cookie_flags(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    async with app_client(settings_for(db_url), clock) as client:
        response = await client.get("/", allow_redirects=False)
        assert response.status == 303 and response.headers["Location"].startswith("/login")
        ws = await client.ws_connect("/ws")
        assert (await receive(ws))["code"] == "login_required"
        await ws.close()
        token = await csrf_of(client, "/login")
        response = await client.post("/login", data={"_csrf": token, "email": a["email"],
                                                     "password": "correct horse battery"}, allow_redirects=False)
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


async def test_languages(two, db_url, clock) -> None:  # type: ignore[no-untyped-def]
    client_a, client_b, a, b = two
    assert "Nieuw traject" in await (await client_a.get("/")).text()
    assert "New engagement" in await (await client_b.get("/")).text()
    # The coachee page speaks the engagement's language, whatever the browser asks.
    page = await client_b.get(f"/c/{a['chat_token']}", headers={"Accept-Language": "en"})
    assert "Jouw coaching met" in await page.text()
    page = await client_a.get(f"/c/{b['chat_token']}", headers={"Accept-Language": "nl"})
    assert "Your coaching with" in await page.text()
