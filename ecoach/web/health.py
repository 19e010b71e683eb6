"""``GET /healthz``: is the database reachable?"""

from __future__ import annotations

from aiohttp import web

from ecoach.logbook.db import ping
from ecoach.web.keys import ENGINE


async def healthz(request: web.Request) -> web.Response:
    if await ping(request.app[ENGINE]):
        return web.json_response({"status": "ok"})
    return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)


def register(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
