"""In Debian's Chromium: two-factor login, logout and a replayed cookie, password reset by
mail through the real SMTP relay; the new pages pass axe-core and fit 360 px."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect

from tests.account_support import code, link_in
from tests.browser import WAIT, browser  # noqa: F401 - the fixture
from tests.dovecot import wait_until
from tests.live_server import live_server
from tests.smtp_relay import SmtpRelay, smtp_relay  # noqa: F401 - the fixture
from tests.support import PASSWORD, seed, settings_for

pytestmark = pytest.mark.browser
PHONE = {"width": 360, "height": 740}
NEW_PASSWORD = "my new sentence for ecoach"
EMAIL = "marieke@example.org"


async def accessible(page: Page) -> None:
    """No critical or serious axe-core finding, and nothing wider than the screen."""
    results = await Axe().run(page)
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
           for v in results.response["violations"] if v["impact"] in ("critical", "serious")]
    assert not bad, f"{page.url}: {bad}"
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide"


async def log_in(page: Page, base: str, password: str, second: str | None) -> None:
    await page.goto(base + "/login")
    await page.fill("input[name=email]", EMAIL)
    await page.fill("input[name=password]", password)
    await page.click("button.primary")
    if second is not None:
        await expect(page.locator("h1")).to_have_text("Verification code")
        await accessible(page)
        await page.fill("input[name=code]", second)
        await page.click("button.primary")
    await expect(page.locator("h1")).to_have_text("Inbox")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_two_factor_logout_replay_and_reset(browser: Browser, db_url: str, clock,  # type: ignore[no-untyped-def]
                                                  smtp_relay: SmtpRelay) -> None:
    await seed(db_url, clock.now(), email=EMAIL, language="en")
    settings = settings_for(db_url, mail={"enabled": True, "domain": "coaching.test",
                                          "smtp_host": smtp_relay.host, "smtp_port": smtp_relay.port})
    with live_server(settings, clock) as base:
        context = await browser.new_context(viewport=PHONE)
        page = await context.new_page()
        await log_in(page, base, PASSWORD, None)
        # Set up 2FA: scan (read) the key, type the app's code, keep the recovery codes.
        await page.goto(base + "/account/2fa")
        await accessible(page)
        secret = (await page.locator("code.secret").inner_text()).replace(" ", "")
        await page.fill("input[name=code]", code(secret, clock.now()))
        await page.click("button.primary")
        await expect(page.locator("ul.recovery-codes li")).to_have_count(10)
        await accessible(page)
        await page.click("text=I have saved them")
        await expect(page.locator("h1")).to_have_text("Your account")
        await accessible(page)
        # Log out, then in with password and code.
        await page.click("button:has-text('Log out')")
        await expect(page.locator("input[name=password]")).to_be_visible()
        clock.advance(seconds=30)
        await log_in(page, base, PASSWORD, code(secret, clock.now()))
        copied = await context.cookies()
        await page.click("button:has-text('Log out')")
        await expect(page.locator("input[name=password]")).to_be_visible()
        # The old cookie, replayed in another browser: the login page.
        thief = await browser.new_context(viewport=PHONE)
        await thief.add_cookies(copied)
        stolen = await thief.new_page()
        await stolen.goto(base + "/")
        await expect(stolen.locator("input[name=password]")).to_be_visible()
        assert urlsplit(stolen.url).path == "/login"
        await thief.close()

        # Forgot the password: a mail through the relay, a link, a new password.
        await page.goto(base + "/login")
        await page.click("text=Forgot your password?")
        await accessible(page)
        await page.fill("input[name=email]", EMAIL)
        await page.click("button.primary")
        await expect(page.locator("p.notice")).to_contain_text("on its way")
        await accessible(page)
        await wait_until(lambda: smtp_relay.messages)
        link = link_in(smtp_relay.messages[-1].raw)
        await page.goto(base + urlsplit(link).path)
        await accessible(page)
        await page.fill("input[name=new]", NEW_PASSWORD)
        await page.fill("input[name=repeat]", NEW_PASSWORD)
        await page.click("button.primary")
        await expect(page.locator("p.notice")).to_contain_text("Your password has been changed")
        clock.advance(seconds=30)
        await log_in(page, base, NEW_PASSWORD, code(secret, clock.now()))

        # The administrator's page, and a destructive action that asks first.
        await page.goto(base + "/admin/coaches")
        await accessible(page)
        await page.fill("input[name=name]", "Nieuwe Coach")
        await page.fill("input[name=email]", "new@example.org")
        await page.click("form[action='/admin/coaches'] button.primary")
        await expect(page.locator("p.notice")).to_contain_text("invitation")
        await page.click("summary:has-text('Deactivate')")
        await expect(page.locator("button:has-text('Yes, deactivate')")).to_be_visible(timeout=WAIT)
        await accessible(page)
        await context.close()
