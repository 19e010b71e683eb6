"""In Debian's Chromium at 360 px: the coach's activity log and the practice's pass axe-core,
fit the screen, filter by kind, and show where a login came from."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.browser import WAIT, browser  # noqa: F401 - the fixture
from tests.live_server import live_server
from tests.support import PASSWORD, seed, settings_for
from tests.test_accounts_browser import PHONE, accessible

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_activity_log_at_360_px(browser: Browser, db_url: str, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="marieke@example.org", language="en")  # the administrator
    with live_server(settings_for(db_url), clock) as base:
        context = await browser.new_context(viewport=PHONE)
        page = await context.new_page()
        await page.goto(base + "/login")
        await page.fill("input[name=email]", a["email"])
        await page.fill("input[name=password]", "not my password at all")
        await page.click("button.primary")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button.primary")
        await expect(page.locator("h1")).to_have_text("Inbox", timeout=WAIT)
        await page.goto(f"{base}/engagements/{a['engagement_id']}")
        await page.goto(f"{base}/search?q=sanne")
        await page.goto(base + "/account")
        await page.click("text=Your activity log")
        await expect(page.locator("h1")).to_have_text("Your activity log", timeout=WAIT)
        items = page.locator("ul.audit-list > li")
        await expect(items.first).to_contain_text("Searched the logbook", timeout=WAIT)
        await expect(page.locator("[data-kind=login_failed]")).to_contain_text("127.0.0.1")
        await expect(page.locator("[data-kind=engagement_viewed]")).to_contain_text("Sanne")
        await accessible(page)
        await page.select_option("select[name=kind]", "login")
        await page.click("button:has-text('Show')")
        await expect(page.locator("ul.audit-list > li")).to_have_count(2, timeout=WAIT)  # failed, then logged in
        await accessible(page)
        await page.goto(base + "/admin/coaches")
        await page.click("text=Practice activity log")
        await expect(page.locator("h1")).to_have_text("Practice activity log", timeout=WAIT)
        await expect(page.locator("[data-kind=coach_added]")).to_have_count(1)
        await accessible(page)
        await page.goto(base + "/audit?from=yesterday")
        await expect(page.locator(".error-message")).to_contain_text("2026-12-24")
        await accessible(page)
        await context.close()
