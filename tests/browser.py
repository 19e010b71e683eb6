"""Debian's Chromium through Playwright, shared by every browser test.

Never downloads a browser: ``executable_path`` is Debian's ``/usr/bin/chromium``, with the
flags that keep it off the network (the test machine has none).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]
WAIT = 10_000  # ms: how long an expectation waits for the page


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed (./run-tests installs it)")
        pytest.skip("Debian's chromium is not installed")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        await browser.close()
