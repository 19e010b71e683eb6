"""In Debian's Chromium at 360 px: the webhooks page passes axe-core at each step (empty,
with the new secret, with a delivery, with a confirmation open), a test event reaches a
real receiver through the running task runner, and deleting asks first."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.browser import WAIT, browser  # noqa: F401 - the fixture
from tests.dovecot import wait_until
from tests.live_server import live_server
from tests.support import PASSWORD, seed, settings_for
from tests.test_accounts_browser import PHONE, accessible
from tests.webhook_support import Receiver, receiver  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_webhooks_page_in_chromium(browser: Browser, db_url: str, clock, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    await seed(db_url, clock.now(), email="marieke@example.org", language="en")
    settings = settings_for(db_url, webhooks={"allow_private_addresses": True},
                            scheduler={"enabled": True, "poll_seconds": 3600})
    with live_server(settings, clock) as base:
        context = await browser.new_context(viewport=PHONE)
        page = await context.new_page()
        page.set_default_timeout(WAIT)
        await page.goto(base + "/login")
        await page.fill("input[name=email]", "marieke@example.org")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button.primary")
        await expect(page.locator("h1")).to_have_text("Inbox")
        await page.goto(base + "/webhooks")
        await expect(page.locator("h1")).to_have_text("Webhooks")
        await accessible(page)

        form = page.locator("#new form")
        await form.locator("input[name=url]").fill(receiver.url)
        await form.locator("input[name=description]").fill("My CRM")
        await form.get_by_label("A session was booked").check()
        await form.get_by_role("button", name="Add webhook").click()
        await expect(page.locator(".token-value")).to_have_value(re.compile("^whsec_"))
        await accessible(page)

        await page.get_by_role("button", name="Send a test event").click()
        await expect(page.locator("p.notice")).to_contain_text("test event is on its way")
        await wait_until(lambda: receiver.received)
        assert receiver.received[0].json["type"] == "webhook.test"
        await page.reload()
        await expect(page.locator(".deliveries .badge")).to_have_text("delivered")
        await page.locator("details.confirm summary", has_text="Delete").click()
        await accessible(page)
        await page.get_by_role("button", name="Yes, delete").click()
        await expect(page.locator("p.notice")).to_have_text("The webhook has been deleted.")
        await accessible(page)
        await context.close()
