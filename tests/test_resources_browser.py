"""In Debian's Chromium: the coach shares an exercise and the coachee answers it on a phone
(390 × 844); files go both ways in the chat and download intact; a file chosen offline is
delivered once when the connection is back. Every page passes axe-core and fits 360 px."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.keyring import Keyring
from ecoach.core.crypto import MasterKeys
from ecoach.logbook.models import Exchange
from tests.browser import WAIT, browser  # noqa: F401 - the fixture
from tests.conftest import TEST_MASTER_KEY
from tests.file_samples import docx, png
from tests.live_server import live_server
from tests.support import PASSWORD, seed, settings_for

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
NARROW = {"width": 360, "height": 740}
EMAIL = "marieke@example.org"


async def accessible(page: Page, width: int) -> None:
    results = await Axe().run(page)
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
           for v in results.response["violations"] if v["impact"] in ("critical", "serious")]
    assert not bad, f"{page.url}: {bad}"
    scrolled = await page.evaluate("document.documentElement.scrollWidth")
    wide = await page.evaluate("""(w) => Array.from(document.querySelectorAll('body *'))
        .filter((e) => e.getBoundingClientRect().right > w).slice(0, 5)
        .map((e) => e.tagName + '.' + e.className + '#' + e.id)""", width)
    assert scrolled <= width, f"{page.url} is {scrolled}px wide: {wide}"


async def log_in(page: Page, base: str) -> None:
    await page.goto(base + "/login")
    await page.get_by_label("E-mail address").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("h1")).to_have_text("Inbox")


async def stored_files(db_url: str, engagement_id: int, name: str) -> int:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, keyring=Keyring(MasterKeys([TEST_MASTER_KEY])))() as session:
            rows = (await session.execute(select(Exchange).where(Exchange.engagement_id == engagement_id))).scalars()
            return sum(1 for x in rows if x.body_text == name and (x.meta or {}).get("file"))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_coach_shares_an_exercise_the_coachee_answers_on_a_phone(browser: Browser, db_url: str,  # type: ignore[no-untyped-def]
                                                                        clock) -> None:
    data = await seed(db_url, clock.now(), email=EMAIL, language="en")
    with live_server(settings_for(db_url), clock) as base:
        coach = await (await browser.new_context(viewport=NARROW)).new_page()
        await log_in(coach, base)
        await coach.get_by_role("link", name="Library").click()
        await expect(coach.get_by_role("heading", name="Resource library")).to_be_visible()
        await coach.get_by_label("Kind", exact=True).select_option("exercise")
        await coach.get_by_label("Title", exact=True).fill("Energy audit")
        await coach.get_by_label("Questions (for an exercise), one per line").fill(
            "What gives you energy?\nWhat drains your energy?")
        await coach.get_by_label("Tags, separated by commas").fill("energy, values")
        await coach.get_by_role("button", name="Add to the library").click()
        await expect(coach.get_by_role("heading", name="Energy audit")).to_be_visible(timeout=WAIT)
        await expect(coach.locator("#shared-with")).to_contain_text("Not shared yet")
        await accessible(coach, NARROW["width"])
        await coach.goto(base + "/resources?tag=energy")
        await accessible(coach, NARROW["width"])

        await coach.goto(f"{base}/engagements/{data['engagement_id']}")
        await coach.get_by_role("button", name="Share Energy audit", exact=True).click()
        await expect(coach.locator("#timeline")).to_contain_text("Energy audit", timeout=WAIT)
        await accessible(coach, NARROW["width"])

        phone = await (await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)).new_page()
        await phone.goto(f"{base}/c/{data['chat_token']}")
        await phone.get_by_text("Shared with you, your progress and your data").click()  # folded above the chat
        shared = phone.get_by_role("region", name="Shared with you")
        await expect(shared).to_contain_text("Energy audit")
        await accessible(phone, PHONE["width"])
        await shared.get_by_role("link", name="Energy audit").click()
        await expect(phone.get_by_role("heading", name="Energy audit")).to_be_visible()
        await accessible(phone, PHONE["width"])
        await phone.get_by_label("What gives you energy?").fill("Walking in the woods")
        await phone.get_by_label("What drains your energy?").fill("Long meetings")
        await phone.get_by_role("button", name="Send my answers").click()
        await expect(phone.get_by_role("status")).to_contain_text("Thank you", timeout=WAIT)
        await accessible(phone, PHONE["width"])

        # Live in the coach's timeline, and the library knows everyone answered.
        await expect(coach.locator("#timeline")).to_contain_text("Walking in the woods", timeout=WAIT)
        await coach.goto(base + "/resources")
        await expect(coach.locator(".resource-item")).to_contain_text("answered 1 of 1")
        await phone.context.close()
        await coach.context.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_files_both_ways_intact_and_once_after_offline(browser: Browser, db_url: str, clock,  # type: ignore[no-untyped-def]
                                                             tmp_path: Path) -> None:
    data = await seed(db_url, clock.now(), email=EMAIL, language="en")
    photo, sheet, later = tmp_path / "holiday.png", tmp_path / "worksheet.docx", tmp_path / "offline.png"
    photo.write_bytes(png(1000, 700))
    sheet.write_bytes(docx())
    later.write_bytes(png(300, 200, (10, 200, 10)))
    eid = data["engagement_id"]
    with live_server(settings_for(db_url), clock) as base:
        coach = await (await browser.new_context(viewport=NARROW)).new_page()
        await log_in(coach, base)
        await coach.goto(f"{base}/engagements/{eid}")
        phone_context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        phone = await phone_context.new_page()
        await phone.goto(f"{base}/c/{data['chat_token']}")
        await expect(phone.locator(".connection.online")).to_be_visible(timeout=WAIT)

        # Coachee -> coach: live, with a preview; the coach downloads the same bytes.
        await phone.get_by_label("Attach a file").set_input_files(photo)
        entry = coach.locator("#timeline li.exchange", has_text="holiday.png")
        await expect(entry.get_by_role("img", name="Preview of holiday.png")).to_be_visible(timeout=WAIT)
        async with coach.expect_download() as info:
            await entry.get_by_role("link", name="Download").click()
        got = Path(await (await info.value).path())
        assert hashlib.sha256(got.read_bytes()).hexdigest() == hashlib.sha256(photo.read_bytes()).hexdigest()
        await accessible(coach, NARROW["width"])

        # Coach -> coachee, the other way.
        await coach.get_by_label("Attach a file").set_input_files(sheet)
        mine = phone.locator("#timeline li.exchange", has_text="worksheet.docx")
        await expect(mine.get_by_role("link", name="Download")).to_be_visible(timeout=WAIT)
        async with phone.expect_download() as info:
            await mine.get_by_role("link", name="Download").click()
        download = await info.value
        assert download.suggested_filename == "worksheet.docx"
        assert Path(await download.path()).read_bytes() == sheet.read_bytes()
        await accessible(phone, PHONE["width"])

        # A file refused in the browser before it is sent: a clear message.
        bad = tmp_path / "setup.exe"
        bad.write_bytes(b"MZ" + bytes(64))
        await phone.get_by_label("Attach a file").set_input_files(bad)
        await expect(phone.locator(".file-error")).to_contain_text("not accepted")

        # Offline: the file waits, then goes once when the connection is back.
        # (Chromium's offline mode fails new requests; the open websocket may live on.)
        await phone_context.set_offline(True)
        assert not await phone.evaluate("navigator.onLine")
        await phone.get_by_label("Attach a file").set_input_files(later)
        await expect(phone.locator("#timeline li.pending[data-retry]", has_text="offline.png")).to_have_count(1)
        assert await stored_files(db_url, eid, "offline.png") == 0  # it tried, and waits
        await phone_context.set_offline(False)
        await expect(phone.locator("#timeline li.pending")).to_have_count(0, timeout=30_000)
        await expect(coach.locator("#timeline li.exchange", has_text="offline.png")).to_have_count(1, timeout=WAIT)
        await phone.reload()
        await expect(phone.locator("#timeline li.exchange", has_text="offline.png")).to_have_count(1)
        await expect(phone.locator("#timeline li.pending")).to_have_count(0)
        # Closed before the server stops: it would wait for each socket's closing handshake.
        await phone_context.close()
        await coach.context.close()
    assert await stored_files(db_url, eid, "offline.png") == 1
    assert await stored_files(db_url, eid, "holiday.png") == 1
