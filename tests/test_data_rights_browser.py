"""In Debian's Chromium at 360 px: the coachee asks for their data, the coach approves,
the coachee downloads the ZIP and its timeline.html opens from disk showing the whole
logbook (loading nothing from anywhere); the anonymised export: choose, preview, select
text and mark it, keep a false alarm, download. Every page passes axe-core."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser import WAIT, browser  # noqa: F401 - the fixture
from tests.data_rights_support import NOTE, rich_engagement
from tests.live_server import live_server
from tests.support import PASSWORD, settings_for
from tests.test_accounts_browser import PHONE, accessible
from tests.test_supervision import world

pytestmark = pytest.mark.browser


async def log_in(page: Page, base: str, email: str) -> None:
    await page.goto(base + "/login")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button.primary")
    await expect(page.locator("h1")).to_have_text("Inbox")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_ask_approve_download_and_read_the_timeline(  # type: ignore[no-untyped-def]
        browser: Browser, sessions, make_coach, make_engagement, record_exchange, clock, db_url,
        tmp_path: Path) -> None:
    rich = await rich_engagement(sessions, make_coach, make_engagement, record_exchange, clock)
    async with sessions() as session:  # the coach reads English; the coachee's pages are Dutch
        from ecoach.logbook.models import Coach

        (await session.get(Coach, rich.coach.id)).language = "en"
        await session.commit()
    with live_server(settings_for(db_url), clock) as base:
        coachee = await (await browser.new_context(viewport=PHONE)).new_page()
        coachee.set_default_timeout(WAIT)
        await coachee.goto(f"{base}/c/{rich.chat_token}")
        await accessible(coachee)
        await coachee.get_by_text("Met jou gedeeld, je voortgang en jouw gegevens").click()  # folded above the chat
        await coachee.locator("#your-data button").click()
        await expect(coachee.locator("#your-data .notice")).to_contain_text("naar je coach gestuurd")
        await accessible(coachee)

        coach = await (await browser.new_context(viewport=PHONE)).new_page()
        coach.set_default_timeout(WAIT)
        await log_in(coach, base, rich.coach.email)
        await expect(coach.locator(".data-request-notice")).to_contain_text("asked for a copy of their data")
        await accessible(coach)
        await coach.locator(".data-request-notice a").click()
        await coach.locator("#your-data details.confirm summary").click()  # declining asks first
        await accessible(coach)
        await coach.get_by_role("button", name="Approve and send the link").click()
        await expect(coach.locator("#your-data .notice")).to_contain_text("approved")
        await accessible(coach)

        await coachee.reload()
        async with coachee.expect_download() as info:
            await coachee.locator("#data-download").click()
        package = tmp_path / "package.zip"
        await (await info.value).save_as(package)
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(unpacked)
    # The readable copy, opened from disk as the coachee would: the whole timeline, nothing fetched.
    reader = await (await browser.new_context(viewport=PHONE)).new_page()
    requested: list[str] = []
    reader.on("request", lambda request: requested.append(request.url))
    await reader.goto((unpacked / "timeline.html").as_uri())
    await expect(reader.locator("li.exchange")).to_have_count(len(rich.shared) + 2)  # + asked, + ready
    await expect(reader.locator("h1")).to_contain_text("Jouw coaching met")
    assert NOTE not in await reader.content()
    assert all(url.startswith("file://") for url in requested), requested
    await accessible(reader)
    attachment = reader.locator(".attachments a", has_text="weekplanning.pdf")
    assert (unpacked / await attachment.get_attribute("href")).is_file()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_select_preview_mark_and_download(  # type: ignore[no-untyped-def]
        browser: Browser, make_coach, make_engagement, record_exchange, clock, db_url) -> None:
    coach, engagement_id, ids, _note = await world(make_coach, make_engagement, record_exchange)
    with live_server(settings_for(db_url), clock) as base:
        page = await (await browser.new_context(viewport=PHONE)).new_page()
        page.set_default_timeout(WAIT)
        await page.goto(base + "/login")
        await page.fill("input[name=email]", coach.email)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button.primary")
        await page.goto(f"{base}/engagements/{engagement_id}")
        await page.locator("#supervision-link").click()
        await accessible(page)
        for exchange_id in ids:
            await page.locator(f'input[name=x][value="{exchange_id}"]').check()
        await page.locator(".supervision-choose button[type=submit]").click()
        await expect(page.locator(".preview-text")).to_have_count(3)
        await expect(page.locator(".preview-text").first).to_contain_text("Persoon A")
        await accessible(page)
        # Select a word in the preview with the mouse's API: it lands in "Text to hide".
        await page.evaluate("""() => {
            const node = [...document.querySelectorAll('.preview-text')].map(p => [...p.childNodes])
                .flat().find(n => n.nodeType === 3 && n.textContent.includes('reorganisatie'));
            const start = node.textContent.indexOf('reorganisatie');
            const range = document.createRange();
            range.setStart(node, start); range.setEnd(node, start + 'reorganisatie'.length);
            const selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
        }""")
        await expect(page.locator("#new-mark")).to_have_value("reorganisatie")
        await page.locator("#mark-button").click()
        await expect(page.locator("mark.by-coach")).to_have_count(1)
        assert "reorganisatie" not in await page.locator(".preview-list").inner_text()
        keep = page.locator(".review-list li", has_text="Jorien").get_by_role("button")
        await keep.click()
        await expect(page.locator(".preview-list")).to_contain_text("Jorien")
        await accessible(page)
        async with page.expect_download() as info:
            await page.locator("#download-button").click()
        text = Path(await (await info.value).path()).read_text()
    assert "Jorien" in text and "reorganisatie" not in text and "Sanne" not in text
