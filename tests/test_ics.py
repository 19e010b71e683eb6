"""Calendar invites: every invite, update and cancellation parses with icalendar, keeps its
UID, increments SEQUENCE and carries the right UTC instants; mailed through the outbox.
(How the calendar programs themselves read them: tests/test_calendar_clients.py.)"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from icalendar import Calendar

from ecoach.actions.booking import do_cancel, do_reschedule
from ecoach.actions.session_types import do_save_profile
from ecoach.core.ics import CalendarEvent, feed, invite
from ecoach.logbook.booking_models import Booking
from tests.booking_support import book, calendar_of, ctx, outbox, settings, setup
from tests.moments import next_weekday

UTC = timezone.utc
STAMP = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def event(start: datetime, **changes) -> CalendarEvent:  # type: ignore[no-untyped-def]
    fields = dict(uid="b1@coach.test", sequence=0, start=start, end=start + timedelta(hours=1),
                  title="Coaching: Sanne", description="Join: https://meet.jit.si/abc",
                  location="https://meet.jit.si/abc", url="https://meet.jit.si/abc", organizer_name="Marieke Bos",
                  organizer_email="marieke@example.org", attendee_name="Sanne", attendee_email="sanne@example.org",
                  stamp=STAMP)
    fields.update(changes)
    return CalendarEvent(**fields)  # type: ignore[arg-type]


def only_event(calendar: Calendar):  # type: ignore[no-untyped-def]
    [vevent] = calendar.walk("VEVENT")
    return vevent


def test_request_and_cancel_parse_with_the_right_instants_on_both_sides_of_dst() -> None:
    for start in (datetime(2026, 10, 23, 7, tzinfo=UTC), datetime(2026, 10, 26, 8, tzinfo=UTC)):  # both 09:00 local
        text = invite(event(start)).decode()
        calendar = Calendar.from_ical(text)
        assert calendar["METHOD"] == "REQUEST"
        assert calendar.walk("VTIMEZONE") == [] and "TZID" not in text  # UTC times need no zone
        vevent = only_event(calendar)
        assert vevent.decoded("DTSTART") == start and vevent.decoded("DTSTART").tzinfo is not None
        assert f"DTSTART:{start:%Y%m%dT%H%M%S}Z" in text
        assert vevent.decoded("DTEND") == start + timedelta(hours=1)
        assert str(vevent["UID"]) == "b1@coach.test" and vevent.decoded("SEQUENCE") == 0
        assert str(vevent["ORGANIZER"]) == "mailto:marieke@example.org"
        assert str(vevent["ATTENDEE"]) == "mailto:sanne@example.org"
        assert vevent["ATTENDEE"].params["CN"] == "Sanne"
        assert str(vevent["LOCATION"]) == str(vevent["URL"]) == "https://meet.jit.si/abc"
        assert vevent["STATUS"] == "CONFIRMED"
    cancel = Calendar.from_ical(invite(event(start, sequence=2), "CANCEL"))
    assert cancel["METHOD"] == "CANCEL"
    vevent = only_event(cancel)
    assert vevent["STATUS"] == "CANCELLED" and vevent.decoded("SEQUENCE") == 2
    assert str(vevent["UID"]) == "b1@coach.test"


def test_the_autumn_hour_that_happens_twice_stays_two_instants() -> None:
    """02:30 on 25 October 2026 happens twice in Amsterdam: two sessions, two instants."""
    first, second = datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    seen = [only_event(Calendar.from_ical(invite(event(start)))).decoded("DTSTART") for start in (first, second)]
    assert seen == [first, second]


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        invite(event(datetime(2026, 12, 1, 9)))


def test_feed_has_no_method_and_lists_every_event() -> None:
    items = [event(datetime(2026, 12, d, 9, tzinfo=UTC), uid=f"b{d}@coach.test") for d in (1, 2, 3)]
    calendar = Calendar.from_ical(feed(items, "ecoach: Marieke Bos"))
    assert "METHOD" not in calendar
    assert calendar["X-WR-CALNAME"] == "ecoach: Marieke Bos"
    assert [str(e["UID"]) for e in calendar.walk("VEVENT")] == ["b1@coach.test", "b2@coach.test", "b3@coach.test"]
    assert Calendar.from_ical(feed([], "empty")).walk("VEVENT") == []


@pytest.mark.awkward_clock
async def test_invites_updates_and_cancellations_through_the_outbox(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    config = settings(db_url, mail=True)
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    context = ctx(config, clock.now())
    ten = next_weekday(clock, 0, 10, after=timedelta(days=2))  # a Monday 10:00 in Amsterdam, past the notice
    eleven = ten + timedelta(hours=1)  # the same Monday (never a day the clocks change)
    outcome = await book(sessions, context, s.tokens[0], s.type_id, ten, zone="America/New_York")
    booking = outcome.booking
    async with sessions() as session:
        await do_reschedule(session, context, await session.get(Booking, booking.id), eleven, by="coachee")
        await session.commit()
    async with sessions() as session:
        await do_cancel(session, context, await session.get(Booking, booking.id), by="coach")
        await session.commit()
    mails = await outbox(sessions)
    assert [m.recipient for m in mails] == [s.coach.email if i % 2 else "coachee0@example.org" for i in range(6)]
    assert {m.kind for m in mails} == {"invite"}
    seen = []
    for mail in mails:
        method, calendar = calendar_of(mail.raw)
        assert calendar["METHOD"] == method
        vevent = only_event(calendar)
        seen.append((method, vevent.decoded("SEQUENCE"), vevent.decoded("DTSTART").astimezone(UTC)))
        assert str(vevent["UID"]) == booking.uid
        assert str(vevent["URL"]) == str(vevent["LOCATION"]) == booking.meeting_url
        if method == "REQUEST":
            assert booking.meeting_url in str(vevent["DESCRIPTION"])
        assert str(vevent["ORGANIZER"]) == f"mailto:{s.coach.email}"
        assert str(vevent["ATTENDEE"]) == "mailto:coachee0@example.org"
    assert seen == [("REQUEST", 0, ten)] * 2 + [("REQUEST", 1, eleven)] * 2 + [("CANCEL", 2, eleven)] * 2
    coachee_text = message_from_bytes(mails[0].raw, policy=default_policy).get_body(("plain",)).get_content()
    assert coachee_text.startswith("Je Coaching session met Coach 1 is geboekt.")  # the coachee's language
    assert f"/booking/{outcome.manage_token}" in coachee_text
    assert "America/New_York" in coachee_text  # the coachee reads times in their own zone


@pytest.mark.awkward_clock
async def test_phone_sessions_carry_a_tel_link(sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    config = settings(db_url, mail=True)
    s = await setup(sessions, make_coach, make_engagement, clock.now(), channel="phone", name="Belsessie")
    async with sessions() as session:
        await do_save_profile(session, s.coach, {"video_provider": "template", "phone_number": "+31 6 1234 5678"},
                              clock.now())
        await session.commit()
    booking = (await book(sessions, ctx(config, clock.now()), s.tokens[0], s.type_id,
                          next_weekday(clock, 0, 10, after=timedelta(days=2)))).booking
    assert (booking.meeting_url, booking.location) == ("tel:+31612345678", "+31 6 1234 5678")
    _method, calendar = calendar_of((await outbox(sessions))[0].raw)
    vevent = only_event(calendar)
    assert str(vevent["URL"]) == "tel:+31612345678" and str(vevent["LOCATION"]) == "+31 6 1234 5678"
