"""End to end in Debian's Chromium: a coach and a coachee chat live; the server is killed
and restarted; a message typed while it was down arrives exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser import WAIT, browser  # noqa: F401 - the fixture
from tests.sealed_support import opened
from tests.server_process import ServerProcess

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Path) -> ServerProcess:
    server = ServerProcess(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'ecoach.db'}")
    server.cli("migrate")
    server.cli("coach", "add", "--name", "Marieke Bos", "--email", "marieke@example.org",
               "--password", "correct horse battery", "--language", "nl")
    server.start()
    yield server
    server.stop()


def texts(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#timeline li.exchange .body")


def stored(db: Path, text: str) -> int:
    return sum(1 for (body,) in opened(db, "exchange", "body_text") if body == text)


async def test_coach_and_coachee_chat_through_a_crash(browser: Browser, server: ServerProcess, tmp_path: Path) -> None:
    coach = await (await browser.new_context()).new_page()
    await coach.goto(server.url + "/")
    await coach.fill("input[name=email]", "marieke@example.org")
    await coach.fill("input[name=password]", "correct horse battery")
    await coach.click("button.primary")
    await expect(coach.locator("h1")).to_have_text("Inbox")

    await coach.click("text=Nieuw traject")
    await coach.fill("input[name=coachee_name]", "Sanne de Vries")
    await coach.fill("input[name=coachee_email]", "sanne@example.org")
    await coach.click("button.primary")
    link = await coach.locator("#chat-link").input_value()
    engagement_url = coach.url

    coachee = await (await browser.new_context()).new_page()
    await coachee.goto(link)
    await expect(coachee.locator(".connection.online")).to_be_visible(timeout=WAIT)
    await expect(coach.locator("#timeline")).to_be_attached()

    # Coachee -> coach, live.
    await coachee.fill("#chat-text", "Hoi! Ik heb geoefend met nee zeggen.")
    await coachee.click("#chat-form button")
    await expect(texts(coach)).to_have_text(["Hoi! Ik heb geoefend met nee zeggen."], timeout=WAIT)
    # Coach -> coachee, live.
    await coach.fill("#reply-text", "Wat mooi. Wat merkte je bij jezelf?")
    await coach.click("#reply button.primary")
    await expect(texts(coachee)).to_have_text(
        ["Hoi! Ik heb geoefend met nee zeggen.", "Wat mooi. Wat merkte je bij jezelf?"], timeout=WAIT)
    # The inbox updates live too.
    inbox = await coach.context.new_page()
    await inbox.goto(server.url + "/")
    await coachee.fill("#chat-text", "Vooral opluchting.")
    await coachee.click("#chat-form button")
    await expect(inbox.locator(".inbox-row .snippet")).to_have_text("Vooral opluchting.", timeout=WAIT)
    expected = ["Hoi! Ik heb geoefend met nee zeggen.", "Wat mooi. Wat merkte je bij jezelf?", "Vooral opluchting."]
    await expect(texts(coach)).to_have_text(expected, timeout=WAIT)

    # Both reload: the same history.
    await coach.reload()
    await coachee.reload()
    await expect(texts(coach)).to_have_text(expected)
    await expect(texts(coachee)).to_have_text(expected)

    # The server is killed: the coachee sees it, and writes anyway.
    server.kill()
    await expect(coachee.locator(".connection.offline")).to_be_visible(timeout=WAIT)
    await coachee.fill("#chat-text", "Geschreven toen de server weg was.")
    await coachee.click("#chat-form button")
    await expect(coachee.locator("#timeline li.pending")).to_have_count(1)

    # Back up: the queued message arrives once, on both sides and in the database.
    server.start()
    expected.append("Geschreven toen de server weg was.")
    await expect(coachee.locator(".connection.online")).to_be_visible(timeout=20_000)
    await expect(coachee.locator("#timeline li.pending")).to_have_count(0, timeout=WAIT)
    await expect(texts(coachee)).to_have_text(expected, timeout=WAIT)
    await coach.goto(engagement_url)
    await expect(texts(coach)).to_have_text(expected, timeout=WAIT)
    await coachee.reload()
    await expect(texts(coachee)).to_have_text(expected)
    assert stored(tmp_path / "ecoach.db", "Geschreven toen de server weg was.") == 1

    # Pausing shows the coachee a notice at once; withdrawing the link ends the chat page.
    await coach.click("button[value=pause]")
    await expect(coachee.locator("#status-notice")).to_be_visible(timeout=WAIT)
    await expect(coachee.locator("#chat-form")).to_be_hidden()
    await coach.click("text=Hervatten")
    await coach.click("text=Link intrekken")
    await expect(coachee.locator("#fatal")).to_be_visible(timeout=WAIT)
    await coachee.reload()
    await expect(coachee.locator(".error-message")).to_contain_text("ingetrokken")
