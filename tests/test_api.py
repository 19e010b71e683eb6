"""The JSON API: tokens, the engagement flow, validation, isolation, OpenAPI."""

from __future__ import annotations

from contextlib import AsyncExitStack

import asyncpg
import pytest
from openapi_spec_validator import validate

from ecoach.keys import ENGINE
from ecoach.logbook import db
from ecoach.logbook.pg_events import asyncpg_dsn
from tests.support import app_client, seed, settings_for


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def world(db_url, clock):  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org", coachee="Anna")
    b = await seed(db_url, clock.now(), email="b@example.org", coachee="Bram")
    async with app_client(settings_for(db_url, max_message_chars=100), clock) as client:
        yield client, a, b


async def test_requests_without_a_valid_token_are_refused(world) -> None:  # type: ignore[no-untyped-def]
    client, a, _ = world
    for headers in ({}, {"Authorization": "Basic abc"}, auth("x" * 43)):
        response = await client.get("/api/v1/engagements", headers=headers)
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await response.json())["error"]["code"] == "unauthorized"


async def test_engagement_flow(world) -> None:  # type: ignore[no-untyped-def]
    client, a, _ = world
    response = await client.post("/api/v1/engagements", headers=auth(a["api_token"]),
                                 json={"coachee_name": "Emily", "language": "en"})
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["chat_url"].startswith("http://127.0.0.1:8080/c/")
    eid = created["id"]
    message = {"client_id": "api-msg-0001", "text": "Hello Emily"}
    first = await client.post(f"/api/v1/engagements/{eid}/messages", headers=auth(a["api_token"]), json=message)
    again = await client.post(f"/api/v1/engagements/{eid}/messages", headers=auth(a["api_token"]), json=message)
    assert (first.status, again.status) == (201, 200)
    assert (await first.json())["id"] == (await again.json())["id"]
    page = await (await client.get(f"/api/v1/engagements/{eid}/exchanges", headers=auth(a["api_token"]))).json()
    assert [x["text"] for x in page["exchanges"]] == ["Hello Emily"] and page["has_more"] is False
    paused = await client.post(f"/api/v1/engagements/{eid}/status", headers=auth(a["api_token"]),
                               json={"action": "pause"})
    assert (await paused.json())["status"] == "paused"
    refused = await client.post(f"/api/v1/engagements/{eid}/messages", headers=auth(a["api_token"]),
                                json={"client_id": "api-msg-0002", "text": "more"})
    assert refused.status == 400 and (await refused.json())["error"]["code"] == "engagement_paused"
    hits = await (await client.get("/api/v1/search?q=emil", headers=auth(a["api_token"]))).json()
    assert [h["exchange"]["text"] for h in hits["hits"]] == ["Hello Emily"]


async def test_bad_input_gets_clear_errors(world) -> None:  # type: ignore[no-untyped-def]
    client, a, _ = world
    url = f"/api/v1/engagements/{a['engagement_id']}/messages"
    cases = [
        ({"client_id": "short", "text": "hi"}, 422, "invalid_request"),
        ({"client_id": "abcdefgh"}, 422, "invalid_request"),
        ({"client_id": "abcdefgh", "text": "x" * 101}, 400, "message_too_long"),
        ({"client_id": "abcdefgh", "text": "   "}, 400, "message_empty"),
        ({"client_id": "abcdefgh", "text": "hi", "extra": 1}, 422, "invalid_request"),
    ]
    for payload, status, code in cases:
        response = await client.post(url, headers=auth(a["api_token"]), json=payload)
        error = (await response.json())["error"]
        assert (response.status, error["code"]) == (status, code), error
        assert error["message"]
    response = await client.post(url, headers=auth(a["api_token"]), data=b"{not json")
    assert response.status == 400
    response = await client.get("/api/v1/engagements?limit=0", headers=auth(a["api_token"]))
    assert response.status == 422 and "limit" in (await response.json())["error"]["message"]
    page = await (await client.get(f"/api/v1/engagements/{a['engagement_id']}/exchanges",
                                   headers=auth(a["api_token"]))).json()
    assert page["exchanges"] == []


async def test_another_coachs_engagement_is_not_found(world) -> None:  # type: ignore[no-untyped-def]
    client, a, b = world
    eid, headers = a["engagement_id"], auth(b["api_token"])
    calls = [
        ("GET", f"/api/v1/engagements/{eid}", None),
        ("POST", f"/api/v1/engagements/{eid}/status", {"action": "close"}),
        ("GET", f"/api/v1/engagements/{eid}/exchanges", None),
        ("POST", f"/api/v1/engagements/{eid}/messages", {"client_id": "abcdefgh", "text": "hi"}),
        ("POST", f"/api/v1/engagements/{eid}/chat-link", None),
        ("DELETE", f"/api/v1/engagements/{eid}/chat-link", None),
    ]
    for method, path, payload in calls:
        response = await client.request(method, path, headers=headers, json=payload)
        assert response.status == 404, (method, path)
        assert (await response.json())["error"]["code"] == "engagement_unknown"
    listed = await (await client.get("/api/v1/engagements", headers=headers)).json()
    assert [e["coachee"]["name"] for e in listed["engagements"]] == ["Bram"]
    await client.post(f"/api/v1/engagements/{eid}/messages", headers=auth(a["api_token"]),
                      json={"client_id": "abcdefgh", "text": "geheimzinnig woord"})
    hits = await (await client.get("/api/v1/search?q=geheimzinnig", headers=headers)).json()
    assert hits["hits"] == []


async def test_openapi_document_is_valid_and_complete(world) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = world
    spec = await (await client.get("/api/openapi.json")).json()
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    documented = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    for resource in client.app.router.resources():
        info = resource.get_info()
        path = info.get("formatter") or info.get("path", "")
        if path.startswith("/api/v1"):
            for route in resource:
                if route.method != "HEAD":
                    assert (route.method, path) in documented, (route.method, path)


async def test_healthz(world) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = world
    response = await client.get("/healthz")
    assert response.status == 200 and await response.json() == {"status": "ok"}


async def test_healthz_answers_while_every_pooled_connection_is_busy(world) -> None:  # type: ignore[no-untyped-def]
    """A burst of handshakes or requests holding the whole pool does not queue the health
    check behind it (it has its own connection)."""
    client, _, _ = world
    engine = client.server.app[ENGINE]
    pool = engine.sync_engine.pool
    async with AsyncExitStack() as held:
        for _ in range(pool.size() + pool._max_overflow):  # type: ignore[attr-defined]
            await held.enter_async_context(engine.connect())
        response = await client.get("/healthz")
        assert response.status == 200 and await response.json() == {"status": "ok"}


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_database_restart_under_a_request_is_a_clear_503_then_works_again(  # type: ignore[no-untyped-def]
    world, db_url, monkeypatch
) -> None:
    """No ping per checkout: a connection cut while it waited briefly in the pool fails the
    request that gets it with a clear 503 (never a 500), and the next request reconnects."""
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", float("inf"))
    client, a, _ = world
    assert (await client.get("/api/v1/engagements", headers=auth(a["api_token"]))).status == 200
    conn = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    finally:
        await conn.close()
    response = await client.get("/api/v1/engagements", headers=auth(a["api_token"]))
    assert response.status in (200, 503)  # 200 when the request got a connection it had not used
    if response.status == 503:
        assert (await response.json())["error"] == {  # the coach's language
            "code": "database_interrupted",
            "message": "De verbinding met de database werd onderbroken. Probeer het opnieuw."}
    assert (await client.get("/api/v1/engagements", headers=auth(a["api_token"]))).status == 200
