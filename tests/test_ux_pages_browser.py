"""Every page, in Dutch and English, on a desktop and a 390×844 phone: axe-core (from npm,
injected into the page) finds nothing critical or serious, and nothing is wider than a
360-pixel screen. One server and one Chromium for the whole module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from tests.walkthrough import LANGS, SIZES, People, Practice, assert_fits, axe, launch, login, new_page, start_practice

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Practice]:
    practice = start_practice(tmp_path_factory.mktemp("pages"))
    yield practice
    practice.server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        yield browser
        await browser.close()


def coach_pages(p: People) -> list[str]:
    e, other = p.engagement, p.other_engagement
    return [
        "/", "/?tab=closed", "/engagements/new", f"/engagements/{e}", f"/engagements/{e}?mode=note",
        f"/engagements/{other}", f"/engagements/{e}/edit", f"/engagements/{e}/agreement",
        f"/engagements/{e}/preview", f"/engagements/{other}/preview", f"/engagements/{e}/nudges/plan",
        f"/engagements/{e}/status?action=close", f"/engagements/{e}/chat-link", f"/engagements/{e}/chat-link/revoke",
        f"/engagements/{e}/booking-link", "/availability", "/sessions", "/sessions/public-link", "/report",
        "/quarantine", "/quarantine?status=discarded", "/search?q=werkdruk", "/search?q=nothing-like-this",
        "/account", "/account/2fa", "/admin/coaches", "/engagements/999999",
        f"/sessions/bookings/{p.extra['booking_id']}/reschedule", f"/sessions/bookings/{p.extra['booking_id']}/cancel",
        f"/sessions/requests/{p.extra['request_id']}/decline", "/sessions/feed",
    ]


def coachee_pages(p: People) -> list[str]:
    return [
        f"/c/{p.chat_token}", f"/c/{p.other_chat_token}", f"/book/{p.booking_token}",
        f"/book/{p.public_token}", f"/booking/{p.manage_token}", f"/booking/{p.manage_token}/move",
        f"/booking/{p.manage_token}/cancel", f"/n/{p.pause_token}", "/c/this-is-not-a-valid-chat-link-at-all",
        "/login", "/password/forgot", "/password/reset/not-a-valid-reset-link-at-all",
    ]


async def check(page, path: str, url: str) -> list[str]:  # type: ignore[no-untyped-def]
    response = await page.goto(url + path)
    assert response is not None and response.status < 500, f"{path}: {response and response.status}"
    found = [f"{path}: {v['id']} ({v['impact']}) {v['help']}: {v['nodes']}" for v in await axe(page)]
    await assert_fits(page)
    return found


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", LANGS)
async def test_every_page_passes_axe_and_fits_a_phone(chromium: Browser, practice: Practice, lang: str,
                                                      size: str) -> None:
    people = practice.people[lang]
    coachee = await new_page(chromium, size, locale="nl-NL" if lang == "nl" else "en-GB")
    problems = []
    for path in coachee_pages(people):
        problems += await check(coachee, path, practice.url)
    # A booking page with a time picked: the summary to confirm.
    await coachee.goto(f"{practice.url}/book/{people.booking_token}?zone=Europe/Amsterdam")
    await coachee.locator("a.slot").first.click()
    problems += await check(coachee, coachee.url.removeprefix(practice.url).split("#")[0], practice.url)
    await coachee.context.close()

    coach = await new_page(chromium, size)
    await login(coach, practice, lang)
    for path in coach_pages(people):
        problems += await check(coach, path, practice.url)
    await coach.context.close()
    assert not problems, "\n".join(problems)
