"""In Debian's Chromium with its virtual authenticator (CDP WebAuthn: ctap2, internal,
resident keys, user verification): add a passkey on the two-factor page, log out, log in
with password + passkey, and an old session cookie no longer works. Pages pass axe-core at
360 px in Dutch and English.

WebAuthn needs a secure context and an RP ID that is a host name: the server listens on
127.0.0.1, and the browser reaches it as http://localhost:<port> (loopback, and secure
for browsers), which is also its public_url."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser import WAIT, browser  # noqa: F401 - the fixture
from tests.live_server import live_server
from tests.server_process import free_port
from tests.support import PASSWORD, seed, settings_for
from tests.test_accounts_browser import PHONE, accessible

pytestmark = pytest.mark.browser
EMAIL = "marieke@example.org"
NAME = "MacBook Touch ID"


async def virtual_authenticator(context: BrowserContext, page: Page) -> None:
    cdp = await context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable")
    await cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})


async def password(page: Page, base: str) -> None:
    await page.goto(base + "/login")
    await page.fill("input[name=email]", EMAIL)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button.primary")


async def shows_login_page(browser: Browser, base: str, cookies) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    thief = await browser.new_context(viewport=PHONE)
    await thief.add_cookies(cookies)
    stolen = await thief.new_page()
    await stolen.goto(base + "/")
    await expect(stolen.locator("input[name=password]")).to_be_visible()
    assert urlsplit(stolen.url).path == "/login"
    await thief.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_add_a_passkey_and_log_in_with_it(browser: Browser, db_url: str, clock) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    await seed(db_url, clock.now(), email=EMAIL, language="en")
    port = free_port()
    base = f"http://localhost:{port}"
    with live_server(settings_for(db_url, public_url=base), clock, port=port):
        context = await browser.new_context(viewport=PHONE)
        page = await context.new_page()
        await virtual_authenticator(context, page)
        await password(page, base)
        await expect(page.locator("h1")).to_have_text("Inbox")
        before = await context.cookies()
        # Add the passkey (the page asks for a name and the password).
        await page.goto(base + "/account/2fa")
        await page.fill("[data-passkey-register] input[name=name]", NAME)
        await page.fill("[data-passkey-register] input[name=password]", PASSWORD)
        await accessible(page)
        await page.click("[data-passkey-register] button")
        await expect(page.locator("p.notice").first).to_contain_text("The passkey is added", timeout=WAIT)
        await expect(page.locator(".passkey-list li")).to_contain_text(NAME)
        await accessible(page)
        await shows_login_page(browser, base, before)  # adding it ended the login from before
        # Log out; log in with the password and the passkey.
        await page.click("button:has-text('Log out')")
        await password(page, base)
        await expect(page.locator("h1")).to_have_text("Verification code")
        await accessible(page)
        await page.click("[data-passkey-use]")
        await expect(page.locator("h1")).to_have_text("Inbox", timeout=WAIT)
        copied = await context.cookies()
        await page.goto(base + "/account/2fa")
        await expect(page.locator(".passkey-list li")).to_contain_text("last used")
        # The same pages in Dutch.
        await page.select_option("select[name=language]", "nl")
        await page.click(".language-form button")
        await expect(page.locator("h1")).to_have_text("Tweestapsverificatie")
        await accessible(page)
        await page.click(".passkey-list form.confirm-open button")
        await expect(page.locator("dialog.confirm-dialog[open]")).to_contain_text(NAME)
        await accessible(page)
        await page.keyboard.press("Escape")
        await page.click("button:has-text('Uitloggen')")
        await expect(page.locator("input[name=password]")).to_be_visible()
        await shows_login_page(browser, base, copied)  # logged out: the copied cookie is dead
        await password(page, base)
        await expect(page.locator("[data-passkey-use]")).to_be_visible()
        await accessible(page)
        await context.close()
