"""A coach's first day and a coachee's first week (issue 12), in Chromium, in Dutch and
English, on a desktop and a 390×844 phone, driven only by roles and labels. Each item of
the issue is exercised:
 1 destructive actions ask first, naming the consequence; a closed engagement reopens;
   a deleted window can be undone; "Cancel session" (test_a_coach_replies_..., availability);
 2 booking is pick → summary → confirm; moving and cancelling ask (test_booking_...);
 3 the weekly grid of hours per channel, the coachees' preview, the warning (availability);
 4 nothing wider than 360 px (assert_fits; every page in tests/test_ux_pages_browser.py);
 5 the phone chat: newest message, fixed composer, folded hours, bubbles, offline (chat);
 6 live regions (log, the inbox's status), skip link, keyboard, Enter/Ctrl+Enter (chat, keyboard);
 7 reply and note tabs, the note style, back to reply, the note badge in search (coach);
 8 intake without mail, no phone type without a number, .ics, contact, badge, accept (intake);
 9 notices in the reader's language, 24-hour times, language names, zone by city (details);
10 copy buttons and a read-only preview (coach);
11 compressed pages (booking); 12 the calendar file as Thunderbird's ical.js reads it (booking);
13 the first time a reschedule page offers is taken (the coach's account and reschedule);
14 ``ecoach serve --host --port`` (the practice), a coach's own name, language and zone.
One server (started with --host/--port) and one Chromium for the module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import pytest
from icalendar import Calendar
from playwright.async_api import Browser, Page, expect

from ecoach.core import formats
from tests.browser import WAIT
from tests.calendar_clients import read_with_icaljs
from tests.server_process import free_port
from tests.walkthrough import chromium  # noqa: F401 - the fixture
from tests.walkthrough import (
    LANGS, SIZES, WORDS, ZONES, Practice, assert_fits, axe, login, new_page, start_practice,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
MATRIX = [(lang, size) for lang in LANGS for size in SIZES]


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Practice]:
    # As the README says: extra arguments go to ``ecoach serve`` (issue 12, item 14).
    practice = start_practice(tmp_path_factory.mktemp("first-day"),
                              serve_args=("--host", "127.0.0.1", "--port", str(free_port())))
    yield practice
    practice.server.stop()


async def coach_page(chromium: Browser, practice: Practice, lang: str, size: str, **extra) -> Page:  # type: ignore[no-untyped-def]
    page = await new_page(chromium, size, **extra)
    await login(page, practice, lang)
    return page


def dialog(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("dialog")


@pytest.mark.parametrize(("lang", "size"), MATRIX)
async def test_a_coach_replies_notes_copies_previews_and_asks_before_destroying(
        chromium: Browser, practice: Practice, lang: str, size: str) -> None:
    w, people = WORDS[lang], practice.people[lang]
    page = await coach_page(chromium, practice, lang, size, permissions=["clipboard-read", "clipboard-write"])
    await page.goto(f"{practice.url}/engagements/{people.engagement}")
    log = page.get_by_role("log")
    await expect(log).to_be_visible()

    # Reply, then a private note on its own tab; after the note the Reply tab is back.
    reply_tab, note_tab = page.get_by_role("tab", name=w["reply"]), page.get_by_role("tab", name=w["note"])
    await expect(reply_tab).to_have_attribute("aria-selected", "true")
    await expect(page.get_by_text(w["keys"])).to_be_visible()
    await expect(page.get_by_label(re.compile("Deel deze notitie|Share this note"))).to_be_hidden()  # a note's
    await page.get_by_role("textbox", name=w["your_reply"]).fill(f"Antwoord {size}")
    await page.get_by_role("button", name=w["send"], exact=True).click()
    await expect(log.get_by_text(f"Antwoord {size}")).to_be_visible(timeout=WAIT)
    await note_tab.click()
    await expect(note_tab).to_have_attribute("aria-selected", "true")
    await page.get_by_role("textbox", name=w["your_note"]).fill(f"Notitie {size}")
    await page.get_by_role("button", name=w["save_note"]).click()
    note = log.get_by_role("listitem").filter(has_text=f"Notitie {size}")
    await expect(note).to_be_visible(timeout=WAIT)
    await expect(note.get_by_text(w["private"], exact=True)).to_be_visible()
    await expect(reply_tab).to_have_attribute("aria-selected", "true")
    assert await note.evaluate("el => getComputedStyle(el).borderTopStyle") == "dashed"  # not a chat bubble

    # Search marks notes.
    await page.goto(f"{practice.url}/search?q=Notitie")
    await expect(page.get_by_role("link").filter(has_text=f"Notitie {size}").get_by_text(w["private"])).to_be_visible()

    # Copy the chat link; preview the coachee's page, read-only.
    await page.goto(f"{practice.url}/engagements/{people.engagement}")
    link = await page.get_by_role("textbox", name="Chatlink" if lang == "nl" else "Chat link").input_value()
    await page.get_by_role("button", name=w["copy"]).first.click()
    await expect(page.get_by_role("status").filter(has_text=w["copied"]).first).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == link
    await page.get_by_role("link", name=re.compile(w["preview"])).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(people.coach_name)
    await expect(page.get_by_role("textbox", name=w["your_message"])).to_have_count(0)
    await page.go_back()

    # A new chat link asks first; Escape keeps the old one.
    await page.get_by_role("button", name=w["new_link"]).click()
    await expect(dialog(page)).to_be_visible()
    assert await axe(page) == []  # the open dialog too
    await page.keyboard.press("Escape")
    await expect(dialog(page)).to_be_hidden()
    assert await page.get_by_role("textbox", name="Chatlink" if lang == "nl" else "Chat link").input_value() == link
    await page.get_by_role("button", name=w["new_link"]).click()
    await dialog(page).get_by_role("button", name=w["new_link"]).click()
    field = page.get_by_role("textbox", name="Chatlink" if lang == "nl" else "Chat link")
    await expect(field).not_to_have_value(link)
    people.chat_token = (await field.input_value()).rsplit("/", 1)[1]  # the other tests use the new link

    # Closing asks, naming the consequence; a closed engagement can be reopened.
    await page.get_by_role("button", name=w["close"]).click()
    await expect(dialog(page)).to_contain_text(people.coachee)
    await dialog(page).get_by_role("button", name=w["close"]).click()
    await page.get_by_role("button", name=w["reopen"]).click()
    await expect(page.get_by_role("tab", name=w["reply"])).to_be_visible()
    await page.context.close()


@pytest.mark.parametrize(("lang", "size"), MATRIX)
async def test_details_language_zone_and_notices_in_the_readers_language(
        chromium: Browser, practice: Practice, lang: str, size: str) -> None:
    w, people = WORDS[lang], practice.people[lang]
    page = await coach_page(chromium, practice, lang, size)
    await page.goto(f"{practice.url}/engagements/{people.other_engagement}")
    await expect(page.get_by_text(w["language_fact"])).to_be_visible()  # "Taal: Engels", not "Taal: en"
    # The coachee booked in their language; the coach reads the notice in the coach's.
    booked = page.get_by_role("log").get_by_role("listitem").first
    await expect(booked).to_contain_text("geboekt voor" if lang == "nl" else "booked for")
    await expect(booked).not_to_contain_text("booked for" if lang == "nl" else "geboekt voor")
    await expect(booked).to_contain_text(re.compile(r"\b\d\d:\d\d–\d\d:\d\d"))  # 24-hour, one format
    await expect(booked).not_to_contain_text(re.compile(r"\b(AM|PM)\b"))
    # Details can change after creation; the zone is typed as a city.
    await page.get_by_role("link", name=w["edit"]).click()
    await page.get_by_label(w["zone"]).fill("Amsterdam" if size == "desktop" else "Tokyo")
    await page.get_by_role("button", name=w["save"]).click()
    city = {("nl", "desktop"): "Amsterdam (Nederland)", ("en", "desktop"): "Amsterdam (Netherlands)",
            ("nl", "phone"): "Tokio (Japan)", ("en", "phone"): "Tokyo (Japan)"}[(lang, size)]
    await expect(page.get_by_text(city)).to_be_visible()
    # The coachee's own page speaks the coachee's language.
    coachee = await new_page(chromium, size)
    await coachee.goto(f"{practice.url}/c/{people.other_chat_token}")
    other = "en" if lang == "nl" else "nl"
    await expect(coachee.get_by_role("log")).to_contain_text("booked for" if other == "en" else "geboekt voor")
    await coachee.context.close()
    await page.context.close()


@pytest.mark.parametrize(("lang", "size"), MATRIX)
async def test_the_coachee_chat_is_a_phone_chat_that_knows_when_it_is_offline(
        chromium: Browser, practice: Practice, lang: str, size: str) -> None:
    w, people = WORDS[lang], practice.people[lang]
    page = await new_page(chromium, size)
    await page.goto(f"{practice.url}/c/{people.chat_token}")
    status = page.get_by_role("status").filter(has_text=re.compile(f"{w['connected']}|{w['offline']}"))
    await expect(status).to_have_text(w["connected"], timeout=WAIT)
    log = page.get_by_role("log", name=w["messages"])
    messages = log.get_by_role("listitem")
    # Opens at the newest message, the composer in view, the hours folded away.
    await expect(messages.last).to_be_in_viewport()
    box = page.get_by_role("textbox", name=w["your_message"])
    await expect(box).to_be_in_viewport()
    await expect(page.get_by_text(w["keys"])).to_be_visible()
    hours = page.get_by_text(w["hours"])
    assert await page.locator("details#chat-info").get_attribute("open") is None
    await hours.click()
    assert await page.locator("details#chat-info").get_attribute("open") is not None
    # Bubbles: the coachee's own on the right, the coach's on the left.
    mine = await messages.filter(has_text="Tot de volgende sessie").bounding_box()
    theirs = await messages.filter(has_text="Dank je, ik lees het").bounding_box()
    assert mine and theirs and mine["x"] > theirs["x"] and mine["x"] + mine["width"] > theirs["x"] + theirs["width"]
    await assert_fits(page)  # a message with a very long link wraps

    # Offline for real: the browser says so; a message waits and goes once when back.
    await page.context.set_offline(True)
    await expect(status).to_contain_text(w["offline"], timeout=WAIT)
    text = f"Offline geschreven {lang} {size}"
    await box.fill(text)
    await box.press("Control+Enter")
    await expect(messages.filter(has_text=text)).to_have_count(1)
    # The coach's inbox, open meanwhile, says who wrote (a live region).
    inbox = await coach_page(chromium, practice, lang, size)
    await page.context.set_offline(False)
    await expect(status).to_have_text(w["connected"], timeout=20_000)
    await expect(inbox.get_by_role("status").filter(has_text=people.coachee)).to_be_attached(timeout=WAIT)
    await inbox.context.close()
    await page.reload()
    await expect(page.get_by_role("log").get_by_role("listitem").filter(has_text=text)).to_have_count(1, timeout=WAIT)
    await page.context.close()


async def book_a_slot(page: Page, w: dict[str, str], nth_day: int = 1) -> datetime:
    slot = page.get_by_role("region").nth(nth_day).get_by_role("link").first
    start = datetime.fromisoformat(await slot.get_attribute("data-start") or "")
    await slot.click()
    await expect(page.get_by_role("heading", level=2).first).to_be_visible()
    return start


@pytest.mark.parametrize(("lang", "size"), MATRIX)
async def test_booking_is_pick_summary_confirm_and_moving_and_cancelling_ask(
        chromium: Browser, practice: Practice, lang: str, size: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w, people = WORDS[lang], practice.people[lang]
    page = await new_page(chromium, size, timezone_id="Europe/Amsterdam")
    response = await page.goto(f"{practice.url}/book/{people.booking_token}")
    assert response is not None and (await response.header_value("content-encoding")) in ("gzip", "br", "deflate")
    await expect(page.get_by_role("link", name=re.compile(r"\d\d:\d\d")).first).to_be_visible()
    assert "Telefoongesprek" not in await page.content() and "Phone call" not in await page.content()
    # Region 0 is the page's own; then one per day. Not the first day: within the change cut-off.
    start = await book_a_slot(page, w, nth_day=2 if size == "desktop" else 3)
    # The summary first: nothing is booked until the button.
    await expect(page.locator(".summary-box")).to_contain_text(formats.clock(start, "Europe/Amsterdam", lang))
    await page.get_by_role("button", name=w["book"]).click()
    await expect(page.get_by_role("status")).to_contain_text(w["booked"])
    # The calendar file, the coach's contact details.
    href = await page.get_by_role("link", name=w["add_calendar"]).get_attribute("href")
    response = await page.request.get(practice.url + (href or ""))
    [event] = Calendar.from_ical(await response.body()).walk("VEVENT")
    assert event.decoded("DTSTART") == start
    ics = tmp_path / "session.ics"
    ics.write_bytes(await response.body())
    [read] = read_with_icaljs([ics])[ics].events  # as Thunderbird reads it
    assert read.start == start and read.start_zone != "floating"
    await expect(page.get_by_role("link", name=people.coach_email)).to_be_visible()
    # Moving is behind its own button: pick, summary, confirm.
    await page.get_by_role("link", name=w["move"]).click()
    moved = await book_a_slot(page, w, nth_day=3 if size == "desktop" else 4)
    await page.get_by_role("button", name=w["move_confirm"]).click()
    await expect(page.get_by_role("status")).to_contain_text(w["moved"])
    await expect(page.locator(".session-when")).to_contain_text(formats.clock(moved, "Europe/Amsterdam", lang))
    # Cancelling asks first ("Sessie afzeggen"), and can be kept.
    await page.get_by_role("button", name=w["cancel_session"]).click()
    await dialog(page).get_by_role("button", name=w["keep_session"]).click()
    await expect(dialog(page)).to_be_hidden()
    await page.get_by_role("button", name=w["cancel_session"]).click()
    await dialog(page).get_by_role("button", name=w["cancel_session"]).click()
    await expect(page.get_by_role("status")).to_contain_text(w["cancelled"])
    await page.context.close()


@pytest.mark.parametrize("lang", LANGS)
async def test_an_intake_request_without_mail_badge_and_accept_feedback(
        chromium: Browser, practice: Practice, lang: str) -> None:
    w, people = WORDS[lang], practice.people[lang]
    page = await new_page(chromium, "phone", timezone_id="Europe/Amsterdam", locale="nl-NL" if lang == "nl" else "en-GB")
    await page.goto(f"{practice.url}/book/{people.public_token}")
    await book_a_slot(page, w, nth_day=3)
    assert "mail" not in (await page.locator(".intake-form .hint").inner_text()).replace("e-mail", "")
    await page.get_by_label(w["your_name"]).fill(f"Intake {lang}")
    await page.get_by_label(w["your_email"]).fill(f"intake-{lang}@example.org")
    await page.get_by_role("button", name=w["ask"]).click()
    await expect(page.get_by_role("status")).to_contain_text(f"intake-{lang}@example.org")  # no promised mail
    coach = await coach_page(chromium, practice, lang, "desktop")
    sessions = coach.get_by_role("navigation").get_by_role("link", name=re.compile(w["sessions"]))
    await expect(sessions).to_contain_text("2")  # the seeded request and this one
    await sessions.click()
    row = coach.get_by_role("listitem").filter(has_text=f"Intake {lang}")
    await row.get_by_role("button", name=w["accept"]).click()
    await expect(coach.get_by_role("status").filter(has_text=f"Intake {lang}")).to_be_visible()
    await expect(coach.get_by_role("heading", level=1)).to_have_text(f"Intake {lang}")
    await page.context.close()
    await coach.context.close()


@pytest.mark.parametrize(("lang", "size"), MATRIX)
async def test_availability_shows_the_hours_that_apply_and_asks_before_a_channel_loses_hours(
        chromium: Browser, practice: Practice, lang: str, size: str) -> None:
    w = WORDS[lang]
    channel = "Chat" if size == "desktop" else "Mail"
    page = await coach_page(chromium, practice, lang, size)
    await page.goto(f"{practice.url}/availability")
    form = page.locator("#add-window")
    await form.get_by_label(w["channel"]).select_option(label=channel)
    await form.get_by_label(w["friday"]).check()
    await form.get_by_label(w["from"]).fill("18:00")
    await form.get_by_label(w["until"]).fill("20:00")
    await form.get_by_role("button", name=w["add"]).click()
    warning = page.get_by_role("alert")
    await expect(warning).to_contain_text("40")  # hours a week now
    await warning.get_by_role("button", name=w["add_general"]).click()
    grid = page.get_by_role("table")
    friday = grid.get_by_role("row").filter(has_text=w["friday"])
    await expect(friday).to_contain_text("18:00–20:00")
    await expect(friday).to_contain_text("09:00–17:00")  # kept the general hours
    if channel == "Chat":
        await expect(page.locator("#coachees-see")).to_contain_text("18:00–20:00")
    # Deleting a window can be undone.
    group = page.locator(f".window-group[data-channel={channel.lower()}]")
    count = await group.get_by_role("listitem").count()
    await group.get_by_role("button", name=re.compile(w["delete"])).last.click()
    await expect(group.get_by_role("listitem")).to_have_count(count - 1)
    await page.get_by_role("button", name=w["undo"]).click()
    await expect(group.get_by_role("listitem")).to_have_count(count)
    await page.context.close()


async def tab_to(page: Page, target, limit: int = 60) -> None:  # type: ignore[no-untyped-def]
    """Press Tab until ``target`` has the focus, as a keyboard user would."""
    for _ in range(limit):
        if await target.evaluate("el => el === document.activeElement"):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")


@pytest.mark.parametrize("lang", LANGS)
async def test_keyboard_only_through_chat_booking_and_reply(chromium: Browser, practice: Practice, lang: str) -> None:
    w, people = WORDS[lang], practice.people[lang]
    page = await new_page(chromium, "desktop", timezone_id="Europe/Amsterdam")
    # The skip link comes first.
    await page.goto(f"{practice.url}/book/{people.booking_token}")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name=w["skip"])).to_be_focused()
    # Booking: Tab to a time, Enter; Tab to the button, Enter.
    slot = page.get_by_role("region").nth(2).get_by_role("link").first
    await tab_to(page, slot)
    await page.keyboard.press("Enter")
    button = page.get_by_role("button", name=w["book"])
    await tab_to(page, button)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_contain_text(w["booked"])
    # Chat: Tab to the message box, write, Ctrl+Enter.
    await page.goto(f"{practice.url}/c/{people.chat_token}")
    box = page.get_by_role("textbox", name=w["your_message"])
    await tab_to(page, box)
    await page.keyboard.type(f"Met het toetsenbord {lang}")
    await page.keyboard.press("Control+Enter")
    await expect(page.get_by_role("log").get_by_text(f"Met het toetsenbord {lang}")).to_be_visible(timeout=WAIT)
    # Reply: Tab to the tabs, arrow to the note, Tab into it, Ctrl+Enter; back on Reply.
    coach = await coach_page(chromium, practice, lang, "desktop")
    await coach.goto(f"{practice.url}/engagements/{people.engagement}")
    reply_tab = coach.get_by_role("tab", name=w["reply"])
    await tab_to(coach, reply_tab)
    await coach.keyboard.press("ArrowRight")
    await expect(coach.get_by_role("tab", name=w["note"])).to_be_focused()
    await expect(coach.get_by_role("tab", name=w["note"])).to_have_attribute("aria-selected", "true")
    await tab_to(coach, coach.get_by_role("textbox", name=w["your_note"]))
    await coach.keyboard.type(f"Toetsenbordnotitie {lang}")
    await coach.keyboard.press("Control+Enter")
    await expect(coach.get_by_role("log").get_by_text(f"Toetsenbordnotitie {lang}")).to_be_visible(timeout=WAIT)
    await expect(reply_tab).to_have_attribute("aria-selected", "true")
    await page.context.close()
    await coach.context.close()


PROFILE = {"nl": ("Naam, taal en tijdzone", "Taal van je pagina's en mails", "Je tijdzone", "Opslaan"),
           "en": ("Name, language and time zone", "Language of your pages and mails", "Your time zone", "Save")}


async def save_profile(page: Page, lang: str, language: str, zone: str) -> None:
    region, language_label, zone_label, save = PROFILE[lang]
    form = page.get_by_role("region", name=region)
    await form.get_by_label(language_label).select_option(language)
    await form.get_by_label(zone_label).fill(zone)
    await form.get_by_role("button", name=save).click()
    await expect(page.get_by_role("region", name=PROFILE[language][0])).to_be_visible()


@pytest.mark.parametrize(("lang", "size"), MATRIX)
async def test_a_coach_changes_their_language_and_zone_and_moves_a_session_to_the_first_time_offered(
        chromium: Browser, practice: Practice, lang: str, size: str) -> None:
    w, people, other = WORDS[lang], practice.people[lang], "en" if lang == "nl" else "nl"
    page = await coach_page(chromium, practice, lang, size)
    # Their own language and zone, after the account was made (item 14); the zone by city.
    await page.goto(f"{practice.url}/account")
    await save_profile(page, lang, other, "Tokyo")
    await expect(page.get_by_label(PROFILE[other][2])).to_have_value("Asia/Tokyo")
    await save_profile(page, other, lang, "Amsterdam" if lang == "nl" else "London")
    # The first time the reschedule page offers is one the server takes (item 13).
    await page.goto(f"{practice.url}/sessions/bookings/{people.extra['booking_id']}/reschedule")
    first = page.get_by_role("region").get_by_role("link", name=re.compile(r"\d\d:\d\d")).first
    start = datetime.fromisoformat(await first.get_attribute("data-start") or "")
    await first.click()
    await page.get_by_role("button", name=w["move_confirm"]).click()
    await expect(page.get_by_role("alert")).to_have_count(0)
    assert "/reschedule" not in page.url
    await page.goto(f"{practice.url}/sessions")
    await expect(page.get_by_role("main")).to_contain_text(formats.clock(start, ZONES[lang], lang))
    await page.context.close()


@pytest.mark.parametrize("lang", LANGS)
async def test_the_language_select_waits_for_its_button_and_live_times_are_24_hour(
        chromium: Browser, practice: Practice, lang: str) -> None:
    w = WORDS[lang]
    page = await coach_page(chromium, practice, lang, "desktop")
    select = page.get_by_role("combobox", name=w["language"])
    await select.focus()
    await page.keyboard.press("ArrowDown")  # WCAG 3.2.2: choosing is not submitting
    await page.keyboard.press("ArrowUp")
    await page.keyboard.press("ArrowDown")
    assert await page.evaluate("document.documentElement.lang") == lang
    # The browser formats a live message's time as the server does, 24-hour, in both languages.
    at = datetime.fromisoformat("2027-03-03T13:05:00+00:00")
    for language in LANGS:
        shown = await page.evaluate("([iso, lang]) => ecoach.formatWhen(iso, lang, 'Europe/Amsterdam')",
                                    [at.isoformat(), language])
        assert shown == formats.moment(at, "Europe/Amsterdam", language)
    await page.context.close()


async def test_without_javascript_confirmations_are_pages_and_tabs_are_links(
        chromium: Browser, practice: Practice) -> None:
    w, people = WORDS["en"], practice.people["en"]
    page = await coach_page(chromium, practice, "en", "phone", java_script_enabled=False)
    await page.goto(f"{practice.url}/engagements/{people.other_engagement}")
    await page.get_by_role("button", name=w["close"]).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(people.other)
    await page.get_by_role("link", name=w["keep_open"]).click()
    await expect(page.get_by_role("button", name=w["close"])).to_be_visible()
    await expect(page.get_by_role("button", name=w["copy"])).to_have_count(0)  # nothing to copy with
    await page.get_by_role("tab", name=w["note"]).click()
    await expect(page.get_by_role("textbox", name=w["your_note"])).to_be_visible()
    await page.context.close()
