"""The app served in its own thread and event loop, for clients that block (schemathesis'
requests) or live in another process (Chromium), with the test's injected clock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from ecoach.app import build_app
from ecoach.core.clock import Clock
from ecoach.settings import Settings
from tests.server_process import free_port


@contextmanager
def serving(app: web.Application, port: int) -> Iterator[asyncio.AbstractEventLoop]:
    """Serves ``app`` on 127.0.0.1:``port`` in its own thread and event loop (yielded, for
    running coroutines on the server's loop) until the block ends."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner = web.AppRunner(app)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(30), "the server did not start"
    try:
        yield loop
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


@contextmanager
def live_server(settings: Settings, clock: Clock, port: int | None = None) -> Iterator[str]:
    """Yields the base URL while the server runs (on ``port`` when given: a test that must
    know it in its settings, such as public_url, picks it first)."""
    port = port or free_port()
    with serving(build_app(settings, clock=clock), port):
        yield f"http://127.0.0.1:{port}"
