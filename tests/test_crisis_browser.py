"""In Debian's Chromium at 360 px, with a real SMTP relay: a coachee writes a crisis
message in the chat; the coachee sees the crisis resources at once; the coach's inbox,
open already, puts the engagement on top in red with a live alert; the alert mail reaches
the relay. The coach marks it a false alarm; the inbox is calm again. Every page on the
way (chat, inbox, engagement, crisis resources) passes axe-core."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from playwright.async_api import Browser, expect

from tests.browser import WAIT, browser  # noqa: F401 - the fixture
from tests.dovecot import wait_until
from tests.live_server import live_server
from tests.smtp_relay import SmtpRelay, smtp_relay  # noqa: F401 - the fixture
from tests.support import PASSWORD, seed, settings_for
from tests.test_accounts_browser import PHONE, accessible

pytestmark = pytest.mark.browser
EMAIL = "marieke@example.org"
CRISIS = "Ik kan niet meer. Ik wil er niet meer zijn, ik denk erover om een eind aan mijn leven te maken."


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the database side is tested on both elsewhere
async def test_a_crisis_in_the_chat_reaches_coachee_and_coach_at_once(  # type: ignore[no-untyped-def]
        browser: Browser, db_url: str, clock, smtp_relay: SmtpRelay) -> None:  # noqa: F811
    world = await seed(db_url, clock.now(), email=EMAIL, coachee="Sanne de Vries", coachee_email="sanne@example.test")
    settings = settings_for(db_url, mail={"enabled": True, "domain": "coaching.test", "notify_coach": "off",
                                          "smtp_host": smtp_relay.host, "smtp_port": smtp_relay.port})
    with live_server(settings, clock) as base:
        coach = await (await browser.new_context(viewport=PHONE)).new_page()
        await coach.goto(base + "/login")
        await coach.fill("input[name=email]", EMAIL)
        await coach.fill("input[name=password]", PASSWORD)
        await coach.click("button.primary")
        await expect(coach.locator("[data-live-inbox]")).to_be_attached(timeout=WAIT)
        await expect(coach.locator(".inbox-row.crisis")).to_have_count(0)

        coachee = await (await browser.new_context(viewport=PHONE)).new_page()
        await coachee.goto(f"{base}/c/{world['chat_token']}")
        await expect(coachee.locator(".connection.online")).to_be_visible(timeout=WAIT)
        await coachee.fill("#chat-text", CRISIS)
        await coachee.click("#chat-form button")

        # The coachee: the resources at once, in Dutch, numbers to tap.
        panel = coachee.locator("#timeline li.exchange.crisis-panel")
        await expect(panel).to_contain_text("113 Zelfmoordpreventie", timeout=WAIT)
        await expect(panel.locator('a[href="tel:08000113"]')).to_have_text("0800-0113")
        await expect(panel.locator('a[href="tel:112"]')).to_be_visible()
        await expect(coachee.locator("#timeline li.exchange.crisis-flag")).to_have_count(0)  # the coach's only
        await accessible(coachee)

        # The coach: on top, in red, live, with an alert that links to the message.
        first = coach.locator(".inbox-row").first
        await expect(first).to_have_class(re.compile(r"\binbox-row crisis\b"), timeout=WAIT)
        await expect(first).to_contain_text("Crisissignaal")
        await expect(first.locator(".snippet")).to_have_text("Een bericht wijst mogelijk op een crisis: lees het nu.")
        await expect(coach.locator("#crisis-alert")).to_contain_text("Crisissignaal van Sanne de Vries", timeout=WAIT)
        await accessible(coach)

        # The alert mail, at once (no digest, no quiet hours), with a link and no content.
        await wait_until(lambda: [m for m in smtp_relay.messages if m.rcpt_tos == (EMAIL,)], timeout=30)
        [alert] = [m for m in smtp_relay.messages if m.rcpt_tos == (EMAIL,)]
        mail = message_from_bytes(alert.raw, policy=default_policy)
        assert mail["Subject"] == "Crisissignaal: Sanne de Vries"
        assert f"/engagements/{world['engagement_id']}" in mail.get_body(("plain",)).get_content()

        # What was recognised, for the coach; marking it a false alarm calms the inbox.
        await coach.locator("#crisis-alert a").click()
        await expect(coach.locator("#crisis")).to_contain_text("eind aan mijn leven")
        await expect(coach.locator("#timeline li.exchange.crisis-flag")).to_contain_text("Crisissignaal")
        await accessible(coach)
        await coach.click("#crisis button[value=false_alarm]")
        await expect(coach.locator("#crisis")).to_have_count(0)
        await expect(coach.locator("#timeline li.exchange.crisis-flag").last).to_contain_text("vals alarm")
        await coach.goto(base + "/")
        await expect(coach.locator(".inbox-row.crisis")).to_have_count(0)

        await coach.goto(base + "/settings/crisis")
        await expect(coach.locator("#name-0")).to_have_value("113 Zelfmoordpreventie")
        await accessible(coach)
