"""The session structure end to end in Debian's Chromium, mail through a real SMTP relay:
the coachee books a session on a phone; the check-in arrives by mail and in the chat and
is answered on the phone-sized page (a bad answer first); the coach closes the session
with a summary and action steps; the coachee ticks one off while offline; the feedback
form is answered; after four sessions the review prompt appears; the progress chart shows
the scores; the four-supports questionnaire shows coach and coachee side by side. Every
page passes axe-core and fits 360 px."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from ecoach.actions.engagements import do_new_chat_link
from ecoach.core.supports import ITEMS
from ecoach.logbook.models import Engagement
from ecoach.logbook.nudge_models import ActionStep
from tests.browser import WAIT, browser  # noqa: F401 - the fixture
from tests.dovecot import wait_until
from tests.session_support import ams, book_session, day, go, live_app, practice, settings
from tests.smtp_relay import SmtpRelay, smtp_relay  # noqa: F401 - the fixture
from tests.support import PASSWORD

pytestmark = pytest.mark.browser
PHONE = dict(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
COACHEE = "coachee0@example.org"


async def accessible(page: Page, within: str | None = None) -> None:
    """No critical or serious axe-core finding (``within``: only in that part, where the
    rest of the page is another area's), and nothing wider than the screen."""
    results = await Axe().run(page, context=within)
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
           for v in results.response["violations"] if v["impact"] in ("critical", "serious")]
    assert not bad, f"{page.url}: {bad}"
    wide = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0, f"{page.url} is {wide}px wider than the screen"


def mail_to(relay: SmtpRelay, subject: str) -> tuple[str, str] | None:
    """(subject, plain text) of the newest mail to the coachee whose subject has ``subject``."""
    for received in reversed(relay.messages):
        message = message_from_bytes(received.raw, policy=default_policy)
        if received.rcpt_tos == (COACHEE,) and subject in str(message["Subject"]):
            return str(message["Subject"]), message.get_body(("plain",)).get_content()
    return None


def form_link(text: str) -> str:
    return re.search(r"(http://127\.0\.0\.1:\d+/f/[A-Za-z0-9_-]+)", text).group(1)  # type: ignore[union-attr]


async def log_in(page: Page, base: str, email: str) -> None:
    await page.goto(base + "/login")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button.primary")
    await expect(page.get_by_role("heading", name="Inbox")).to_be_visible(timeout=WAIT)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_session_from_check_in_to_evaluation(  # type: ignore[no-untyped-def]
        browser: Browser, db_url: str, clock, sessions, make_coach, make_engagement,  # noqa: F811
        smtp_relay: SmtpRelay) -> None:  # noqa: F811
    p = await practice(sessions, make_coach, make_engagement, clock, language="en")
    async with sessions() as session:
        chat_token = await do_new_chat_link(session, await session.get(Engagement, p.engagement.id), now=clock.now(),
                                            secret="test-secret-key")
        await session.commit()

    def make(base: str):  # type: ignore[no-untyped-def]
        return settings(db_url, public_url=base, smtp_port=smtp_relay.port)

    with live_app(make, clock) as server:
        base = server.url
        # The coachee books on their phone, on a day well ahead.
        phone_context = await browser.new_context(**PHONE)
        phone = await phone_context.new_page()
        await phone.goto(f"{base}/book/{p.booking_token}")
        slot = phone.locator(".slot-day").nth(3).locator("a.slot").first
        start = datetime.fromisoformat(await slot.get_attribute("data-start"))
        await slot.click()  # the summary first; booked on the button
        await phone.get_by_role("button", name="Book this time").click()
        await expect(phone.locator(".confirmation")).to_contain_text("Your session is booked", timeout=WAIT)

        # Two days before: the check-in, by mail and in the chat.
        go(clock, start - timedelta(days=2))
        assert await server.run_tasks() >= 1
        subject, text = await wait_until(lambda: mail_to(smtp_relay, "Check-in"))
        assert subject.startswith("Check-in for your session on")
        checkin_url = form_link(text)
        await phone.goto(f"{base}/c/{chat_token}")
        await expect(phone.locator("#timeline")).to_contain_text(checkin_url, timeout=WAIT)
        await expect(phone.get_by_role("region", name="For you to fill in").get_by_role("link", name="Check-in")
                     ).to_be_visible()
        await accessible(phone)

        # The coachee answers on the phone: first without the required answer.
        await phone.goto(checkin_url)
        await expect(phone.get_by_role("heading", name="Check-in")).to_be_visible()
        await accessible(phone)
        await phone.get_by_label("What stayed with you from the last session?").fill("The question about energy")
        goal = phone.get_by_role("group", name=re.compile("Calm when presenting"))
        await goal.get_by_label("6", exact=True).check()
        await phone.get_by_role("button", name="Send my answers").click()
        await expect(phone.get_by_role("alert")).to_contain_text("Please answer this question.")
        await expect(phone.get_by_label("What stayed with you from the last session?")).to_have_value(
            "The question about energy")
        await accessible(phone)
        await phone.get_by_label("What do you want from this session?").fill("Prepare the team meeting")
        await phone.get_by_role("group", name=re.compile("Say no to extra work")).get_by_label("3", exact=True).check()
        await phone.get_by_role("button", name="Send my answers").click()
        await expect(phone.get_by_role("status")).to_contain_text("your answers have reached")
        await accessible(phone)

        # The coach sees the answers beside the session and in the timeline.
        coach = await (await browser.new_context()).new_page()
        await log_in(coach, base, p.coach.email)
        await coach.goto(f"{base}/engagements/{p.engagement.id}")
        sessions_panel = coach.locator("#sessions")
        await expect(sessions_panel).to_contain_text("Check-in: answered")
        await sessions_panel.get_by_text("Check-in answers").click()
        await expect(sessions_panel).to_contain_text("Prepare the team meeting")
        await expect(coach.locator("#timeline")).to_contain_text("Calm when presenting to the team: 6/10")
        await accessible(coach, "#sessions")

        # After the session: the coach closes it with a summary and two action steps.
        go(clock, start + timedelta(hours=1, minutes=31))
        await server.run_tasks()
        await coach.goto(f"{base}/engagements/{p.engagement.id}")
        await coach.locator("#sessions").get_by_role("link", name="Close the session").click()
        await coach.get_by_label("Summary").fill("We practised saying no, kindly and clearly.")
        await coach.get_by_label("Coachee 1 too").check()
        await coach.get_by_label("Action step 1").fill("Say no to one meeting")
        await coach.get_by_label("By when?").nth(0).fill((start + timedelta(days=2)).date().isoformat())
        await coach.get_by_label("Action step 2").fill("Walk at lunch twice")
        await coach.get_by_label("By when?").nth(1).fill((start + timedelta(days=4)).date().isoformat())
        await coach.get_by_role("button", name="Close the session").click()
        await expect(coach.get_by_role("status")).to_contain_text("The session is closed.")
        await expect(coach.locator("#close")).to_contain_text("Walk at lunch twice")
        await accessible(coach)

        # The coachee ticks a step off, offline: kept, and sent once back online.
        await phone.goto(f"{base}/c/{chat_token}")
        await expect(phone.locator("#timeline")).to_contain_text("We practised saying no")
        await phone_context.set_offline(True)
        await phone.locator("#steps-info > summary").click()  # the phone chat folds the steps away
        tick = phone.get_by_role("button", name="Done: Say no to one meeting")
        await tick.click()
        await expect(tick).to_have_attribute("aria-pressed", "true")
        await expect(phone.locator(".tick-status")).to_contain_text("You are offline")
        await phone_context.set_offline(False)

        async def ticked() -> bool:
            async with sessions() as session:
                # The text is sealed: compared once read, not in SQL.
                stmt = select(ActionStep).where(ActionStep.engagement_id == p.engagement.id)
                [step] = [s for s in (await session.execute(stmt)).scalars() if s.text == "Say no to one meeting"]
                return step.done_at is not None

        await wait_until(ticked)
        await phone.reload()
        await phone.locator("#steps-info > summary").click()
        await expect(phone.get_by_role("button", name="Done: Say no to one meeting")).to_have_attribute(
            "aria-pressed", "true")
        await expect(phone.get_by_role("button", name="Done: Walk at lunch twice")).to_have_attribute(
            "aria-pressed", "false")
        await accessible(phone)

        # The feedback form, from the chat page (followed by its address: the chat's own
        # connection line may still be settling after the offline spell, moving the page).
        feedback = phone.get_by_role("region", name="For you to fill in").get_by_role(
            "link", name="Feedback on the session")
        await phone.goto(await feedback.get_attribute("href"))
        await phone.get_by_label("What helped you in this session?").fill("Practising out loud")
        await phone.get_by_role("group", name=re.compile("How useful")).get_by_label("8", exact=True).check()
        await phone.get_by_role("button", name="Send my answers").click()
        await expect(phone.get_by_role("status")).to_contain_text("your answers have reached")
        await coach.goto(f"{base}/engagements/{p.engagement.id}")
        await expect(coach.locator("#timeline")).to_contain_text("Practising out loud")

        # Three more sessions: after the fourth the coach is asked to review the goals.
        config = make(base)
        for _ in range(3):  # each on the first working day three days after the clock
            later = await book_session(sessions, config, p, ams(day(clock, 0), 10), clock.now())
            go(clock, later.ends_at + timedelta(minutes=31))
            await server.run_tasks()
        await coach.goto(f"{base}/engagements/{p.engagement.id}")
        review = coach.get_by_role("region", name="Time for a review: 4 sessions held")
        await expect(review).to_be_visible()
        await accessible(coach, "#coaching")
        await review.get_by_label("Score now for: Calm when presenting to the team").select_option("7")
        await review.get_by_label("Continue as agreed").check()
        await review.get_by_role("button", name="Record the review").click()
        await expect(coach.locator("#coaching").get_by_role("status")).to_contain_text("The review is recorded.")

        # The progress chart: the check-in's 6 and the review's 7, as a picture and a table.
        chart = coach.locator("#coaching figure.progress svg[role=img]")
        await expect(chart.locator("[data-score]")).to_have_count(3)
        assert await chart.locator(".goal-1 [data-score]").evaluate_all("els => els.map(e => e.dataset.score)") == [
            "6", "7"]
        await coach.locator("#coaching").get_by_text("The scores as a table").click()
        table = coach.locator("#coaching table")
        await expect(table).to_contain_text("Calm when presenting to the team")
        await expect(table.locator("tbody tr")).to_have_count(3)
        await expect(table).to_contain_text("review")
        await phone.goto(f"{base}/c/{chat_token}")
        await phone.get_by_text("Shared with you, your progress and your data").click()  # folded above the chat
        await expect(phone.get_by_role("region", name="Your progress").locator("svg[role=img] [data-score]")
                     ).to_have_count(3)

        # The four-supports questionnaire at the end: the coachee and the coach answer it.
        await coach.locator(".supports-send select").select_option("end")
        await coach.get_by_role("button", name="Send the questionnaire").click()
        await expect(coach.locator("#coaching").get_by_role("status")).to_contain_text("The questionnaire is sent.")
        _subject, text = await wait_until(lambda: mail_to(smtp_relay, "Questionnaire"))
        await phone.goto(form_link(text))
        for item in ITEMS:
            answer = "not true at all" if item.key == "nw1" else "mostly true"
            await phone.get_by_role("group", name=item.coachee).get_by_label(answer).check()
        await accessible(phone)
        await phone.get_by_role("button", name="Send my answers").click()
        await expect(phone.get_by_role("status")).to_contain_text("your answers have reached")
        await accessible(phone)

        coach_phone = await (await browser.new_context(**PHONE)).new_page()
        await log_in(coach_phone, base, p.coach.email)
        await coach_phone.goto(f"{base}/engagements/{p.engagement.id}/supports")
        await coach_phone.get_by_role("region", name="At the end").get_by_role("link", name="Give your own answers").click()
        for item in ITEMS:
            await coach_phone.get_by_role("group", name=item.coach).get_by_label("mostly true").check()
        await accessible(coach_phone)
        await coach_phone.get_by_role("button", name="Save my answers").click()
        end = coach_phone.get_by_role("region", name="At the end")
        row = end.locator("tr[data-item=nw1]")
        await expect(row.locator(".coachee-score")).to_have_text("1")
        await expect(row.locator(".coach-score")).to_have_text("4")
        await expect(row).to_contain_text("seen differently")
        await expect(end.locator("tr.item-row.differs")).to_have_count(1)
        await accessible(coach_phone)
        await coach_phone.goto(f"{base}/engagements/{p.engagement.id}/sessions/1")
        await accessible(coach_phone)
