"""In Debian's Chromium, at 360 px: the coach erases a coachee (the page says what it does
and asks for the name), while the coachee's chat is open; the chat closes with a clear
message, the record page shows only when. Every page passes axe-core."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import func, select

from ecoach.logbook.key_models import Erasure
from ecoach.logbook.models import Coachee, Engagement
from tests.browser import WAIT, browser  # noqa: F401 - the fixture
from tests.live_server import live_server
from tests.support import PASSWORD, seed, settings_for
from tests.test_accounts_browser import PHONE, accessible

pytestmark = pytest.mark.browser
EMAIL = "marieke@example.org"


async def test_erasing_while_the_coachee_chats(browser: Browser, db_url: str, clock, sessions) -> None:  # type: ignore[no-untyped-def]
    world = await seed(db_url, clock.now(), email=EMAIL, coachee="Sanne de Vries", language="en",
                       coachee_email="sanne@example.test")
    with live_server(settings_for(db_url), clock) as base:
        coachee = await (await browser.new_context(viewport=PHONE)).new_page()
        await coachee.goto(f"{base}/c/{world['chat_token']}")
        await expect(coachee.locator(".connection.online")).to_be_visible(timeout=WAIT)

        coach = await (await browser.new_context(viewport=PHONE)).new_page()
        await coach.goto(base + "/login")
        await coach.fill("input[name=email]", EMAIL)
        await coach.fill("input[name=password]", PASSWORD)
        await coach.click("button.primary")
        await coach.goto(f"{base}/engagements/{world['engagement_id']}")
        await coach.click("#erase-link")
        await expect(coach.locator("h1")).to_have_text("Erase Sanne de Vries")
        await expect(coach.locator("ul.consequences li")).to_have_count(5)
        await accessible(coach)
        await coach.fill("#erase-confirm", "Sanne")  # not the whole name: refused, nothing erased
        await coach.click("button.danger")
        await expect(coach.locator("#erase-error")).to_be_visible()
        await accessible(coach)
        await coach.fill("#erase-confirm", "sanne de vries")
        await coach.click("button.danger")
        await expect(coach.locator("h1")).to_have_text("Erased")
        await accessible(coach)

        await expect(coachee.locator("#fatal")).to_have_text(
            "This conversation has been erased. Ask your coach if you would like to continue.", timeout=WAIT)
        await expect(coachee.locator("#chat-form")).to_be_hidden()
        await coach.goto(f"{base}/engagements/{world['engagement_id']}")
        await expect(coach.locator("h1")).not_to_have_text("Sanne de Vries")
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Engagement))).scalar_one() == 0
        assert (await session.execute(select(func.count()).select_from(Coachee))).scalar_one() == 0
        assert (await session.execute(select(Erasure.kind))).scalar_one() == "engagement"
