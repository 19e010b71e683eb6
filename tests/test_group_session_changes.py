"""Cancelling and moving a group session, on both databases: the same booking (one UID)
is cancelled (its time is free again) or moved; every member who got the session hears of
it in their own timeline, language and zone (nl and en), and each with an e-mail address
gets an iCalendar CANCEL or REQUEST with the same UID and a higher SEQUENCE; the group's
conversation says it; a member who joined later hears nothing; a cancelled or begun
session cannot be changed again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ecoach.actions.booking_notices import TIMELINE
from ecoach.actions.errors import ActionError, Conflict
from ecoach.actions.group_session_changes import (
    check_group_booking,
    do_cancel_group_session,
    do_move_group_session,
)
from ecoach.actions.group_sessions import do_book_group_session
from ecoach.actions.groups import do_add_group_member
from ecoach.core.i18n import gettext_for
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.group_models import CoachingGroup, GroupMessage
from ecoach.logbook.models import Exchange
from tests.booking_support import calendar_of, ctx, outbox, settings
from tests.group_support import group_with_session_type
from tests.moments import next_weekday

PEOPLE = [("Sanne", "sanne@example.org", "nl", "Europe/Amsterdam"),
          ("Ahmed", "ahmed@example.org", "en", "America/New_York"),
          ("Noor", "", "nl", "Europe/Amsterdam")]


async def _booked(sessions, make_coach, make_engagement, clock, db_url):  # type: ignore[no-untyped-def]
    """A group of three (two with an address) and one session booked for it, committed."""
    coach = await make_coach(email="groupcoach@example.org", language="nl")
    made = {name: await make_engagement(coach, coachee_name=name, coachee_email=email, language=language,
                                        time_zone=zone, secret="test-secret-key")
            for name, email, language, zone in PEOPLE}
    context = ctx(settings(db_url, mail=True), clock.now())
    async with sessions() as session:
        item, group = await group_with_session_type(session, coach, [c.engagement.id for c in made.values()],
                                                    clock.now())
        await session.commit()
    start = next_weekday(clock, 0, 10, after=timedelta(days=2))
    async with sessions() as session:
        group = await session.get(CoachingGroup, group.id)
        booking, _told = await do_book_group_session(session, context, coach, group, type_id=item.id,
                                                     start=start.isoformat())
        await session.commit()
    return coach, made, context, item, group.id, booking.id, start


def _member_notice(rows, engagement_id: int, event: str):  # type: ignore[no-untyped-def]
    return [r for r in rows if r.engagement_id == engagement_id and (r.meta or {}).get("event") == event]


async def _invites(sessions, method: str):  # type: ignore[no-untyped-def]
    found = []
    for mail in await outbox(sessions):
        if mail.kind != "invite":
            continue
        got, calendar = calendar_of(mail.raw)
        if got == method:
            [event] = calendar.walk("VEVENT")
            found.append((mail.recipient, event))
    return found


@pytest.mark.awkward_clock
async def test_cancel_tells_every_member_frees_the_slot_and_sends_a_cancel(  # type: ignore[no-untyped-def]
        sessions, make_coach, make_engagement, clock, db_url) -> None:
    coach, made, context, item, gid, bid, start = await _booked(sessions, make_coach, make_engagement, clock, db_url)
    late = await make_engagement(coach, coachee_name="Kim", coachee_email="kim@example.org", language="en",
                                 secret="test-secret-key")
    async with sessions() as session:
        group = await session.get(CoachingGroup, gid)
        await do_add_group_member(session, coach, group, late.engagement.id, now=clock.now())  # after the booking
        await session.commit()
    async with sessions() as session:
        group = await session.get(CoachingGroup, gid)
        booking = await check_group_booking(session, group, str(bid))
        told = await do_cancel_group_session(session, context, coach, group, booking)
        await session.commit()
    assert told == 3  # Sanne, Ahmed, Noor; Kim never had it
    async with sessions() as session:
        booking = await session.get(Booking, bid)
        assert booking.status == "cancelled" and booking.sequence == 1 and booking.cancelled_by == "coach"
        rows = list((await session.execute(select(Exchange))).scalars())
        said = [m.body_text for m in (await session.execute(select(GroupMessage))).scalars()]
    for name, _email, language, zone in PEOPLE:
        [notice] = _member_notice(rows, made[name].engagement.id, "cancelled")
        assert zone in notice.body_text  # the member's own zone
        word = {"nl": "afgezegd", "en": "cancelled"}[language]
        assert word in notice.body_text and item.name in notice.body_text
    assert gettext_for("nl")(TIMELINE["cancelled"]) != TIMELINE["cancelled"]  # the Dutch text exists
    assert _member_notice(rows, late.engagement.id, "cancelled") == []
    assert any("afgezegd" in text for text in said)  # the group's language
    cancels = await _invites(sessions, "CANCEL")
    assert sorted(r for r, _e in cancels) == ["ahmed@example.org", "sanne@example.org"]
    [(_r, first)] = [(r, e) for r, e in await _invites(sessions, "REQUEST") if r == "sanne@example.org"]
    for _recipient, event in cancels:
        assert str(event["uid"]) == str(first["uid"]) == booking.uid
        assert int(event["sequence"]) == 1 > int(first["sequence"]) == 0
        assert str(event["status"]) == "CANCELLED"
    async with sessions() as session:  # the time is free again: another group session takes it
        group = await session.get(CoachingGroup, gid)
        again, _n = await do_book_group_session(session, ctx(settings(db_url), clock.now()), coach, group,
                                                type_id=item.id, start=start.isoformat())
        await session.commit()
        assert again.id != bid
    async with sessions() as session:  # cancelled already: a clear conflict, nothing sent again
        group = await session.get(CoachingGroup, gid)
        booking = await check_group_booking(session, group, str(bid))
        with pytest.raises(Conflict) as refused:
            await do_cancel_group_session(session, context, coach, group, booking)
        assert refused.value.code == "booking_not_active"


@pytest.mark.awkward_clock
async def test_move_keeps_the_booking_and_sends_an_update(  # type: ignore[no-untyped-def]
        sessions, make_coach, make_engagement, clock, db_url) -> None:
    coach, made, context, item, gid, bid, start = await _booked(sessions, make_coach, make_engagement, clock, db_url)
    later = start + timedelta(days=1)
    async with sessions() as session:
        group = await session.get(CoachingGroup, gid)
        booking = await check_group_booking(session, group, bid)
        uid = booking.uid
        told = await do_move_group_session(session, context, coach, group, booking, start=later.isoformat())
        await session.commit()
    assert told == 3
    async with sessions() as session:
        booking = await session.get(Booking, bid)
        assert booking.status == "confirmed" and booking.starts_at == later and booking.sequence == 1
        assert booking.uid == uid
        rows = list((await session.execute(select(Exchange))).scalars())
    for name, _email, language, zone in PEOPLE:
        [notice] = _member_notice(rows, made[name].engagement.id, "rescheduled")
        word = {"nl": "verplaatst", "en": "moved"}[language]
        assert zone in notice.body_text
        assert word in notice.body_text and booking.meeting_url in notice.body_text
    updates = [(r, e) for r, e in await _invites(sessions, "REQUEST") if int(e["sequence"]) == 1]
    assert sorted(r for r, _e in updates) == ["ahmed@example.org", "sanne@example.org"]
    for _recipient, event in updates:
        assert str(event["uid"]) == uid and event.decoded("dtstart") == later
    async with sessions() as session:  # a time that is not free, or no time at all: clear 4xx
        group = await session.get(CoachingGroup, gid)
        booking = await check_group_booking(session, group, bid)
        for bad in ("not a time", (later + timedelta(hours=12)).isoformat()):
            with pytest.raises(ActionError) as refused:
                await do_move_group_session(session, context, coach, group, booking, start=bad)
            assert 400 <= refused.value.status < 500
        await session.rollback()


@pytest.mark.awkward_clock
async def test_a_begun_session_cannot_be_changed(sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    coach, _made, context, _item, gid, bid, start = await _booked(sessions, make_coach, make_engagement, clock,
                                                                  db_url)
    clock.set(start + timedelta(minutes=5))
    later = ctx(context.settings, clock.now())
    async with sessions() as session:
        group = await session.get(CoachingGroup, gid)
        booking = await check_group_booking(session, group, bid)
        with pytest.raises(Conflict) as refused:
            await do_cancel_group_session(session, later, coach, group, booking)
        assert refused.value.code == "booking_started"
        with pytest.raises(ActionError):
            await check_group_booking(session, group, "99999")
