"""Every page, in Dutch and English, on a desktop and a 390×844 phone: axe-core (from npm,
injected into the page) finds nothing critical or serious, and nothing is wider than a
360-pixel screen. One server and one Chromium for the whole module."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from playwright.async_api import Browser

from tests.walkthrough import chromium  # noqa: F401 - the fixture
from tests.walkthrough import LANGS, SIZES, People, Practice, assert_fits, axe, login, new_page, start_practice

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Practice]:
    practice = start_practice(tmp_path_factory.mktemp("pages"))
    yield practice
    practice.server.stop()


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
        # Contract, goals and sponsor; sessions; resources and files; billing; privacy; audit.
        f"/engagements/{e}/contract", f"/engagements/{e}/contract/{p.extra['contract_version']}", "/contract-template",
        f"/engagements/{other}/sessions/{p.extra['booking_id']}", f"/engagements/{e}/supports",
        f"/engagements/{e}/supports/start/mine", "/resources", f"/resources/{p.extra['resource_id']}",
        f"/engagements/{e}/billing",
        "/billing/products", "/billing/practice", "/billing/invoices", f"/engagements/{e}/erase",
        f"/erasures/{p.extra['erasure_id']}", f"/engagements/{e}/supervision", "/audit", "/admin/audit", "/webhooks",
    ]


def coachee_pages(p: People) -> list[str]:
    return [
        f"/c/{p.chat_token}", f"/c/{p.other_chat_token}", f"/book/{p.booking_token}",
        f"/book/{p.public_token}", f"/booking/{p.manage_token}", f"/booking/{p.manage_token}/move",
        f"/booking/{p.manage_token}/cancel", f"/n/{p.pause_token}", "/c/this-is-not-a-valid-chat-link-at-all",
        "/login", "/password/forgot", "/password/reset/not-a-valid-reset-link-at-all",
        "/invite/not-a-valid-invitation-link-at-all", f"/contract/{p.extra['contract_token']}",
        f"/contract/{p.extra['contract_token']}/v/{p.extra['contract_version']}",
        f"/sponsor/{p.extra['sponsor_token']}", f"/f/{p.extra['form_token']}",
        f"/c/{p.chat_token}/shared/{p.extra['shared_exchange']}",
        "/data/not-a-valid-download-link-at-all",
    ]


async def check(page, path: str, url: str) -> list[str]:  # type: ignore[no-untyped-def]
    response = await page.goto(url + path)
    assert response is not None and response.status < 500, f"{path}: {response and response.status}"
    found = [f"{path}: {v['id']} ({v['impact']}) {v['help']}: {v['nodes']}" for v in await axe(page)]
    await assert_fits(page)
    return found


async def sweep(page, paths: list[str], url: str) -> list[str]:  # type: ignore[no-untyped-def]
    found = []
    for path in paths:
        found += await check(page, path, url)
    await page.context.close()
    return found


async def coachee_sweep(chromium: Browser, practice: Practice, lang: str, size: str) -> list[str]:
    people = practice.people[lang]
    coachee = await new_page(chromium, size, locale="nl-NL" if lang == "nl" else "en-GB")
    # A booking page with a time picked: the summary to confirm.
    await coachee.goto(f"{practice.url}/book/{people.booking_token}?zone=Europe/Amsterdam")
    await coachee.get_by_role("region").nth(2).get_by_role("link").first.click()
    picked = coachee.url.removeprefix(practice.url).split("#")[0]
    return await sweep(coachee, [*coachee_pages(people), picked], practice.url)


async def coach_sweep(chromium: Browser, practice: Practice, lang: str, size: str, part: int) -> list[str]:
    coach = await new_page(chromium, size)
    await login(coach, practice, lang)
    return await sweep(coach, coach_pages(practice.people[lang])[part::2], practice.url)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", LANGS)
async def test_every_page_passes_axe_and_fits_a_phone(chromium: Browser, practice: Practice, lang: str,
                                                      size: str) -> None:
    # Three tabs at once (the coachee's pages, the coach's in two halves): axe is most of the time.
    found = await asyncio.gather(coachee_sweep(chromium, practice, lang, size),
                                 coach_sweep(chromium, practice, lang, size, 0),
                                 coach_sweep(chromium, practice, lang, size, 1))
    problems = [problem for part in found for problem in part]
    assert not problems, "\n".join(problems)
