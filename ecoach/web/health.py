"""``GET /healthz``: is the database reachable, and can every mailbox be read?

503 when the database is unreachable. A mailbox that cannot be read (refused login,
missing folder, unreachable server) keeps 200 (ecoach still works and the reader retries
by itself) but reports ``"status": "degraded"`` with the reason, so monitoring sees it;
so does a lost connection to the other processes' events (``"events"``: realtime updates
from other processes stop until it is back; open pages then resync). A mailbox another
process reads is listed as on ``standby``, which is fine.
"""

from __future__ import annotations

from aiohttp import web

from ecoach.logbook.db import ping
from ecoach.keys import BUS, HEALTH_ENGINE, MAIL_READERS


async def healthz(request: web.Request) -> web.Response:
    # Its own pool: never queued behind the requests and handshakes that hold the main one.
    if not await ping(request.app[HEALTH_ENGINE]):
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    readers = request.app.get(MAIL_READERS, [])
    problems = {reader.box.name: reader.problem for reader in readers if reader.problem}
    body: dict[str, object] = {"status": "ok"}
    if readers:
        body["readers"] = {reader.box.name: reader.state for reader in readers}
    if problems:
        body.update(status="degraded", mailboxes=problems)
    events = request.app[BUS].problem
    if events:
        body.update(status="degraded", events=events)
    return web.json_response(body)


def register(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
