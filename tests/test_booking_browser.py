"""End to end in Debian's Chromium against the real ``ecoach serve`` with mail going to a
real SMTP relay: a coachee on a phone in New York books from the private link, gets the
invite, moves the session and cancels it from the mailed link; the coach's timeline and
calendar feed follow every step."""

from __future__ import annotations

import asyncio
import re
from email import message_from_bytes
from email.policy import default as default_policy
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from playwright.async_api import Browser, Page, expect

from tests.booking_support import calendar_of
from tests.browser import WAIT, browser  # noqa: F401 - the fixture
from tests.server_process import ServerProcess
from tests.smtp_relay import SmtpRelay, smtp_relay  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser
NYC = ZoneInfo("America/New_York")
COACHEE = "sanne@example.org"
COACH = "marieke@example.org"
PHONE = dict(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2)


@pytest.fixture
def server(tmp_path: Path, smtp_relay: SmtpRelay) -> ServerProcess:  # noqa: F811
    server = ServerProcess(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'ecoach.db'}",
                           ECOACH_MAIL__ENABLED="true", ECOACH_MAIL__SMTP_HOST=smtp_relay.host,
                           ECOACH_MAIL__SMTP_PORT=str(smtp_relay.port), ECOACH_MAIL__DOMAIN="coach.test")
    server.cli("migrate")
    server.cli("coach", "add", "--name", "Marieke Bos", "--email", COACH, "--password", "correct horse battery",
               "--language", "nl", "--time-zone", "Europe/Amsterdam")
    server.cli("engagement", "add", "--coach", COACH, "--name", "Sanne de Vries", "--email", COACHEE,
               "--language", "en")
    server.start()
    yield server
    server.stop()


async def invites(relay: SmtpRelay, count: int) -> list[tuple[str, str, Calendar]]:
    """(recipient, method, calendar) of the first ``count`` invites, waiting for them."""
    for _ in range(200):
        found = [(m.rcpt_tos[0], *calendar_of(m.raw)) for m in relay.messages if b"text/calendar" in m.raw]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {count} invites, got {len(found)}")


def event_of(calendar: Calendar):  # type: ignore[no-untyped-def]
    [event] = calendar.walk("VEVENT")
    return event


async def coach_setup(coach: Page, server: ServerProcess) -> tuple[str, str, str]:
    """Log in, add a session type, make the feed and the booking link: (engagement page,
    booking link, feed URL)."""
    await coach.goto(server.url + "/")
    await coach.fill("input[name=email]", COACH)
    await coach.fill("input[name=password]", "correct horse battery")
    await coach.click("button.primary")
    await coach.goto(server.url + "/sessions")
    form = coach.locator("details.session-type.new form")
    await form.locator("input[name=name]").fill("Coachingsessie")
    await form.locator("button[type=submit]").click()
    await expect(coach.locator("details.session-type:not(.new) summary")).to_contain_text("Coachingsessie")
    await coach.click("#calendar-feed button")
    feed_url = await coach.locator("#feed-link").input_value()
    await coach.click("text=Inbox")
    await coach.click("text=Sanne de Vries")
    engagement_url = coach.url
    await coach.click("#sessions button")
    booking_link = await coach.locator("#booking-link").input_value()
    return engagement_url, booking_link, feed_url


async def feed_events(page: Page, url: str) -> list:  # type: ignore[type-arg]
    response = await page.request.get(url)
    assert response.ok and response.headers["content-type"].startswith("text/calendar")
    return Calendar.from_ical(await response.body()).walk("VEVENT")


async def test_coachee_books_moves_and_cancels_from_the_links(
        browser: Browser, server: ServerProcess, smtp_relay: SmtpRelay) -> None:  # noqa: F811
    coach = await (await browser.new_context()).new_page()
    engagement_url, booking_link, feed_url = await coach_setup(coach, server)
    assert await feed_events(coach, feed_url) == []

    # The coachee, on a phone in New York: the page switches to their zone by itself.
    context = await browser.new_context(timezone_id="America/New_York", locale="en-US", **PHONE)
    phone = await context.new_page()
    await phone.goto(booking_link)
    await expect(phone.locator("#zone-select")).to_have_value("America/New_York", timeout=WAIT)
    await expect(phone.locator(".zone-hint")).to_contain_text("America/New_York")
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    slots = phone.locator("a.slot")
    last = slots.last  # days ahead: well before the change cut-off
    start = datetime.fromisoformat(await last.get_attribute("data-start"))
    assert start.astimezone(NYC).strftime("%H:%M") in await last.inner_text()
    await last.click()  # the summary first; booked on the button
    await phone.get_by_role("button", name="Book this time").click()
    await expect(phone.locator(".confirmation")).to_contain_text("Your session is booked", timeout=WAIT)
    await expect(phone.locator(".session-when")).to_contain_text(start.astimezone(NYC).strftime("%H:%M"))
    await expect(phone.locator(".meeting-link")).to_contain_text("https://meet.jit.si/ecoach")

    # The invite reaches both, in the relay.
    sent = await invites(smtp_relay, 2)
    assert {to for to, _, _ in sent} == {COACHEE, COACH}
    method, calendar = next((m, c) for to, m, c in sent if to == COACHEE)
    event = event_of(calendar)
    assert method == "REQUEST" and event.decoded("DTSTART").astimezone(NYC) == start.astimezone(NYC)
    uid = str(event["UID"])
    raw = next(m for m in smtp_relay.messages if m.rcpt_tos == (COACHEE,)).raw
    text = message_from_bytes(raw, policy=default_policy).get_body(("plain",)).get_content()
    manage_link = re.search(r"(http://127\.0\.0\.1:\d+/booking/[A-Za-z0-9_-]+)", text).group(1)

    timeline = coach.locator("#timeline li.exchange .body")
    await coach.goto(engagement_url)
    await expect(timeline.last).to_contain_text("geboekt voor", timeout=WAIT)  # the coach reads Dutch
    [listed] = await feed_events(coach, feed_url)
    assert str(listed["UID"]) == uid

    # Moved from the mailed link, to another time: on the second day offered, so that it
    # stays outside the change cut-off (the first slot may lie exactly at it, as the
    # minimum notice and the cut-off are both 24 hours) and can be cancelled below.
    await phone.goto(manage_link)
    await phone.get_by_role("link", name="Move to another time").click()
    other = phone.locator(".slot-day").nth(1).locator(f"a.slot:not([data-start='{start.isoformat()}'])").first
    moved_to = datetime.fromisoformat(await other.get_attribute("data-start"))
    await other.click()
    await phone.get_by_role("button", name="Move the session").click()
    await expect(phone.locator(".confirmation")).to_contain_text("moved", timeout=WAIT)
    await expect(phone.locator(".session-when")).to_contain_text(moved_to.astimezone(NYC).strftime("%H:%M"))
    sent = await invites(smtp_relay, 4)
    update = [event_of(c) for to, m, c in sent[2:] if to == COACHEE and m == "REQUEST"][0]
    assert str(update["UID"]) == uid and update.decoded("SEQUENCE") == 1
    assert update.decoded("DTSTART").astimezone(NYC) == moved_to.astimezone(NYC)
    await expect(timeline.last).to_contain_text("verplaatst naar", timeout=WAIT)  # live, over the websocket

    # Cancelled from the same link, after saying yes.
    await phone.get_by_role("button", name="Cancel session").click()
    await phone.get_by_role("dialog").get_by_role("button", name="Cancel session").click()
    await expect(phone.locator(".confirmation")).to_contain_text("cancelled", timeout=WAIT)
    sent = await invites(smtp_relay, 6)
    cancel = [(m, event_of(c)) for to, m, c in sent[4:] if to == COACHEE][0]
    assert cancel[0] == "CANCEL" and str(cancel[1]["UID"]) == uid and cancel[1].decoded("SEQUENCE") == 2
    await expect(timeline.last).to_contain_text("afgezegd", timeout=WAIT)
    await coach.reload()
    texts = await timeline.all_inner_texts()
    steps = [t for t in texts if "Coachingsessie" in t]
    assert ["geboekt voor" in steps[0], "verplaatst naar" in steps[1], "afgezegd" in steps[2]] == [True] * 3
    assert await feed_events(coach, feed_url) == []
