"""Invites and the coach's feed as the calendar programs read them: ical.js (Thunderbird)
and libical (Evolution and others) must put every session on the same local time that
ecoach promised, on both sides of every DST switch (Amsterdam's last Sundays of March and
October, New York's, Sydney's southern-hemisphere switch, Kolkata without DST), also in a
feed over three years; and every file keeps the rules Outlook and Google Calendar need
(see ``tests/calendar_clients.problems``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event

from ecoach.actions.booking import do_cancel, do_reschedule
from ecoach.actions.session_types import do_new_feed_token
from ecoach.logbook.booking_models import Booking
from tests.booking_support import SECRET, active_bookings, book, ctx, outbox, settings, setup
from tests.calendar_clients import Reading, problems, read_with_icaljs, read_with_libical
from tests.support import app_client, settings_for

UTC = timezone.utc
AMS = ZoneInfo("Europe/Amsterdam")
READERS = {"ical.js": read_with_icaljs, "libical": read_with_libical}
# Every session at 09:00 in Amsterdam, and the local time each coachee must see (checked
# by hand against the zones' rules): around the EU spring switch (28 March 2027), after
# Sydney's autumn switch (4 April), around the EU autumn switch (31 October) while New York
# is still on summer time (until 7 November).
SESSIONS = {
    datetime(2027, 3, 26, 9, tzinfo=AMS): {"America/New_York": "Fri 04:00", "Asia/Kolkata": "Fri 13:30",
                                           "Australia/Sydney": "Fri 19:00", "Europe/Amsterdam": "Fri 09:00"},
    datetime(2027, 3, 29, 9, tzinfo=AMS): {"America/New_York": "Mon 03:00", "Asia/Kolkata": "Mon 12:30",
                                           "Australia/Sydney": "Mon 18:00", "Europe/Amsterdam": "Mon 09:00"},
    datetime(2027, 4, 5, 9, tzinfo=AMS): {"America/New_York": "Mon 03:00", "Asia/Kolkata": "Mon 12:30",
                                          "Australia/Sydney": "Mon 17:00", "Europe/Amsterdam": "Mon 09:00"},
    datetime(2027, 10, 29, 9, tzinfo=AMS): {"America/New_York": "Fri 03:00", "Asia/Kolkata": "Fri 12:30",
                                            "Australia/Sydney": "Fri 18:00", "Europe/Amsterdam": "Fri 09:00"},
    datetime(2027, 11, 1, 9, tzinfo=AMS): {"America/New_York": "Mon 04:00", "Asia/Kolkata": "Mon 13:30",
                                           "Australia/Sydney": "Mon 19:00", "Europe/Amsterdam": "Mon 09:00"},
}
# Long names with letters of several octets: folded lines must stay within 75 octets.
COACHEE = "Zoë Ørsted-Ñúñez van der Śliwińska 🌷 (met een heel lange naam)"
SESSION_TYPE = "Coachinggesprek — één uur, online 🎧"


def shown(instant: datetime, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%a %H:%M")


def calendar_parts(raw: bytes) -> tuple[str, bytes, bytes]:
    """(method parameter, text/calendar alternative, invite.ics attachment) of a mail."""
    message = message_from_bytes(raw, policy=default_policy)
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    [attachment] = [p for p in message.iter_attachments() if p.get_filename() == "invite.ics"]
    return part.get_param("method"), part.get_payload(decode=True), attachment.get_payload(decode=True)


def read_everywhere(files: list[Path]) -> dict[str, dict[Path, Reading]]:
    return {name: reader(files) for name, reader in READERS.items()}


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata", "Australia/Sydney", "Europe/Amsterdam"])
async def test_invites_updates_and_cancellation_show_the_promised_local_time_in_every_client(
        sessions, make_coach, make_engagement, clock, db_url, tmp_path, zone) -> None:  # type: ignore[no-untyped-def]
    s = await setup(sessions, make_coach, make_engagement, clock.now(), horizon_days="730", name=SESSION_TYPE,
                    min_notice_minutes="0")
    async with sessions() as session:
        await _rename_coachee(session, s.engagement_ids[0], zone)
        await session.commit()
    context = ctx(settings(db_url, mail=True), clock.now())
    [first, *moves] = [start.astimezone(UTC) for start in SESSIONS]
    booking = (await book(sessions, context, s.tokens[0], s.type_id, first, zone=zone)).booking
    for start in moves:
        async with sessions() as session:
            await do_reschedule(session, context, await session.get(Booking, booking.id), start, by="coachee")
            await session.commit()
    async with sessions() as session:
        await do_cancel(session, context, await session.get(Booking, booking.id), by="coachee")
        await session.commit()

    mails = [m for m in await outbox(sessions) if m.recipient == "coachee0@example.org"]
    assert len(mails) == len(SESSIONS) + 1  # booked, four moves, cancelled
    files, methods = [], []
    for n, mail in enumerate(mails):
        method, alternative, attachment = calendar_parts(mail.raw)
        assert alternative.replace(b"\r\n", b"\n") == attachment.replace(b"\r\n", b"\n")
        assert problems(attachment, method=method) == []
        files.append(tmp_path / f"{n}.ics")
        files[-1].write_bytes(attachment)
        methods.append(method)
        text = message_from_bytes(mail.raw, policy=default_policy).get_body(("plain",)).get_content()
        expected = list(SESSIONS.values())[min(n, len(SESSIONS) - 1)][zone]
        assert f"{expected[-5:]}–" in text  # the mail's own text promises the same time
    assert methods == ["REQUEST"] * len(SESSIONS) + ["CANCEL"]

    starts = list(SESSIONS) + [list(SESSIONS)[-1]]  # the cancellation names the last time
    for reader, readings in read_everywhere(files).items():
        sequences = []
        for path, method, start in zip(files, methods, starts):
            reading = readings[path]
            assert (reader, reading.method, reading.errors) == (reader, method, [])
            [event] = reading.events
            assert (reader, event.uid) == (reader, booking.uid)
            assert (reader, shown(event.start, zone)) == (reader, SESSIONS[start][zone])
            assert event.end - event.start == timedelta(hours=1)
            assert event.status == ("CANCELLED" if method == "CANCEL" else "CONFIRMED")
            assert event.organizer == f"mailto:{s.coach.email}" and event.attendees == ("mailto:coachee0@example.org",)
            sequences.append(event.sequence)
        assert sequences == list(range(len(files))), reader  # every update outranks the one before


async def _rename_coachee(session, engagement_id: int, zone: str) -> None:  # type: ignore[no-untyped-def]
    from ecoach.logbook.models import Coachee, Engagement

    engagement = await session.get(Engagement, engagement_id)
    engagement.time_zone = zone
    coachee = await session.get(Coachee, engagement.coachee_id)
    coachee.name = COACHEE


# The coach's feed over three calendar years: sessions either side of each switch, and
# the hour that does not exist / happens twice (in UTC, then as Amsterdam shows it).
FEED = {
    datetime(2026, 12, 14, 8, tzinfo=UTC): "Mon 14 Dec 2026 09:00",
    datetime(2027, 3, 28, 0, 30, tzinfo=UTC): "Sun 28 Mar 2027 01:30",  # ends 03:30: 02:00-03:00 does not exist
    datetime(2027, 3, 28, 1, 30, tzinfo=UTC): "Sun 28 Mar 2027 03:30",
    datetime(2027, 7, 12, 7, tzinfo=UTC): "Mon 12 Jul 2027 09:00",
    datetime(2027, 10, 31, 0, 30, tzinfo=UTC): "Sun 31 Oct 2027 02:30",  # 02:30 summer time ...
    datetime(2027, 10, 31, 1, 30, tzinfo=UTC): "Sun 31 Oct 2027 02:30",  # ... and 02:30 winter time
    datetime(2028, 3, 24, 8, tzinfo=UTC): "Fri 24 Mar 2028 09:00",
    datetime(2028, 3, 27, 7, tzinfo=UTC): "Mon 27 Mar 2028 09:00",
    datetime(2028, 8, 14, 7, tzinfo=UTC): "Mon 14 Aug 2028 09:00",
    datetime(2028, 10, 29, 1, 30, tzinfo=UTC): "Sun 29 Oct 2028 02:30",
    datetime(2028, 10, 30, 8, tzinfo=UTC): "Mon 30 Oct 2028 09:00",
}


async def test_a_feed_over_three_years_shows_every_session_at_its_time_in_every_client(
        sessions, make_coach, make_engagement, clock, db_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = await setup(sessions, make_coach, make_engagement, clock.now(), windows="mon-sun 00:00-00:00",
                    horizon_days="730", min_notice_minutes="0", name=SESSION_TYPE)
    context = ctx(settings(db_url), clock.now())
    for start in FEED:
        await book(sessions, context, s.tokens[0], s.type_id, start)
    async with sessions() as session:
        token = await do_new_feed_token(session, s.coach, now=clock.now(), secret=SECRET)
        await session.commit()
    async with app_client(settings_for(db_url), clock) as client:  # the same secret key as SECRET
        response = await client.get(f"/calendar/{token}.ics")
        assert response.status == 200 and response.content_type == "text/calendar"
        body = await response.read()
    assert problems(body, method=None) == []
    path = tmp_path / "feed.ics"
    path.write_bytes(body)
    uids = {b.uid: b.starts_at for b in await active_bookings(sessions)}
    for reader, readings in read_everywhere([path]).items():
        reading = readings[path]
        assert (reader, reading.method, reading.errors) == (reader, None, [])
        seen = sorted((e.start, e.end, e.uid) for e in reading.events)
        assert [(reader, start) for start, _, _ in seen] == [(reader, start) for start in FEED]
        assert all(uids[uid] == start and end - start == timedelta(hours=1) for start, end, uid in seen)
        assert [start.astimezone(AMS).strftime("%a %d %b %Y %H:%M") for start, _, _ in seen] == list(FEED.values())


def _zoned_calendar(starts: list[datetime]) -> bytes:
    """What ecoach wrote before: local times with a TZID and icalendar's own VTIMEZONE."""
    calendar = Calendar()
    calendar.add("prodid", "-//test//EN")
    calendar.add("version", "2.0")
    for n, start in enumerate(starts):
        event = Event()
        event.add("uid", f"s{n}@test")
        event.add("dtstamp", datetime(2026, 11, 25, tzinfo=UTC))
        event.add("dtstart", start.astimezone(AMS))
        event.add("dtend", (start + timedelta(hours=1)).astimezone(AMS))
        calendar.add_component(event)
    calendar.add_missing_timezones(first_date=starts[0].date() - timedelta(days=366),
                                   last_date=starts[-1].date() + timedelta(days=366))
    return calendar.to_ical()


def test_why_times_are_written_in_utc(tmp_path: Path) -> None:
    """The findings that made ecoach write UTC: a local time with icalendar's VTIMEZONE is
    misread by ical.js after the first year, cannot tell the two 02:30s of an autumn night
    apart in either parser, and has dated observances that Outlook misreads."""
    starts = [datetime(2026, 12, 14, 8, tzinfo=UTC), datetime(2027, 7, 12, 7, tzinfo=UTC),
              datetime(2027, 10, 31, 0, 30, tzinfo=UTC), datetime(2027, 10, 31, 1, 30, tzinfo=UTC),
              datetime(2028, 8, 14, 7, tzinfo=UTC)]
    path = tmp_path / "zoned.ics"
    path.write_bytes(_zoned_calendar(starts))
    assert any("Outlook misreads observances" in p for p in problems(path.read_bytes(), method=None))
    for reader, readings in read_everywhere([path]).items():
        seen = [e.start for e in sorted(readings[path].events, key=lambda e: e.uid)]
        assert seen[2] == seen[3], reader  # two sessions, one instant: one is an hour off
        if reader == "ical.js":  # reads only the first date of a multi-date RDATE line
            assert seen[4] == starts[4] + timedelta(hours=1)
