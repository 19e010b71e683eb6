"""The coachee's chat shaped as a phone chat, and the coach's reply box in words (issue 12,
review of main), in Chromium, in Dutch and English, driven by roles and labels:

1. the composer (paper clip, message, Send) is docked at the bottom of the screen on a
   390×844 phone, a 360-pixel phone and a desktop; the history scrolls above it and opens
   at the newest message; what is secondary (hours, action steps, shared with you,
   progress, your data) sits above the history, folded; the composer stays put when the
   history is scrolled, when a message arrives and when the offline line grows;
2. "Send as" offers "Chat (web)" and "E-mail", never the stored words "chat" and "mail";
3. the Note tab's label, placeholder, hint and button follow the "share with the coachee"
   box, at once in the page and from the server (a page without JavaScript).
One server (mail on, to a relay on loopback) and one Chromium for the module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.browser import WAIT
from tests.smtp_relay import SmtpRelay
from tests.walkthrough import chromium  # noqa: F401 - the fixture
from tests.walkthrough import LANGS, WORDS, Practice, assert_fits, axe, login, new_page, start_practice

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# The phone of issue 12, the narrowest phone the pages must fit, and a desktop.
SCREENS = {"phone": {"width": 390, "height": 844}, "narrow": {"width": 360, "height": 740},
           "desktop": {"width": 1280, "height": 800}}
SAY = {
    "nl": {"new_message": "Nieuw bericht", "attach": "Bestand toevoegen", "more": "Met jou gedeeld, je voortgang",
           "shared": "Met jou gedeeld", "data": "Jouw gegevens", "send_as": "Versturen als",
           "library": "Delen uit je bibliotheek",
           "chat_web": "Chat (web)", "e_mail": "E-mail", "share_box": "Deze notitie delen met de coachee",
           "private_placeholder": "Een notitie die alleen jij ziet…",
           "shared_placeholder": "Een notitie die de coachee ook ziet…",
           "shared_label": "Je notitie voor de coachee", "shared_hint": "De coachee ziet deze notitie",
           "private_hint": "Alleen jij ziet privénotities.", "share_button": "Opslaan en delen"},
    "en": {"new_message": "New message", "attach": "Attach a file", "more": "Shared with you, your progress",
           "shared": "Shared with you", "data": "Your data", "send_as": "Send as", "library": "Share from your library",
           "chat_web": "Chat (web)", "e_mail": "E-mail", "share_box": "Share this note with the coachee",
           "private_placeholder": "A note only you can see…",
           "shared_placeholder": "A note the coachee will see too…",
           "shared_label": "Your note for the coachee", "shared_hint": "The coachee sees this note",
           "private_hint": "Only you see private notes.", "share_button": "Save and share"},
}


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Practice]:
    relay = SmtpRelay()  # mail on, so that "Send as" offers e-mail too
    relay.start()
    practice = start_practice(tmp_path_factory.mktemp("phone-chat"), ECOACH_MAIL__ENABLED="true",
                              ECOACH_MAIL__SMTP_HOST=relay.host, ECOACH_MAIL__SMTP_PORT=str(relay.port),
                              ECOACH_MAIL__NOTIFY_COACH="off")
    yield practice
    practice.server.stop()
    relay.stop()


async def screen(chromium: Browser, name: str, **extra) -> Page:  # type: ignore[no-untyped-def]
    phone = name != "desktop"
    context = await chromium.new_context(viewport=SCREENS[name], is_mobile=phone, has_touch=phone,
                                         device_scale_factor=1, **extra)
    return await context.new_page()


async def box(locator: Locator) -> dict[str, float]:
    found = await locator.bounding_box()
    assert found is not None, f"{locator} has no box"
    return found


async def assert_docked(page: Page, composer: Locator) -> None:
    """The composer's bottom edge is the screen's, and the page itself does not scroll."""
    height = await page.evaluate("window.innerHeight")
    edge = await box(composer)
    assert abs(edge["y"] + edge["height"] - height) <= 1, f"composer ends at {edge['y'] + edge['height']}, not {height}"
    assert await page.evaluate("document.scrollingElement.scrollTop") == 0


async def assert_newest_in_view(log: Locator) -> None:
    """The newest message is wholly inside the history's scrolling box."""
    area, newest = await box(log), await box(log.get_by_role("listitem").last)
    assert newest["y"] >= area["y"] - 1 and newest["y"] + newest["height"] <= area["y"] + area["height"] + 1, \
        f"newest message at {newest}, history at {area}"


# The part of an element one can see: its box cut by every scrolling box around it.
SEEN = """el => {
    let r = el.getBoundingClientRect(), top = r.top, bottom = r.bottom;
    for (let up = el.parentElement; up; up = up.parentElement) {
        if (getComputedStyle(up).overflowY === 'visible') continue;
        const u = up.getBoundingClientRect();
        top = Math.max(top, u.top); bottom = Math.min(bottom, u.bottom);
    }
    return {top, bottom};
}"""


async def assert_regions_above(page: Page, log: Locator) -> None:
    """Every card (a region) that is shown lies above the history, none between the
    history and the composer, none below it."""
    top = (await box(log))["y"]
    for region in await page.get_by_role("region").all():
        if not await region.is_visible():
            continue
        if await region.evaluate("(el, log) => el.contains(log)", await log.element_handle()):
            continue  # the chat itself, which holds everything
        seen = await region.evaluate(SEEN)
        if seen["bottom"] > seen["top"]:
            name = await region.evaluate("el => el.id")
            assert seen["bottom"] <= top + 1, f"{name} shows down to {seen['bottom']}, the history starts at {top}"


async def coach_says(chromium: Browser, practice: Practice, lang: str, text: str) -> None:
    page = await new_page(chromium, "desktop")
    await login(page, practice, lang)
    await page.goto(f"{practice.url}/engagements/{practice.people[lang].engagement}")
    await page.get_by_role("textbox", name=WORDS[lang]["your_reply"]).fill(text)
    await page.get_by_role("button", name=WORDS[lang]["send"], exact=True).click()
    await expect(page.get_by_role("log").get_by_text(text)).to_be_visible(timeout=WAIT)
    await page.context.close()


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", list(SCREENS))
async def test_the_composer_is_docked_at_the_bottom_with_the_history_above_it(
        chromium: Browser, practice: Practice, lang: str, size: str) -> None:
    w, say, people = WORDS[lang], SAY[lang], practice.people[lang]
    page = await screen(chromium, size)
    await page.goto(f"{practice.url}/c/{people.chat_token}")
    status = page.get_by_role("status").filter(has_text=re.compile(f"{w['connected']}|{w['offline']}"))
    await expect(status).to_have_text(w["connected"], timeout=WAIT)
    composer = page.get_by_role("form", name=say["new_message"])
    log = page.get_by_role("log", name=w["messages"])
    # Message, Send and the paper clip are the composer; it ends where the screen ends.
    await expect(composer.get_by_role("textbox", name=w["your_message"])).to_be_visible()
    await expect(composer.get_by_role("button", name=w["send"], exact=True)).to_be_visible()
    await expect(composer.get_by_label(say["attach"])).to_be_attached()
    await assert_docked(page, composer)
    await assert_newest_in_view(log)
    await assert_regions_above(page, log)
    await expect(page.get_by_role("region", name=say["shared"])).to_be_hidden()  # folded away
    assert await axe(page) == []

    # Unfolded, the secondary cards stay above the history (scrolling on their own).
    await page.get_by_text(say["more"]).click()
    shared = page.get_by_role("region", name=say["shared"])
    await expect(shared).to_be_visible()
    await shared.scroll_into_view_if_needed()
    await expect(page.get_by_role("region", name=say["data"])).to_be_attached()
    await assert_regions_above(page, log)
    await assert_docked(page, composer)
    assert await axe(page) == []
    await page.get_by_text(say["more"]).click()

    # Scrolling back through the history moves the history, not the composer.
    await log.hover()
    await page.mouse.wheel(0, -3000)
    history = await log.element_handle()
    await page.wait_for_function("el => el.scrollTop < 5", arg=history, timeout=WAIT)
    await assert_docked(page, composer)
    await page.mouse.wheel(0, 5000)
    await page.wait_for_function("el => el.scrollHeight - el.scrollTop - el.clientHeight < 5", arg=history,
                                 timeout=WAIT)

    # A message arrives: shown at the bottom of the history, the composer where it was.
    text = f"Hoe gaat het? {size} {lang}"
    await coach_says(chromium, practice, lang, text)
    await expect(log.get_by_role("listitem").last).to_contain_text(text, timeout=WAIT)
    await assert_newest_in_view(log)
    await assert_docked(page, composer)

    # Offline, the longer line in the header pushes nothing off the screen.
    await page.context.set_offline(True)
    await expect(status).to_contain_text(w["offline"], timeout=WAIT)
    await assert_docked(page, composer)
    await assert_newest_in_view(log)
    assert await axe(page) == []
    await page.context.set_offline(False)
    await expect(status).to_have_text(w["connected"], timeout=20_000)
    await assert_fits(page)
    await page.context.close()


@pytest.mark.parametrize("lang", LANGS)
async def test_a_fragment_unfolds_its_part_of_the_chat(chromium: Browser, practice: Practice, lang: str) -> None:
    page = await screen(chromium, "phone")
    await page.goto(f"{practice.url}/c/{practice.people[lang].chat_token}#your-data")
    await expect(page.get_by_role("region", name=SAY[lang]["data"])).to_be_visible()
    await assert_docked(page, page.get_by_role("form", name=SAY[lang]["new_message"]))
    await page.context.close()


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", ["narrow", "desktop"])
async def test_send_as_in_words_and_a_shared_note_says_it_is_shared(
        chromium: Browser, practice: Practice, lang: str, size: str) -> None:
    w, say, people = WORDS[lang], SAY[lang], practice.people[lang]
    page = await screen(chromium, size)
    await login(page, practice, lang)
    await page.goto(f"{practice.url}/engagements/{people.engagement}")
    # In the reply box and in "Share from your library".
    for send_as in (page.get_by_role("tabpanel").get_by_label(say["send_as"]),
                    page.get_by_role("region", name=say["library"]).get_by_label(say["send_as"])):
        assert [t.strip() for t in await send_as.locator("option").all_text_contents()] == [
            say["chat_web"], say["e_mail"]]
        await send_as.select_option(label=say["e_mail"])
        assert await send_as.input_value() == "mail"

    # The Note tab: private until the box is ticked; then every word says it is shared.
    await page.get_by_role("tab", name=w["note"]).click()
    note = page.get_by_role("textbox", name=w["your_note"])
    await expect(note).to_have_attribute("placeholder", say["private_placeholder"])
    await expect(page.get_by_text(say["private_hint"])).to_be_visible()
    await page.get_by_label(say["share_box"]).check()
    shared = page.get_by_role("textbox", name=say["shared_label"])
    await expect(shared).to_have_attribute("placeholder", say["shared_placeholder"])
    await expect(page.get_by_text(say["shared_hint"])).to_be_visible()
    await expect(page.get_by_text(say["private_hint"])).to_be_hidden()
    await expect(page.get_by_role("button", name=say["share_button"])).to_be_visible()
    assert await axe(page) == []
    await assert_fits(page)
    await page.get_by_label(say["share_box"]).uncheck()
    await expect(note).to_have_attribute("placeholder", say["private_placeholder"])
    await expect(page.get_by_role("button", name=w["save_note"])).to_be_visible()
    # Back on the Reply tab the box is cleared: the next note starts private.
    await page.get_by_role("tab", name=w["reply"]).click()
    await expect(page.get_by_role("textbox", name=w["your_reply"])).to_be_visible()
    await page.context.close()

    # The server says the same when it renders the Note tab with the box ticked (no script).
    plain = await screen(chromium, size, java_script_enabled=False)
    await login(plain, practice, lang)
    await plain.goto(f"{practice.url}/engagements/{people.engagement}?mode=note&shared=1#reply")
    await expect(plain.get_by_label(say["share_box"])).to_be_checked()
    await expect(plain.get_by_role("textbox", name=say["shared_label"])).to_have_attribute(
        "placeholder", say["shared_placeholder"])
    await expect(plain.get_by_text(say["shared_hint"])).to_be_visible()
    await expect(plain.get_by_text(say["private_hint"])).to_be_hidden()
    await expect(plain.get_by_role("button", name=say["share_button"])).to_be_visible()
    await plain.context.close()
