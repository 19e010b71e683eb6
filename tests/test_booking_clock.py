"""The booking pages and the booking check read one clock: at any moment, every time a
page offers is a time the server takes at that moment, also on the hour the clocks
change, at the end of a Sunday and on New Year's night. A time offered a moment ago can
pass its minimum notice before the click: then the server says so and shows fresh times
(the cause of a browser test that failed at some times of day while it ran on the wall
clock; ``tests/server_process.py`` now starts the server on a set clock)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html import unescape
from urllib.parse import quote

import pytest

from tests.booking_support import setup
from tests.support import app_client, csrf_of, settings_for

UTC = timezone.utc
SLOT = re.compile(r'<a class="slot" [^>]*data-start="([^"]+)"')
MOMENTS = {
    "half a second before a slot's notice runs out": datetime(2026, 11, 25, 9, 59, 59, 500000, tzinfo=UTC),
    "just before the clocks go forward": datetime(2027, 3, 28, 0, 59, 30, tzinfo=UTC),  # 01:59:30 CET
    "just before the clocks go back": datetime(2026, 10, 25, 0, 59, 30, tzinfo=UTC),  # 02:59:30 CEST
    "Sunday 23:59 in Amsterdam": datetime(2026, 11, 29, 22, 59, tzinfo=UTC),
    "New Year's night": datetime(2026, 12, 31, 23, 0, 1, tzinfo=UTC),  # 00:00:01 on 1 January
}


def slots_on(page: str) -> list[datetime]:
    return [datetime.fromisoformat(unescape(value)) for value in SLOT.findall(page)]


async def book_last(client, token: str, zone: str) -> str:  # type: ignore[no-untyped-def]
    """Book the last time the private booking page offers; the manage page's path."""
    page = await (await client.get(f"/book/{token}?zone={quote(zone)}")).text()
    csrf = await csrf_of(client, "/login")  # the pick step has links, no form: the session's token
    type_id = re.search(r'name="type" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    response = await client.post(f"/book/{token}", data={"_csrf": csrf, "type": type_id, "zone": zone,
                                                         "start": slots_on(page)[-1].isoformat()},
                                 allow_redirects=False)
    assert response.status == 303, await response.text()
    return response.headers["Location"].partition("?")[0]


async def reschedule(client, manage: str, start: datetime, zone: str):  # type: ignore[no-untyped-def]
    csrf = await csrf_of(client, manage)
    return await client.post(f"{manage}/reschedule", data={"_csrf": csrf, "start": start.isoformat(), "zone": zone},
                             allow_redirects=False)


@pytest.mark.parametrize("moment", list(MOMENTS.values()), ids=list(MOMENTS))
async def test_every_time_the_reschedule_page_offers_is_taken_at_that_moment(
        sessions, make_coach, make_engagement, clock, db_url, moment) -> None:  # type: ignore[no-untyped-def]
    clock.set(moment)
    # Whole days every day, no notice, two days ahead: the first times offered are the
    # ones right at the awkward moment.
    s = await setup(sessions, make_coach, make_engagement, clock.now(), windows="mon-sun 00:00-00:00",
                    min_notice_minutes="0", horizon_days="2")
    config = settings_for(db_url, public_url="http://127.0.0.1:8080", booking={"change_cutoff_hours": 0})
    zone = "America/New_York"
    async with app_client(config, clock) as client:
        manage = await book_last(client, s.tokens[0], zone)
        offered = slots_on(await (await client.get(f"{manage}/move?zone={quote(zone)}")).text())
        assert offered and offered == sorted(offered) and offered[0] >= moment
        for start in offered[:6] + offered[-2:]:
            response = await reschedule(client, manage, start, zone)
            assert response.status == 303, (start, await response.text())


async def test_a_time_that_passes_its_notice_between_page_and_click_is_refused_with_fresh_times(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    clock.set(MOMENTS["half a second before a slot's notice runs out"])  # Wednesday 10:59:59.5 in Amsterdam
    s = await setup(sessions, make_coach, make_engagement, clock.now(), windows="mon-fri 09:00-17:00",
                    min_notice_minutes="1440")
    config = settings_for(db_url, public_url="http://127.0.0.1:8080")
    async with app_client(config, clock) as client:
        manage = await book_last(client, s.tokens[0], "Europe/Amsterdam")
        first = slots_on(await (await client.get(f"{manage}/move")).text())[0]
        assert first == datetime(2026, 11, 26, 10, tzinfo=UTC)  # Thursday 11:00: 24 hours and half a second ahead
        clock.advance(seconds=1)  # the coachee clicks a second later: now it is too soon
        response = await reschedule(client, manage, first, "Europe/Amsterdam")
        page = await response.text()
        assert response.status == 400 and "Dit tijdstip is te snel of al voorbij" in page, page  # Dutch engagement
        assert slots_on(page)[0] == first + timedelta(minutes=30)  # fresh times, from 11:30
        response = await reschedule(client, manage, first + timedelta(minutes=30), "Europe/Amsterdam")
        assert response.status == 303
