"""``/zones?q=ams&lang=nl``: time-zone suggestions for the zone fields (static/ui.js).

Public (booking pages use it) and the same for everyone, so it may be cached."""

from __future__ import annotations

from aiohttp import web

from ecoach.core import zones
from ecoach.core.types import LANGUAGES


async def suggest(request: web.Request) -> web.StreamResponse:
    query = request.query.get("q", "")[:100]
    language = request.query.get("lang", "en")
    language = language if language in LANGUAGES else "en"
    found = [{"id": zone, "label": label} for zone, label in zones.suggest(query, language)]
    return web.json_response({"zones": found}, headers={"Cache-Control": "public, max-age=86400"})


def register(app: web.Application) -> None:
    app.router.add_get("/zones", suggest)
