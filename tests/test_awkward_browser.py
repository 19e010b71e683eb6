"""A coachee books the first time offered, and opens the chat, in Chromium on a phone with
the server's clock standing at each awkward moment (tests/conftest.py's AWKWARD): the end
of a Sunday, the hour the clocks go forward, New Year's night. One practice per moment."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.async_api import Browser, expect

from tests.browser import WAIT
from tests.conftest import AWKWARD
from tests.walkthrough import chromium  # noqa: F401 - the fixture
from tests.walkthrough import WORDS, Practice, assert_fits, new_page, start_practice

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(scope="module", params=list(AWKWARD.values()), ids=list(AWKWARD))
def practice(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Practice]:
    practice = start_practice(tmp_path_factory.mktemp("awkward"), clock=request.param)
    yield practice
    practice.server.stop()


async def test_the_first_time_offered_is_booked_and_the_chat_opens(chromium: Browser, practice: Practice) -> None:
    w, people = WORDS["en"], practice.people["en"]
    page = await new_page(chromium, "phone", timezone_id="Europe/Amsterdam")
    await page.goto(f"{practice.url}/book/{people.booking_token}")
    await page.get_by_role("link", name=re.compile(r"\d\d:\d\d")).first.click()
    await page.get_by_role("button", name=w["book"]).click()
    await expect(page.get_by_role("status")).to_contain_text(w["booked"])
    await page.goto(f"{practice.url}/c/{people.chat_token}")
    await expect(page.get_by_role("log", name=w["messages"]).get_by_role("listitem").last).to_be_in_viewport(
        timeout=WAIT)
    await assert_fits(page)
    await page.context.close()
