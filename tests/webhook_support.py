"""A real webhook receiver for tests and benchmarks: an aiohttp server on loopback that
keeps every request and answers as told (a status, or hanging until the sender gives up)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web

from ecoach.actions.unit import unit_of_work
from ecoach.actions.webhooks import check_endpoint, do_create_endpoint
from ecoach.core.webhooks import CHOICES
from ecoach.keys import CLOCK, SESSIONS, SETTINGS

HANG = -1  # an answer that never comes: the sender's timeout ends it


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def delivery(self) -> str:
        return self.headers["Ecoach-Delivery"]


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: list[int] = []  # answered in turn; then 200
        # With ``gate`` set, nothing is answered until that many requests wait at once (e.g.
        # proof that two processes send side by side); from then on everything is answered.
        self.gate = 0
        self._waiting = 0
        self._opened = asyncio.Event()
        self._stop = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(Received(request.path, dict(request.headers), body))
        if self.gate and not self._opened.is_set():
            self._waiting += 1
            if self._waiting >= self.gate:
                self._opened.set()
            await self._opened.wait()
        status = self.answers.pop(0) if self.answers else 200
        if status == HANG:
            await self._stop.wait()
            status = 200
        return web.Response(status=status, text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self._stop.set()
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    await found.start()
    try:
        yield found
    finally:
        await found.stop()


async def add_endpoint(app: web.Application, coach_id: int, url: str, *, events: tuple[str, ...] = CHOICES,
                       include_text: bool = False) -> tuple[int, str]:
    """An endpoint made through the action; (its id, its signing secret)."""
    settings = app[SETTINGS]
    form = check_endpoint(url, events, "", include_text, settings.webhooks)
    async with unit_of_work(app[SESSIONS]) as session:
        endpoint, secret = await do_create_endpoint(session, coach_id, form, settings=settings.webhooks,
                                                    secret_key=settings.secret, now=app[CLOCK].now())
    return endpoint.id, secret


async def run_tasks(app: web.Application) -> int:
    """Run every task due at the app's clock (the runner does not run by itself in tests)."""
    from ecoach.keys import TASK_RUNNER

    total = 0
    while (claimed := await app[TASK_RUNNER].run_once()):
        total += claimed
    return total
