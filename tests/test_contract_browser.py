"""In Debian's Chromium: the coach drafts a contract with three goals (and a sponsor); the
coachee accepts it on a phone-sized page from the link in their chat; the sponsor accepts
their part and sees only what was agreed; a new version needs a new acceptance (a page
left open on the old version is told so); a replaced link says what to do; bad input gets
a clear message; the pages pass axe-core and fit the phone's width; the PDF is text."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser import WAIT, browser  # noqa: F401 - the fixture
from tests.contract_support import GOALS, pdf_text
from tests.live_server import live_server
from tests.support import PASSWORD, seed, settings_for
from tests.test_accounts_browser import accessible

pytestmark = pytest.mark.browser
EMAIL = "marieke@example.org"
PHONE = {"width": 390, "height": 844}
NARROW = {"width": 360, "height": 740}


async def fits(page: Page, width: int) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= width, page.url


async def fill_goal(page: Page, n: int, title: str, indicators: str, score: str) -> None:
    goal = page.get_by_role("group", name=f"Goal {n}", exact=True)
    await goal.get_by_label("Goal", exact=True).fill(title)
    await goal.get_by_label("Indicators: how will you notice it is reached? (one a line)").fill(indicators)
    await goal.get_by_label("Score now (1 to 10)").fill(score)


async def accept(page: Page, name: str, version: int) -> None:
    await page.get_by_label("Your full name").fill(name)
    await page.get_by_role("checkbox", name=re.compile(f"I have read version {version}")).check()
    await page.get_by_role("button", name=f"Accept version {version}").click()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_contract_from_draft_to_acceptance_and_a_new_version(  # type: ignore[no-untyped-def]
    browser: Browser, db_url: str, clock
) -> None:
    ids = await seed(db_url, clock.now(), email=EMAIL, coachee="Sanne", language="en")
    with live_server(settings_for(db_url), clock) as base:
        coach = await (await browser.new_context(viewport=NARROW)).new_page()
        await coach.goto(base + "/login")
        await coach.get_by_label("E-mail").fill(EMAIL)
        await coach.get_by_label("Password").fill(PASSWORD)
        await coach.get_by_role("button", name="Log in").click()
        await coach.goto(f"{base}/engagements/{ids['engagement_id']}")
        await coach.get_by_role("link", name="Open the contract").click()
        await expect(coach.get_by_role("heading", name="Contract with Sanne")).to_be_visible()

        # The sponsor first, then the draft from the default template.
        await coach.get_by_label("Organisation").fill("Acme Zorg")
        await coach.get_by_label("Contact person").fill("Petra Jansen")
        await coach.get_by_role("button", name="Save the sponsor").click()
        await expect(coach.get_by_role("status")).to_have_text("The sponsor contact is saved.")
        await coach.get_by_role("button", name="Start the contract").click()
        await expect(coach.get_by_role("heading", name="Draft: version 1")).to_be_visible()
        await expect(coach.get_by_role("textbox", name="What is asked of the coach", exact=True)).to_have_value(re.compile("EMCC"))  # the template
        await fill_goal(coach, 1, *GOALS[0])
        await fill_goal(coach, 2, GOALS[1][0], GOALS[1][1], "12")
        await fill_goal(coach, 3, *GOALS[2])
        await coach.get_by_role("checkbox", name=re.compile("Triangular contract")).check()
        await coach.get_by_role("button", name="Save", exact=True).click()
        await expect(coach.get_by_role("alert")).to_have_text("Goal 2: the score is a whole number from 1 to 10.")
        await expect(coach.get_by_role("group", name="Goal 1", exact=True).get_by_label("Goal", exact=True)) \
            .to_have_value(GOALS[0][0])  # nothing typed is lost
        await coach.get_by_role("group", name="Goal 2", exact=True).get_by_label("Score now (1 to 10)").fill("3")
        await coach.get_by_role("button", name="Save", exact=True).click()
        await expect(coach.get_by_role("status")).to_have_text("The draft is saved.")
        await accessible_at(coach, 360)
        await coach.get_by_role("button", name="Offer to the coachee (and sponsor)").click()
        await expect(coach.get_by_role("status")).to_contain_text("The contract is offered")
        sponsor_link = base + re.sub(r"^https?://[^/]+", "",
                                     await coach.get_by_role("textbox", name="Sponsor's link").input_value())

        # The coachee finds the link in the chat and accepts on a phone.
        sanne = await (await browser.new_context(viewport=PHONE)).new_page()
        await sanne.goto(f"{base}/c/{ids['chat_token']}")
        offer_link = sanne.get_by_role("link", name=re.compile(r"contract.[A-Za-z0-9_-]{20}"))
        await expect(offer_link).to_be_visible(timeout=WAIT)
        # (The link carries the configured public URL; this server listens on a port of its own.)
        await sanne.goto(base + re.sub(r"^https?://[^/]+", "", await offer_link.get_attribute("href")))
        await expect(sanne.get_by_role("heading", name="Your coaching contract")).to_be_visible()
        await expect(sanne.locator(".goal-title")).to_have_text([g[0] for g in GOALS])
        await expect(sanne.get_by_text("No AI tools are used on your data.")).to_be_visible()
        await expect(sanne.get_by_role("link", name="113", exact=True)).to_have_attribute("href", "tel:113")
        await accessible_at(sanne, PHONE["width"])
        await sanne.get_by_label("Your full name").fill("   ")
        await sanne.get_by_role("checkbox", name=re.compile("I have read version 1")).check()
        await sanne.get_by_role("button", name="Accept version 1").click()
        await expect(sanne.get_by_role("alert")).to_have_text("A name is required.")
        await accept(sanne, "Sanne de Vries", 1)
        await expect(sanne.get_by_role("status")).to_have_text("Thank you: your acceptance is recorded.")
        await expect(sanne.locator(".acceptances")).to_contain_text("Accepted by Sanne de Vries (Coachee)")
        await expect(sanne.locator(".acceptances")).to_contain_text("Not accepted yet by: Sponsor")
        coachee_link = sanne.url.split("?")[0]

        # The sponsor accepts their part and then sees only what was agreed.
        petra = await (await browser.new_context(viewport=PHONE)).new_page()
        await petra.goto(sponsor_link)
        await expect(petra.get_by_role("heading", name="Coaching of Sanne")).to_be_visible()
        await expect(petra.get_by_text("Nothing yet: this page shows the coaching")).to_be_visible()
        await expect(petra.locator(".goal-title")).to_have_count(0)
        await accessible_at(petra, PHONE["width"])
        await petra.get_by_label("Your full name").fill("Petra Jansen")
        await petra.get_by_role("checkbox", name=re.compile("I have read version 1 and accept the sponsor")).check()
        await petra.get_by_role("button", name="Accept version 1").click()
        await expect(petra.get_by_role("status")).to_have_text("Thank you: your acceptance is recorded.")
        await expect(petra.locator("#sessions-count")).to_have_text("0 of 6 sessions held.")
        await expect(petra.get_by_text("The contract lets you see attendance only")).to_be_visible()
        for title, _, _ in GOALS:
            await expect(petra.get_by_text(title)).to_have_count(0)
        await accessible_at(petra, PHONE["width"])

        # The coach's overview: both acceptances; the timeline has them as exchanges.
        await coach.reload()
        await expect(coach.locator("tr.version[data-version='1']")).to_contain_text("In force")
        await expect(coach.locator("tr.version[data-version='1']")).to_contain_text("Petra Jansen")
        await coach.goto(f"{base}/engagements/{ids['engagement_id']}")
        await expect(coach.locator("#timeline")).to_contain_text("Sanne de Vries accepted version 1")
        await expect(coach.locator("#timeline")).to_contain_text("Petra Jansen accepted version 1")

        # A new version: the coachee's open page for version 1 is stale.
        await sanne.goto(coachee_link)
        await coach.goto(f"{base}/engagements/{ids['engagement_id']}/contract")
        await coach.get_by_role("button", name="Make a new version").click()
        await expect(coach.get_by_role("heading", name="Draft: version 2")).to_be_visible()
        await coach.get_by_role("group", name="Goal 2", exact=True).get_by_label("Goal", exact=True) \
            .fill("Saying no twice a week")
        await coach.get_by_role("button", name="Save", exact=True).click()
        await expect(coach.get_by_role("status")).to_have_text("The draft is saved.")
        await coach.get_by_role("button", name="Offer to the coachee (and sponsor)").click()
        await expect(coach.get_by_role("status")).to_contain_text("The contract is offered")
        await sanne.reload()
        await expect(sanne.get_by_text("Version 2 waits for your acceptance")).to_be_visible()
        # (A page still showing version 1's form would post version 1: refused with what to do.)
        await sanne.locator("input[name=version]").evaluate("e => e.value = '1'")
        await accept(sanne, "Sanne de Vries", 2)
        await expect(sanne.get_by_role("alert")).to_have_text(
            "Version 2 has replaced the version you were reading. Read version 2 below and accept that one.")
        await accept(sanne, "Sanne de Vries", 2)
        await expect(sanne.get_by_role("status")).to_have_text("Thank you: your acceptance is recorded.")
        await expect(sanne.locator(".goal-title").nth(1)).to_have_text("Saying no twice a week")
        # Version 2 waits for the sponsor before it is in force.
        await coach.reload()
        await expect(coach.locator("tr.version[data-version='2']")).to_contain_text("Offered, waiting for acceptance")
        await expect(coach.locator("tr.version[data-version='1']")).to_contain_text("In force")

        # The PDF of version 1: text, the accepted version, the times, the page's goals.
        response = await sanne.request.get(f"{coachee_link}/v/1/pdf")
        text = pdf_text(await response.body())
        assert "Version 1 · In force" in text
        assert re.search(r"Accepted by Sanne de Vries \(Coachee\) on 25 November 2026, \d\d:\d\d:\d\d", text)
        assert re.search(r"Accepted by Petra Jansen \(Sponsor\) on 25 November 2026", text)
        assert re.findall(r"Goal \d: (.+)", text) == [g[0] for g in GOALS]
        await sanne.goto(f"{coachee_link}/v/1")
        await expect(sanne.get_by_role("link", name="Download as PDF")).to_be_visible()
        await accessible_at(sanne, PHONE["width"])

        # The coach replaces the coachee's link: the old one says what to do.
        await coach.get_by_text("Make a new link").first.click()
        await coach.get_by_role("button", name="Yes, replace the link").first.click()
        await expect(coach.get_by_role("status")).to_have_text("A new link is made; the old one no longer works.")
        await sanne.goto(coachee_link)
        await expect(sanne.get_by_text("This contract link has been replaced by a newer one or withdrawn.")) \
            .to_be_visible()
        await accessible_at(sanne, PHONE["width"])


async def accessible_at(page: Page, width: int) -> None:
    """No critical or serious axe-core finding, and nothing wider than the screen."""
    if width == 360:
        await accessible(page)
    else:
        from axe_playwright_python.async_playwright import Axe

        results = await Axe().run(page)
        bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
               for v in results.response["violations"] if v["impact"] in ("critical", "serious")]
        assert not bad, f"{page.url}: {bad}"
        await fits(page, width)
