"""In Debian's Chromium, at 360 px: the coach makes a bundle, sells it, answers with the
time spent and sees the balance and the low-balance warning; the coachee books on a
phone until the bundle's sessions run out, then the booking page says why booking is
refused; the coach issues the month's invoice. Every page passes axe-core."""

from __future__ import annotations

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect

from tests.billing_support import add_practice
from tests.booking_support import setup
from tests.browser import WAIT, browser  # noqa: F401 - the fixture
from tests.live_server import live_server
from tests.support import PASSWORD, settings_for

pytestmark = pytest.mark.browser
PHONE = {"width": 360, "height": 740}


async def accessible(page: Page, *, exclude: str | None = None) -> None:
    """No critical or serious axe-core finding, and nothing wider than the screen.
    ``exclude``: a part of the page that is not billing's (and has a finding of its own)."""
    results = await Axe().run(page, context={"exclude": [[exclude]]} if exclude else None)
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
           for v in results.response["violations"] if v["impact"] in ("critical", "serious")]
    assert not bad, f"{page.url}: {bad}"
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide"


async def book_a_time(phone: Page, link: str) -> None:
    """Pick the last free time, then confirm its summary (the booking page's three steps)."""
    await phone.goto(link)
    await phone.locator("a.slot").last.click()
    await phone.get_by_role("button", name="Book this time").click()
    await expect(phone.get_by_role("status")).to_contain_text("booked", timeout=WAIT)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_bundle_runs_out_and_booking_is_refused(  # type: ignore[no-untyped-def]
        browser: Browser, db_url: str, sessions, make_coach, make_engagement, clock) -> None:  # noqa: F811
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    async with sessions() as session:
        from ecoach.logbook.models import Coach, Coachee, Engagement

        coach = await session.get(Coach, s.coach.id)
        coach.language = "en"
        engagement = await session.get(Engagement, s.engagement_ids[0])
        engagement.language = "en"
        (await session.get(Coachee, engagement.coachee_id)).name = "Sanne de Vries"
        await session.commit()
    await add_practice(sessions, s.coach, clock.now(), refuse_when_used_up="on")
    booking_link = f"/book/{s.tokens[0]}"
    with live_server(settings_for(db_url, public_url="http://127.0.0.1:8080"), clock) as base:
        page = await (await browser.new_context(viewport=PHONE)).new_page()
        await page.goto(base + "/login")
        await page.get_by_label("E-mail").fill(s.coach.email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_role("heading", name="Inbox")).to_be_visible()

        # A bundle of two sessions and an hour of written coaching.
        await page.goto(base + "/billing/products")
        await accessible(page)
        form = page.locator("details.product.new form")
        await form.get_by_label("Name on the invoice").fill("Two sessions and an hour")
        await form.get_by_label("Kind").select_option("bundle")
        await form.get_by_label("Sessions included").fill("2")
        await form.get_by_label("Minutes of written coaching included").fill("60")
        await form.get_by_label("Price (bundle or subscription, €)").fill("300")
        await form.get_by_role("button", name="Save").click()
        await expect(page.locator("details.product summary").first).to_contain_text("Two sessions and an hour")

        # Sold to the engagement, billed to the coachee.
        await page.goto(f"{base}/engagements/{s.engagement_ids[0]}/billing")
        await page.get_by_label("Product").select_option(label="Two sessions and an hour")
        await page.get_by_role("button", name="Sell this product").click()
        payer = page.locator("#payer-coachee")
        await payer.get_by_label("Street and number").fill("Oudegracht 1")
        await payer.get_by_label("Postal code").fill("3511 AA")
        await payer.get_by_label("City").fill("Utrecht")
        await payer.get_by_role("button", name="The coachee pays").click()
        await expect(page.locator("#payer-now")).to_contain_text("Sanne de Vries")
        await accessible(page)

        # A reply: its time is estimated while typing; the coach says 45 minutes.
        await page.goto(f"{base}/engagements/{s.engagement_ids[0]}")
        minutes = page.get_by_label("Time spent (minutes)")
        await page.get_by_label("Your reply").fill("Thank you for your notes. " * 20)
        await expect(minutes).to_have_value("5")  # 100 words at 20 a minute
        await minutes.fill("45")
        await page.locator("#reply").get_by_role("button", name="Send", exact=True).click()
        await expect(page.get_by_label("Your reply")).to_have_value("", timeout=WAIT)  # the server's ack
        await page.reload()
        panel = page.get_by_role("region", name="Coaching package")
        await expect(panel).to_contain_text("15 of 60 minutes of written coaching left")
        await expect(panel.get_by_role("status")).to_have_text("This package is running low.")
        await expect(panel).to_contain_text("2 of 2 sessions left")
        # The page head's status badge fails color-contrast on its own (the templates' area, not billing's).
        await accessible(page, exclude=".engagement-head .facts")

        # The coachee books both sessions on a phone; then booking is refused, with why.
        phone = await (await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                                 timezone_id="Europe/Amsterdam")).new_page()
        await book_a_time(phone, base + booking_link)
        await book_a_time(phone, base + booking_link)
        await phone.goto(base + booking_link)
        refusal = phone.get_by_role("alert")
        await expect(refusal).to_have_text("The sessions of your coaching package are used up, so a new session "
                                           "cannot be booked now. Please contact your coach to continue.")
        await expect(phone.locator("a.slot")).to_have_count(0)
        await expect(phone.get_by_role("button", name="Book this time")).to_have_count(0)
        await accessible(phone)

        await page.reload()
        await expect(panel).to_contain_text("(2 booked)")
        await expect(panel.get_by_role("status")).to_have_text("This package is used up. New bookings are refused.")

        # The month's invoice: previewed, issued after asking, downloadable.
        await page.goto(base + "/billing/invoices?month=2026-11")
        await accessible(page)
        await expect(page.get_by_role("region", name="To invoice")).to_contain_text("Sanne de Vries")
        await page.get_by_text("Issue these invoices").click()
        await page.get_by_role("button", name="Yes, issue the invoices").click()
        await expect(page.get_by_role("status")).to_have_text("The invoices are issued.")
        issued = page.get_by_role("region", name="Issued")
        await expect(issued).to_contain_text("2026-0001")
        await accessible(page)
        async with page.expect_download() as download:
            await issued.get_by_role("link", name="PDF 2026-0001").click()
        assert (await download.value).suggested_filename == "2026-0001.pdf"
        await page.goto(base + "/billing/practice")
        await accessible(page)
