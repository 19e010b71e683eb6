"""A practice to walk through in Chromium, as a new coach and a new coachee would: shared
by the page tests (tests/test_ux_*.py), and meant to grow into tests/test_first_day.py.

One real ``ecoach serve`` per test module (its clock standing at the suite's START), seeded
in both languages: a Dutch coach and an English coach, each with a coachee who speaks
their language and one who speaks the other (so system notices must be rendered in the
reader's language), a booked session, an intake request, a private note and a message
with a long link. Tests act through accessible roles and labels in the page's language
(``words``), check pages with axe-core from npm (``axe``), and that nothing is wider than
a 360-pixel screen (``assert_fits``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import cache
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from ecoach.actions.booking import BookingContext, do_book_from_link
from ecoach.actions.booking_offer import get_offer
from ecoach.actions.coaches import do_add_coach
from ecoach.actions.engagements import do_create_engagement
from ecoach.actions.exchanges import NewExchange, record_exchanges
from ecoach.actions.session_types import check_session_type, do_new_booking_link, do_save_session_type
from ecoach.core.nudge_rules import make_pause_token
from ecoach.logbook.db import create_engine, session_factory
from ecoach.settings import Settings
from tests.browser import ARGS, CHROMIUM
from tests.conftest import PASSWORD, START, fresh_keyring, run_async
from tests.server_process import ServerProcess
from tests.walkthrough_areas import seed_areas

SECRET = "browser-test-secret"  # ServerProcess's secret key: the links below must match it
AXE = Path(__file__).parent / "js" / "node_modules" / "axe-core" / "axe.min.js"
LANGS = ("nl", "en")
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 1}
SIZES = {"desktop": DESKTOP, "phone": PHONE}
NARROW = 360  # no page may be wider than a screen this wide
LONG_LINK = "https://example.org/" + "very-long-path-segment-" * 12 + "end"

# The words a test acts on, as each language shows them.
WORDS: dict[str, dict[str, str]] = {
    "nl": {"email": "E-mailadres", "password": "Wachtwoord", "login": "Inloggen", "inbox": "Inbox",
           "reply": "Antwoord", "note": "Privénotitie", "your_reply": "Je antwoord", "your_note": "Je privénotitie",
           "send": "Versturen", "save_note": "Notitie opslaan", "copy": "Kopiëren", "copied": "Gekopieerd",
           "close": "Traject afsluiten", "keep_open": "Open laten", "reopen": "Heropenen",
           "new_link": "Nieuwe link maken", "withdraw": "Link intrekken", "go_back": "Terug",
           "preview": "Bekijken als", "edit": "Gegevens wijzigen", "save": "Opslaan", "zone": "Tijdzone van de coachee",
           "your_message": "Je bericht", "messages": "Berichten", "connected": "Verbonden", "offline": "Offline",
           "hours": "Chattijden en antwoordtijden", "book": "Dit tijdstip boeken", "ask": "Vraag dit tijdstip aan",
           "add_calendar": "Zet in mijn agenda (.ics)", "move": "Verplaatsen naar een ander tijdstip",
           "move_confirm": "Sessie verplaatsen", "cancel_session": "Sessie afzeggen", "keep_session": "Sessie houden",
           "booked": "Je sessie is geboekt", "moved": "Je sessie is verplaatst", "cancelled": "Je sessie is afgezegd",
           "language_fact": "Taal: Engels", "private": "Privénotitie", "search": "Zoek in het logboek",
           "accept": "Accepteren en een coachtraject starten", "sessions": "Sessies", "skip": "Naar de inhoud",
           "add_general": "Bij mijn algemene tijden optellen", "undo": "Ongedaan maken", "delete": "Verwijderen",
           "add": "Toevoegen", "channel": "Kanaal", "from": "Van", "until": "Tot", "friday": "vrijdag",
           "chat": "Chat", "your_name": "Je naam", "your_email": "Je e-mailadres", "keys": "Ctrl+Enter verstuurt",
           "language": "Taal", "change": "Wijzigen"},
    "en": {"email": "E-mail address", "password": "Password", "login": "Log in", "inbox": "Inbox",
           "reply": "Reply", "note": "Private note", "your_reply": "Your reply", "your_note": "Your private note",
           "send": "Send", "save_note": "Save note", "copy": "Copy", "copied": "Copied",
           "close": "Close engagement", "keep_open": "Keep it open", "reopen": "Reopen",
           "new_link": "Make a new link", "withdraw": "Withdraw the link", "go_back": "Go back",
           "preview": "Preview as", "edit": "Edit details", "save": "Save", "zone": "Coachee's time zone",
           "your_message": "Your message", "messages": "Messages", "connected": "Connected", "offline": "Offline",
           "hours": "Chat hours and answer times", "book": "Book this time", "ask": "Ask for this time",
           "add_calendar": "Add to my calendar (.ics)", "move": "Move to another time",
           "move_confirm": "Move the session", "cancel_session": "Cancel session", "keep_session": "Keep the session",
           "booked": "Your session is booked", "moved": "Your session has been moved",
           "cancelled": "Your session has been cancelled", "language_fact": "Language: Dutch",
           "private": "Private note", "search": "Search the logbook", "accept": "Accept and start an engagement",
           "sessions": "Sessions", "skip": "Skip to content", "add_general": "Add to my general hours",
           "undo": "Undo", "delete": "Delete", "add": "Add", "channel": "Channel", "from": "From", "until": "Until",
           "friday": "Friday", "chat": "Chat", "your_name": "Your name", "your_email": "Your e-mail address",
           "keys": "Ctrl+Enter sends", "language": "Language", "change": "Change"},
}


@dataclass
class People:
    """One coach's side of the practice (``lang``: the coach's language)."""

    lang: str
    coach_name: str
    coach_email: str
    coachee: str  # speaks the coach's language
    other: str  # speaks the other language, and has a booked session
    engagement: int = 0
    other_engagement: int = 0
    chat_token: str = ""
    other_chat_token: str = ""
    booking_token: str = ""  # the first coachee's private booking link
    public_token: str = ""  # the coach's public intake page
    manage_token: str = ""  # the other coachee's booked session
    pause_token: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


PEOPLE = {
    "nl": People("nl", "Marieke Bos", "marieke@example.org", "Sanne de Vries", "Olivia Smith"),
    "en": People("en", "Mary Brooks", "mary@example.org", "Emily Carter", "Daan Jansen"),
}
OTHER = {"nl": "en", "en": "nl"}
ZONES = {"nl": "Europe/Amsterdam", "en": "Europe/London"}
SESSION_TYPE = {"channel": "video", "duration_minutes": "60", "buffer_before_minutes": "0",
                "buffer_after_minutes": "15", "min_notice_minutes": "720", "max_per_day": "4",
                "horizon_days": "60", "availability": "sessions", "intake": "on"}


async def _seed_side(session, people: People, now: datetime) -> None:  # type: ignore[no-untyped-def]
    lang = people.lang
    coach = await do_add_coach(session, name=people.coach_name, email=people.coach_email, password=PASSWORD,
                               language=lang, time_zone=ZONES[lang], now=now - timedelta(days=30),
                               role="admin" if lang == "nl" else "coach")
    mine = await do_create_engagement(session, coach, coachee_name=people.coachee,
                                      coachee_email=f"{people.coachee.split()[0].lower()}@example.org", language=lang,
                                      time_zone=ZONES[lang], now=now - timedelta(days=20), secret=SECRET)
    other = await do_create_engagement(session, coach, coachee_name=people.other, coachee_email="",
                                       language=OTHER[lang], time_zone="America/New_York",
                                       now=now - timedelta(days=20), secret=SECRET)
    people.engagement, people.chat_token = mine.engagement.id, mine.chat_token
    people.other_engagement, people.other_chat_token = other.engagement.id, other.chat_token
    said = [("in", "coachee", people.coachee, "Hoi! Hier is het artikel: " + LONG_LINK),
            ("out", "coach", people.coach_name, "Dank je, ik lees het."),
            ("internal", "coach", people.coach_name, "Volgende keer doorvragen over werkdruk."),
            ("in", "coachee", people.coachee, "Tot de volgende sessie!")]
    for n, (direction, author, name, text) in enumerate(said):
        channel = "note" if direction == "internal" else "chat"
        await record_exchanges(session, [NewExchange(
            engagement_id=mine.engagement.id, channel=channel, direction=direction, author=author,
            author_name=name, text=text, external_id=f"seed:{n}")], now - timedelta(days=2, hours=-n))
    video = await do_save_session_type(session, coach, check_session_type(
        {**SESSION_TYPE, "name": "Coachingsessie" if lang == "nl" else "Coaching session"}), type_id=None, now=now)
    # A phone session without a number to call: never offered to coachees.
    await do_save_session_type(session, coach, check_session_type(
        {**SESSION_TYPE, "channel": "phone", "name": "Telefoongesprek" if lang == "nl" else "Phone call"}),
        type_id=None, now=now)
    people.booking_token = await do_new_booking_link(session, coach.id, mine.engagement.id, now=now, days=0,
                                                     secret=SECRET)
    people.public_token = await do_new_booking_link(session, coach.id, None, now=now, days=0, secret=SECRET)
    other_link = await do_new_booking_link(session, coach.id, other.engagement.id, now=now, days=0, secret=SECRET)
    settings = Settings(database_url="sqlite+aiosqlite:///unused.db", secret_key=SECRET, auto_migrate=False)
    context = BookingContext(settings, now, SECRET)
    offer = await get_offer(session, video, now=now, step_minutes=settings.booking.slot_step_minutes)
    later = [s for s in offer.slots if s.start > now + timedelta(days=3)]
    await session.commit()  # a booking locks the agenda before its transaction's first write
    booked = await do_book_from_link(session, context, other_link, type_id=str(video.id),
                                     start=later[0].start.isoformat(), zone="America/New_York",
                                     language=OTHER[lang])
    people.manage_token = booked.manage_token
    people.extra["booking_id"] = booked.booking.id
    await session.commit()
    request = await do_book_from_link(session, context, people.public_token, type_id=str(video.id),
                            start=later[3].start.isoformat(), zone=ZONES[lang], language=lang,
                            name="Noor Bakker", email="noor@example.org", message="Ik wil graag een intake.")
    people.extra["request_id"] = request.booking.id
    await session.commit()
    people.extra.update(await seed_areas(session, settings, coach, mine.engagement, other.engagement,
                                         booked.booking.id, now))
    await session.commit()
    people.pause_token = make_pause_token(SECRET, mine.engagement.id, now)


async def seed(db_url: str, now: datetime = START) -> dict[str, People]:
    people = {lang: People(**{k: v for k, v in vars(p).items() if k != "extra"}, extra={})
              for lang, p in PEOPLE.items()}
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, fresh_keyring())() as session:
            for side in people.values():
                await _seed_side(session, side, now)
            await session.commit()
    finally:
        await engine.dispose()
    return people


@dataclass
class Practice:
    server: ServerProcess
    people: dict[str, People]

    @property
    def url(self) -> str:
        return self.server.url


def start_practice(workdir: Path, serve_args: tuple[str, ...] = (), clock: datetime = START,
                   **env: str) -> Practice:
    """A migrated, seeded database and a server on it (mail off unless ``env`` says),
    standing at ``clock``; ``serve_args`` go to ``ecoach serve`` (``--port`` there wins)."""
    url = f"sqlite+aiosqlite:///{workdir / 'ecoach.db'}"
    server = ServerProcess(workdir, url, clock=clock, **env)
    server.cli("migrate")
    people = run_async(lambda: seed(url, clock))
    if "--port" in serve_args:
        server.port = int(serve_args[serve_args.index("--port") + 1])
    server.start(*serve_args)
    return Practice(server, people)


def need_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed (./run-tests installs it)")
        pytest.skip("Debian's chromium is not installed")
    if not AXE.exists():
        pytest.fail("axe-core is not installed: run ./run-tests (npm ci in tests/js)")


async def launch(playwright) -> Browser:  # type: ignore[no-untyped-def]
    need_chromium()
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Browser]:
    """One Chromium for a whole module of walk-through tests (import it as a fixture)."""
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        yield browser
        await browser.close()


async def new_page(browser: Browser, size: str = "desktop", **extra: Any) -> Page:
    context: BrowserContext = await browser.new_context(**{**SIZES[size], **extra})
    return await context.new_page()


async def login(page: Page, practice: Practice, lang: str) -> None:
    w = WORDS[lang]
    await page.goto(practice.url + "/login")
    await page.get_by_label(WORDS["en"]["email"]).or_(page.get_by_label(WORDS["nl"]["email"])).fill(
        practice.people[lang].coach_email)
    await page.get_by_label(WORDS["en"]["password"]).or_(page.get_by_label(WORDS["nl"]["password"])).fill(PASSWORD)
    await page.get_by_role("button", name=WORDS["en"]["login"]).or_(
        page.get_by_role("button", name=WORDS["nl"]["login"])).click()
    await expect(page.get_by_role("heading", level=1, name=w["inbox"])).to_be_visible()


@cache
def _axe_source() -> str:
    return AXE.read_text()


# Moderate in axe's scale, but what the issue names: landmarks unique, headings in order.
ALSO = ["heading-order", "landmark-unique", "landmark-one-main", "page-has-heading-one", "region",
        "landmark-no-duplicate-banner", "landmark-no-duplicate-main", "landmark-no-duplicate-contentinfo"]


async def axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's critical and serious findings on the page as it is now (and ``ALSO``)."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the pages' CSP (script-src 'self') stays on.
        await page.evaluate(_axe_source() + "\n;undefined")
    result = await page.evaluate("""async (also) => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter(v => v.impact === 'critical' || v.impact === 'serious' || also.includes(v.id))
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + n.failureSummary)}));
    }""", ALSO)
    return list(result)


async def assert_fits(page: Page, width: int = NARROW) -> None:
    """Nothing on the page is wider than a ``width``-pixel screen."""
    size = page.viewport_size or {"width": 1280, "height": 800}
    await page.set_viewport_size({"width": width, "height": size["height"]})
    wide = await page.evaluate("""() => {
        const limit = window.innerWidth;
        const over = document.documentElement.scrollWidth;
        if (over <= limit) return null;
        const culprits = [...document.querySelectorAll('body *')]
            .filter(el => el.getBoundingClientRect().right > limit + 1)
            .slice(0, 5).map(el => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right));
        return {width: over, culprits};
    }""")
    await page.set_viewport_size(size)
    assert wide is None, f"{page.url} is {wide['width']} px wide at {width} px: {wide['culprits']}"
