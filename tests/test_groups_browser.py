"""In Debian's Chromium: a group of three coachees in two browser contexts (one with two
members' pages) and their coach see the group conversation live; a one-to-one message stays
on its own chat; a co-coach answers the coachee from the engagement page. The group pages
pass axe-core and fit 360 px."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from ecoach.actions.groups import do_add_group_member, do_create_group
from ecoach.actions.team import do_add_member
from ecoach.logbook import queries
from ecoach.logbook.db import create_engine, session_factory
from tests.browser import WAIT, browser  # noqa: F401 - the fixture
from tests.conftest import fresh_keyring
from tests.group_support import add_engagement
from tests.live_server import live_server
from tests.support import PASSWORD, seed, settings_for
from tests.test_resources_browser import accessible

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
NARROW = {"width": 360, "height": 740}


async def log_in(page: Page, base: str, email: str) -> None:
    await page.goto(base + "/login")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("h1")).to_have_text("Inbox")


async def make_group(db_url: str, now, owner_email: str, co_email: str, engagement_ids: list[int]) -> int:  # type: ignore[no-untyped-def]
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, fresh_keyring())() as session:
            coach = await queries.get_coach_by_email(session, owner_email)
            group = await do_create_group(session, coach, name="Spring leadership", language="en", now=now)
            for eid in engagement_ids:
                await do_add_group_member(session, coach, group, eid, now=now)
            first = await queries.get_engagement(session, coach.id, engagement_ids[0])
            await do_add_member(session, coach, first, email=co_email, role="co_coach", now=now)
            await session.commit()
            return group.id
    finally:
        await engine.dispose()


async def send(page: Page, text: str) -> None:
    await page.locator("#chat-text").fill(text)
    await page.locator("#chat-form").get_by_role("button", name="Send").click()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_group_chat_live_for_all_and_a_co_coach_answers(browser: Browser, db_url: str, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="marieke@example.org", coachee="Sanne", language="en")
    await seed(db_url, clock.now(), email="jan@example.org", coachee="Kim", language="en")
    members = [a] + [await add_engagement(db_url, clock.now(), a["email"], name) for name in ("Ahmed", "Noor")]
    gid = await make_group(db_url, clock.now(), a["email"], "jan@example.org", [m["engagement_id"] for m in members])
    with live_server(settings_for(db_url), clock) as base:
        coach = await (await browser.new_context(viewport=NARROW)).new_page()
        await log_in(coach, base, a["email"])
        await coach.goto(f"{base}/groups/{gid}")
        await expect(coach.locator("#connection")).to_have_text("Connected", timeout=WAIT)
        await accessible(coach, NARROW["width"])

        phones = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        sanne, ahmed = await phones.new_page(), await phones.new_page()
        noor = await (await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)).new_page()
        await sanne.goto(f"{base}/c/{members[0]['chat_token']}")
        await sanne.get_by_role("link", name="Group: Spring leadership").click()
        for page, member in ((ahmed, members[1]), (noor, members[2])):
            await page.goto(f"{base}/c/{member['chat_token']}/groups/{gid}")
        for page in (sanne, ahmed, noor):
            await expect(page.locator("#connection")).to_have_text("Connected", timeout=WAIT)
        await accessible(sanne, PHONE["width"])

        await send(sanne, "Who has tips for saying no?")
        for page in (ahmed, noor, coach):
            await expect(page.locator("#timeline")).to_contain_text("Who has tips for saying no?", timeout=WAIT)
        await send(coach, "Good question, let's collect them")
        for page in (sanne, ahmed, noor):
            await expect(page.locator("#timeline")).to_contain_text("let's collect them", timeout=WAIT)

        # Ahmed's own chat with his coach stays his.
        own = await phones.new_page()
        await own.goto(f"{base}/c/{members[1]['chat_token']}")
        await send(own, "Only for you: I am thinking of quitting")
        await expect(own.locator("#timeline li.from-me")).to_contain_text("thinking of quitting", timeout=WAIT)
        await send(noor, "Saying no kindly works for me")
        for page in (sanne, ahmed, coach):
            await expect(page.locator("#timeline")).to_contain_text("Saying no kindly", timeout=WAIT)
        for page in (sanne, ahmed, noor, coach):
            await expect(page.locator("#timeline")).not_to_contain_text("thinking of quitting")

        # The co-coach answers Sanne from the engagement page; Sanne sees both coaches named.
        co = await (await browser.new_context(viewport=NARROW)).new_page()
        await log_in(co, base, "jan@example.org")
        await co.goto(f"{base}/engagements/{members[0]['engagement_id']}")
        await co.locator("#reply textarea[name=text]").fill("Hello Sanne, Jan here, I coach with Marieke")
        await co.locator("#reply-send").click()
        await sanne.goto(f"{base}/c/{members[0]['chat_token']}")
        await expect(sanne.locator("#timeline")).to_contain_text("Jan here", timeout=WAIT)
        await expect(sanne.locator("#coaches-line")).to_contain_text("Coach jan@example.org")
        for context in (coach.context, phones, noor.context, co.context):
            await context.close()
