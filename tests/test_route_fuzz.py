"""Every registered route and websocket, with hostile path parameters, query values, form
fields and frames: never a 500, and /healthz keeps answering.

The routes come from the router itself, the query and form field names from the code
and the templates, so a new page is fuzzed without anyone listing it here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from aiohttp import WSMsgType, WSServerHandshakeError, web
from yarl import URL

from tests.support import app_client, csrf_of, login, seed, settings_for

ROOT = Path(__file__).resolve().parent.parent / "ecoach"
# Already percent-encoded: 64-bit overflow, a superscript two (isdigit() but not int()),
# NUL, a lone surrogate (as UTF-8 bytes), invalid UTF-8, traversal, huge and empty.
HOSTILE_PATH = ["9223372036854775808", "%C2%B2", "-1", "0", "99999999999999999999999", "%00",
                "%ED%A0%80", "%FF", "..%2F..%2Fetc%2Fpasswd", "%F0%9F%92%A9", "1e5", "a" * 300]
HOSTILE_VALUES = ["9223372036854775808", "%C2%B2", "-1", "99999999999999999999999", "%00", "%ED%A0%80",
                  "%FF", "%0D%0ALocation:%20x", "%2F%09%2Fevil.example", "x" * 90]
HOSTILE_FRAMES = [
    "[" * 100000, "{}", "null", '"x"', "1e999", '{"type": "sync", "after": 99999999999999999999999}',
    '{"type": "sync", "after": "\\u00b2"}', '{"type": "message", "client_id": "abcdefgh", "text": "\\ud800"}',
    '{"type": "message", "client_id": "abcdefgh", "text": "a\\u0000"}', '{"type": "message", "text": []}',
    '{"type": "sync", "engagement_id": -5}', '{"type": "sync", "engagement_id": 9223372036854775807}',
    '{"type": "message", "engagement_id": 1.5, "client_id": "abcdefgh", "text": "x"}', "\x00",
    '{"type": {"type": "ping"}}', '{"type": "ping", "type": "dance"}',
]
SKIP_POST = {"/logout"}  # would end the fuzzer's own login


def field_names() -> list[str]:
    names: set[str] = set()
    for template in (ROOT / "web" / "templates").glob("*.html"):
        names.update(re.findall(r'name="([a-z_]+)"', template.read_text()))
    for module in ROOT.rglob("*.py"):
        names.update(re.findall(r'(?:form|query|data)\.get(?:all)?\("([a-z_]+)"', module.read_text()))
    return sorted(names - {"_csrf"})


def routes(app: web.Application) -> list[tuple[str, str, dict[str, str]]]:
    """(method, path template, parameter patterns) of every route but static files."""
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        if route.method == "HEAD" or "directory" in info:
            continue
        template = info.get("formatter") or info.get("path")
        params = dict(re.findall(r"\{([a-z_]+)(?::([^}]+))?\}", template)) if template else {}
        found.append((route.method, template, params))
    return found


def fill(template: str, params: dict[str, str], values: dict[str, str], hostile: tuple[str, str] | None) -> str:
    path = template
    for name, pattern in params.items():
        value = hostile[1] if hostile and hostile[0] == name else values.get(name, "1")
        if pattern and "|" in pattern and not (hostile and hostile[0] == name):
            value = pattern.split("|")[0]
        path = re.sub(r"\{" + name + r"(:[^}]+)?\}", value, path)
    return path


async def check(client, method: str, path: str, body: dict[str, str] | None = None) -> None:  # type: ignore[no-untyped-def]
    url = URL(path, encoded=True)
    if method == "GET":
        response = await client.get(url, allow_redirects=False)
    else:
        data = "&".join(f"{k}={v}" for k, v in (body or {}).items())
        response = await client.request(method, url, data=data.encode(), allow_redirects=False,
                                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status < 500, (method, path[:120], response.status, (await response.text())[:300])
    response.release()


async def test_no_route_answers_500(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    values = {"id": str(a["engagement_id"]), "token": a["chat_token"]}
    names = field_names()
    settings = settings_for(db_url, limits={"handshakes_per_minute": 10000}, login_attempts=10000,
                            accounts={"account_login_attempts": 10000})
    async with app_client(settings, clock) as client:
        await login(client, a["email"])
        csrf = await csrf_of(client, "/")
        table = routes(client.app)
        assert len(table) > 50
        for method, template, params in table:
            if method == "POST" and template in SKIP_POST:
                continue
            for name in params:
                for value in HOSTILE_PATH:
                    await check(client, method, fill(template, params, values, (name, value)), {"_csrf": csrf})
            path = fill(template, params, values, None)
            for value in HOSTILE_VALUES:
                query = "&".join(f"{n}={value}" for n in names)
                if method == "GET":
                    await check(client, method, f"{path}?{query}")
                else:
                    await check(client, method, path, {"_csrf": csrf, **{n: value for n in names}})
            assert (await client.get("/healthz")).status == 200
            if (await client.get("/", allow_redirects=False)).status != 200:
                # e.g. /account/sessions/{id}/end met this login's own id: go on logged in
                await login(client, a["email"])
                csrf = await csrf_of(client, "/")


async def test_no_socket_writes_an_http_error_into_its_stream(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    async with app_client(settings_for(db_url, limits={"handshakes_per_minute": 10000}), clock) as client:
        await login(client, a["email"])
        sockets = [r for r in routes(client.app) if r[1].endswith("/ws")]
        assert {r[1] for r in sockets} == {"/ws", "/c/{token}/ws", "/groups/{id}/ws", "/c/{token}/groups/{group}/ws"}
        token = a["chat_token"]
        for value, shape in [(v, s) for v in HOSTILE_PATH for s in ("/c/{}/ws", "/groups/{}/ws",
                                                                     f"/c/{token}/groups/{{}}/ws")]:
            try:
                ws = await client.ws_connect(URL(shape.format(value), encoded=True))
            except WSServerHandshakeError as exc:
                assert exc.status < 500
                continue
            first = await ws.receive(timeout=5)
            assert first.type == WSMsgType.TEXT and json.loads(first.data)["fatal"], value
            await ws.close()
        for path in ("/ws", f"/c/{a['chat_token']}/ws"):
            ws = await client.ws_connect(path)
            for data in HOSTILE_FRAMES:
                await ws.send_str(data)
                answer = await ws.receive(timeout=5)
                assert answer.type == WSMsgType.TEXT, (path, data[:30], answer)
                reply = json.loads(answer.data)
                assert reply["type"] in ("error", "history", "ack") and reply.get("code") != "internal", (path, data[:30])
            await ws.send_bytes(b"\xff\x00")
            assert json.loads((await ws.receive(timeout=5)).data)["code"] == "frame_binary"
            await ws.close()
        assert (await client.get("/healthz")).status == 200
