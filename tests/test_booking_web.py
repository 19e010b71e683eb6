"""The booking pages in-process on both databases: zones, booking, bad input, the coach's
pages, isolation between coaches, intake requests and the calendar feed."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from ecoach.logbook.booking_models import Booking
from ecoach.logbook.models import Exchange
from tests.booking_support import ams, count, exchanges, monday_ahead, setup
from tests.support import app_client, csrf_of, login, settings_for


def wall(at: datetime, zone: str) -> str:
    """``at`` as the booking pages show it in ``zone`` (24-hour HH:MM)."""
    return f"{at.astimezone(ZoneInfo(zone)):%H:%M}"


def booking_settings(db_url: str, **extra):  # type: ignore[no-untyped-def]
    return settings_for(db_url, public_url="http://127.0.0.1:8080", **extra)


async def book_via_form(client, token: str, type_id: int, start, zone: str = "Europe/Amsterdam"):  # type: ignore[no-untyped-def]
    # The pick step has no form (slots are links); any page of the session gives its token.
    await client.get(f"/book/{token}?zone={quote(zone)}")
    csrf = await csrf_of(client, "/login")
    return await client.post(f"/book/{token}", data={"_csrf": csrf, "type": str(type_id), "zone": zone,
                                                     "start": start.isoformat()}, allow_redirects=False)


@pytest.mark.awkward_clock
async def test_private_page_shows_times_in_the_bookers_zone_with_the_coachs(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    async with app_client(booking_settings(db_url), clock) as client:
        page = await (await client.get(f"/book/{s.tokens[0]}?zone=America/New_York")).text()
        assert 'lang="nl"' in page and "America/New_York" in page
        # Monday 09:00 in Amsterdam is 03:00 in New York (in winter, and in summer once both
        # have switched); the coach's time in small print.
        nine = ams(monday, 9)
        start = re.escape(nine.isoformat())
        assert re.search(rf'data-start="{start}"><span[^>]*>[^<]*</span>{wall(nine, "America/New_York")} '
                         r'<small class="coach-time"><span[^>]*>[^<]*</span>09:00<', page)
        page = await (await client.get(f"/book/{s.tokens[0]}?zone=Asia/Kolkata")).text()
        assert re.search(rf'data-start="{start}"><span[^>]*>[^<]*</span>{wall(nine, "Asia/Kolkata")} <small', page)
        page = await (await client.get(f"/book/{s.tokens[0]}?zone=Not/AZone")).text()
        assert re.search(rf'data-start="{start}"><span[^>]*>[^<]*</span>09:00</a>', page)  # no second time
        assert 'name="viewport"' in page


@pytest.mark.awkward_clock
async def test_book_then_manage_and_the_coach_sees_it(sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    async with app_client(booking_settings(db_url), clock) as client:
        response = await book_via_form(client, s.tokens[0], s.type_id, ams(monday, 10), "America/New_York")
        assert response.status == 303, await response.text()
        manage = response.headers["Location"]
        assert manage.startswith("/booking/") and "zone=America/New_York" in manage
        page = await (await client.get(manage)).text()
        assert "Je sessie is geboekt" in page or "Your session is booked" in page
        assert wall(ams(monday, 10), "America/New_York") in page and "https://meet.jit.si/ecoach" in page
    async with app_client(booking_settings(db_url), clock) as coach:
        await login(coach, s.coach.email)
        page = await (await coach.get(f"/engagements/{s.engagement_ids[0]}")).text()
        assert 'id="sessions"' in page and "/sessions/bookings/" in page
        assert "meet.jit.si/ecoach" in page  # in the timeline and the panel
        overview = await (await coach.get("/sessions")).text()
        assert "Coachee 1" in overview and "10:00" in overview


@pytest.mark.awkward_clock
async def test_bad_input_gives_a_clear_message_and_stores_nothing(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    s = await setup(sessions, make_coach, make_engagement, clock.now(), horizon_days="14")
    async with app_client(booking_settings(db_url), clock) as client:
        response = await book_via_form(client, s.tokens[0], s.type_id, ams(monday, 10, 17))
        assert response.status == 400
        page = await response.text()
        assert 'id="booking-error"' in page and 'class="slot"' in page  # the reason, and fresh times
        response = await book_via_form(client, s.tokens[0], s.type_id, ams(monday + timedelta(days=60), 10))
        assert response.status == 400 and "14" in await response.text()
        csrf = await csrf_of(client, "/login")
        response = await client.post(f"/book/{s.tokens[0]}", data={"_csrf": csrf, "type": str(s.type_id),
                                                                    "zone": "UTC", "start": "tomorrow"})
        assert response.status == 400
        tampered = s.tokens[0][:-3] + "xyz"
        response = await client.get(f"/book/{tampered}")
        assert response.status == 404 and "error-message" in await response.text()
        response = await client.get("/booking/not-a-real-token-at-all-0000000")
        assert response.status == 404
        response = await client.post(f"/book/{s.tokens[0]}", data={"type": str(s.type_id), "zone": "UTC",
                                                                    "start": ams(monday, 10).isoformat()})
        assert response.status == 403  # no CSRF token
    assert await count(sessions, Booking) == 0 and await count(sessions, Exchange) == 0


async def test_coach_pages_only_show_the_coachs_own_sessions(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    other = await make_coach(email="other@example.org")
    async with app_client(booking_settings(db_url), clock) as client:
        await book_via_form(client, s.tokens[0], s.type_id, ams(monday, 10))
    async with sessions() as session:
        [booking] = (await session.execute(Booking.__table__.select())).all()
    async with app_client(booking_settings(db_url), clock) as intruder:
        await login(intruder, other.email)
        assert (await intruder.get(f"/sessions/bookings/{booking.id}/reschedule")).status == 404
        csrf = await csrf_of(intruder, "/sessions")
        response = await intruder.post(f"/sessions/bookings/{booking.id}/cancel", data={"_csrf": csrf})
        assert response.status == 404
        response = await intruder.post(f"/engagements/{s.engagement_ids[0]}/booking-link", data={"_csrf": csrf})
        assert response.status == 404
        assert "Coachee 1" not in await (await intruder.get("/sessions")).text()
    async with sessions() as session:
        assert (await session.get(Booking, booking.id)).status == "confirmed"


async def test_session_types_and_place_from_the_coachs_page(sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    coach = await make_coach()
    async with app_client(booking_settings(db_url), clock) as client:
        await login(client, coach.email)
        csrf = await csrf_of(client, "/sessions")
        form = {"_csrf": csrf, "name": "Intake", "channel": "in_person", "address": "", "duration_minutes": "45",
                "buffer_before_minutes": "0", "buffer_after_minutes": "15", "min_notice_minutes": "60",
                "max_per_day": "2", "horizon_days": "30", "availability": "sessions", "intake": "on"}
        response = await client.post("/sessions/types", data=form, allow_redirects=False)
        assert response.status == 400 and "adres" in (await response.text()).lower()
        response = await client.post("/sessions/types", data={**form, "address": "Keizersgracht 1, Amsterdam"},
                                     allow_redirects=False)
        assert response.status == 303
        response = await client.post("/sessions/types", data={**form, "duration_minutes": "9999"})
        assert response.status == 400
        response = await client.post("/sessions/profile", data={"_csrf": csrf, "video_provider": "personal",
                                                                "personal_room_url": "javascript:alert(1)"})
        assert response.status == 400
        response = await client.post("/sessions/profile", data={"_csrf": csrf, "video_provider": "personal",
                                                                "personal_room_url": "https://zoom.example/j/1"},
                                     allow_redirects=False)
        assert response.status == 303
        page = await (await client.get("/sessions")).text()
        assert "Keizersgracht 1, Amsterdam" in page and "https://zoom.example/j/1" in page


@pytest.mark.awkward_clock
async def test_public_intake_request_and_acceptance(sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    s = await setup(sessions, make_coach, make_engagement, clock.now(), intake=True)
    start = ams(monday, 11)
    async with app_client(booking_settings(db_url), clock) as client:
        page = await (await client.get(f"/book/{s.public_token}?zone=Europe/London",
                                       headers={"Accept-Language": "en"})).text()
        assert 'lang="en"' in page and f'start={quote(start.isoformat(), safe="")}' in page
        url = f"/book/{s.public_token}?type={s.type_id}&zone=Europe/London&start={quote(start.isoformat())}"
        page = await (await client.get(url, headers={"Accept-Language": "en"})).text()
        assert 'class="stacked intake-form"' in page and wall(start, "Europe/London") in page
        csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
        response = await client.post(f"/book/{s.public_token}", headers={"Accept-Language": "en"}, data={
            "_csrf": csrf, "type": str(s.type_id), "zone": "Europe/London", "start": start.isoformat(),
            "name": "Noor", "email": "not an address", "message": "Hallo"})
        assert response.status == 400 and 'value="Noor"' in await response.text()
        response = await client.post(f"/book/{s.public_token}", headers={"Accept-Language": "en"}, data={
            "_csrf": csrf, "type": str(s.type_id), "zone": "Europe/London", "start": start.isoformat(),
            "name": "Noor", "email": "noor@example.org", "message": "Hallo"}, allow_redirects=False)
        assert response.status == 303
    async with app_client(booking_settings(db_url), clock) as coach:
        await login(coach, s.coach.email)
        page = await (await coach.get("/sessions")).text()
        assert "Noor" in page and "Hallo" in page
        [booking_id] = re.findall(r'/sessions/requests/(\d+)/accept', page)
        csrf = await csrf_of(coach, "/sessions")
        response = await coach.post(f"/sessions/requests/{booking_id}/accept", data={"_csrf": csrf},
                                     allow_redirects=False)
        assert response.status == 303
        inbox = await (await coach.get("/")).text()
        assert "Noor" in inbox


@pytest.mark.awkward_clock
async def test_calendar_feed_follows_bookings_and_its_secret(sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    async with app_client(booking_settings(db_url), clock) as coach:
        await login(coach, s.coach.email)
        csrf = await csrf_of(coach, "/sessions")
        await coach.post("/sessions/feed", data={"_csrf": csrf})
        old_url = re.search(r'value="(http[^"]+\.ics)"', await (await coach.get("/sessions")).text()).group(1)
        await coach.post("/sessions/feed", data={"_csrf": csrf})
        new_url = re.search(r'value="(http[^"]+\.ics)"', await (await coach.get("/sessions")).text()).group(1)
        assert new_url != old_url
        assert (await coach.get(old_url.replace("http://127.0.0.1:8080", ""))).status == 404
        feed_path = new_url.replace("http://127.0.0.1:8080", "")
        empty = Calendar.from_ical(await (await coach.get(feed_path)).read())
        assert empty.walk("VEVENT") == []
        await book_via_form(coach, s.tokens[0], s.type_id, ams(monday, 10))
        response = await coach.get(feed_path)
        assert response.content_type == "text/calendar"
        [event] = Calendar.from_ical(await response.read()).walk("VEVENT")
        assert event.decoded("DTSTART").astimezone(ams(monday, 10).tzinfo) == ams(monday, 10)
        async with sessions() as session:
            [booking_id] = [row.id for row in (await session.execute(Booking.__table__.select())).all()]
        csrf = await csrf_of(coach, f"/engagements/{s.engagement_ids[0]}")
        response = await coach.post(f"/sessions/bookings/{booking_id}/cancel", data={"_csrf": csrf},
                                    allow_redirects=False)
        assert response.status == 303
        assert Calendar.from_ical(await (await coach.get(feed_path)).read()).walk("VEVENT") == []


@pytest.mark.awkward_clock
async def test_coach_moves_a_session_from_the_engagement_page(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    async with app_client(booking_settings(db_url), clock) as client:
        await book_via_form(client, s.tokens[0], s.type_id, ams(monday, 10))
    async with sessions() as session:
        [booking] = (await session.execute(Booking.__table__.select())).all()
    async with app_client(booking_settings(db_url), clock) as coach:
        await login(coach, s.coach.email)
        page = await (await coach.get(f"/sessions/bookings/{booking.id}/reschedule")).text()
        assert f'data-start="{ams(monday, 10).isoformat()}"' not in page  # its own time is not offered
        csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
        response = await coach.post(f"/sessions/bookings/{booking.id}/reschedule",
                                    data={"_csrf": csrf, "start": ams(monday, 9, 17).isoformat()})
        assert response.status == 400 and 'id="booking-error"' in await response.text()
        response = await coach.post(f"/sessions/bookings/{booking.id}/reschedule",
                                    data={"_csrf": csrf, "start": ams(monday, 11).isoformat()}, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"].endswith("#sessions")
    async with sessions() as session:
        moved = await session.get(Booking, booking.id)
        assert moved.starts_at == ams(monday, 11) and moved.sequence == 1
    entries = await exchanges(sessions, s.engagement_ids[0])
    assert [(x.meta["event"], x.direction) for x in entries] == [("booked", "in"), ("rescheduled", "out")]
