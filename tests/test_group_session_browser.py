"""In Debian's Chromium at 360 px: the group page with a group session, its Move page and
the Cancel question (dialog and page) pass axe-core and fit; cancelling from the dialog
takes the session off the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Browser, expect

from ecoach.actions.group_sessions import do_book_group_session
from ecoach.actions.session_types import check_session_type, do_save_session_type
from ecoach.logbook import queries
from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.group_models import CoachingGroup
from tests.booking_support import TYPE_FORM, add_windows, ctx
from tests.browser import WAIT, browser  # noqa: F401 - the fixture
from tests.conftest import fresh_keyring
from tests.group_support import add_engagement
from tests.live_server import live_server
from tests.moments import next_weekday
from tests.support import seed, settings_for
from tests.test_groups_browser import NARROW, log_in, make_group
from tests.test_resources_browser import accessible

pytestmark = pytest.mark.browser


async def _book(db_url: str, clock, coach_email: str, gid: int) -> int:  # type: ignore[no-untyped-def]
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, fresh_keyring())() as session:
            coach = await queries.get_coach_by_email(session, coach_email)
            await add_windows(session, coach.id, "mon-fri 09:00-12:00")
            item = await do_save_session_type(session, coach, check_session_type(TYPE_FORM), type_id=None,
                                              now=clock.now())
            await session.commit()
        async with session_factory(engine, None, fresh_keyring())() as session:
            coach = await queries.get_coach_by_email(session, coach_email)
            group = await session.get(CoachingGroup, gid)
            start = next_weekday(clock, 0, 10, after=timedelta(days=2))
            booking, _told = await do_book_group_session(session, ctx(settings_for(db_url), clock.now()), coach,
                                                         group, type_id=item.id, start=start.isoformat())
            await session.commit()
            return booking.id
    finally:
        await engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_group_session_cancel_and_move_pages(browser: Browser, db_url: str, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="marieke@example.org", coachee="Sanne", language="en")
    await seed(db_url, clock.now(), email="jan@example.org", coachee="Kim", language="en")
    members = [a] + [await add_engagement(db_url, clock.now(), a["email"], name) for name in ("Ahmed",)]
    gid = await make_group(db_url, clock.now(), a["email"], "jan@example.org", [m["engagement_id"] for m in members])
    bid = await _book(db_url, clock, a["email"], gid)
    with live_server(settings_for(db_url), clock) as base:
        context = await browser.new_context(viewport=NARROW)
        page = await context.new_page()
        await log_in(page, base, a["email"])
        await page.goto(f"{base}/groups/{gid}/sessions/{bid}/move")
        await expect(page.get_by_label("New time")).to_be_visible()
        await accessible(page, NARROW["width"])
        await page.goto(f"{base}/groups/{gid}/sessions/{bid}/cancel")  # the question without JavaScript
        await expect(page.locator("h1")).to_have_text("Cancel this group session?")
        await accessible(page, NARROW["width"])
        await page.goto(f"{base}/groups/{gid}")
        row = page.locator(f'li[data-booking="{bid}"]')
        await expect(row.get_by_role("link", name="Move")).to_be_visible()
        await accessible(page, NARROW["width"])
        await row.get_by_role("button", name="Cancel").click()
        dialog = page.locator(f"#cancel-group-session-{bid}")
        await expect(dialog).to_be_visible(timeout=WAIT)
        await accessible(page, NARROW["width"])
        await dialog.get_by_role("button", name="Cancel group session").click()
        await expect(page.get_by_role("status").filter(has_text="The group session is cancelled")).to_be_visible(
            timeout=WAIT)
        await expect(page.locator(f'li[data-booking="{bid}"]')).to_have_count(0)
        # Closed before the server stops: its open socket would hold the shutdown up.
        await context.close()
