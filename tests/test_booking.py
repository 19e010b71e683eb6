"""Booking through the real actions on SQLite and PostgreSQL: booking, the 20-way race
for one slot, the database's own guard, bad input, reschedule and cancel, intake
requests, reminders and "held" through the task runner, summaries."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from ecoach.actions.booking import do_cancel, do_reschedule
from ecoach.actions.booking_after import do_add_summary
from ecoach.actions.booking_offer import check_manage_token, check_slot, get_offer
from ecoach.actions.booking_requests import do_accept_request, do_decline_request
from ecoach.actions.errors import ActionError
from ecoach.actions.session_types import check_booking_link, do_new_booking_link
from ecoach.app import task_registry
from ecoach.logbook.booking_models import Booking, BookingLink, SessionType
from ecoach.logbook.models import Engagement, Exchange
from ecoach.scheduler.runner import TaskRunner
from tests.booking_support import (
    AMS,
    SECRET,
    active_bookings,
    add_day_off,
    ams,
    book,
    count,
    ctx,
    exchanges,
    monday_ahead,
    outbox,
    pending_tasks,
    settings,
    setup,
    within_notice,
)

# Every test books relative to its clock (``monday_ahead``); those whose outcome hangs on
# the time (reminders, notice, horizon, expiry, cut-off) also run at each awkward moment
# (Sunday 23:59, the DST hour, New Year's night). The others pass there too
# (ECOACH_TEST_AWKWARD_ALL=1) but would only repeat themselves.
H = timedelta(hours=1)


@pytest.mark.awkward_clock
async def test_book_a_follow_up_from_the_private_link(sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    outcome = await book(sessions, ctx(settings(db_url), clock.now()), s.tokens[0], s.type_id, ams(monday, 10),
                         zone="America/New_York")
    booking = outcome.booking
    assert booking.status == "confirmed" and booking.starts_at == ams(monday, 10)
    assert booking.ends_at - booking.starts_at == H
    assert booking.meeting_url.startswith("https://meet.jit.si/ecoach") and len(booking.meeting_url) > 40
    assert booking.attendee_time_zone == "America/New_York"
    [entry] = await exchanges(sessions, s.engagement_ids[0])
    assert (entry.channel, entry.direction, entry.author) == ("video", "in", "coachee")
    assert booking.meeting_url in entry.body_text and booking.meeting_url in entry.body_html
    assert entry.meta["booking_id"] == booking.id and entry.meta["event"] == "booked"
    assert await pending_tasks(sessions) == {
        f"booking-reminder:{booking.id}:1440": booking.starts_at - timedelta(hours=24),
        f"booking-reminder:{booking.id}:60": booking.starts_at - H,
        f"booking-held:{booking.id}": booking.ends_at,
    }
    async with sessions() as session:
        found = await check_manage_token(session, outcome.manage_token, clock.now())
        assert found.id == booking.id
    # Two sessions get two different rooms.
    other = await book(sessions, ctx(settings(db_url), clock.now()), s.tokens[0], s.type_id, ams(monday, 11))
    assert other.booking.meeting_url != booking.meeting_url


@pytest.mark.awkward_clock
async def test_a_session_booked_within_a_day_gets_only_the_reminders_still_ahead(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    # Whole days every day: the first whole hour at least two hours on is free at every
    # moment (on the DST night 05:00 CEST, booked at 01:30 CET, its reminder after the jump).
    s = await setup(sessions, make_coach, make_engagement, clock.now(), windows="mon-sun 00:00-00:00")
    start = within_notice(clock, hours=2)
    booking = (await book(sessions, ctx(settings(db_url), clock.now()), s.tokens[0], s.type_id, start)).booking
    assert booking.starts_at == start
    assert await pending_tasks(sessions) == {  # no 24-hour reminder in the past
        f"booking-reminder:{booking.id}:60": start - H,
        f"booking-held:{booking.id}": start + H,
    }


SWITCHES = {  # (a moment two days before, the instant the clocks change)
    "before the clocks go forward": (datetime(2027, 3, 26, 9, tzinfo=timezone.utc),
                                     datetime(2027, 3, 28, 1, tzinfo=timezone.utc)),
    "before the clocks go back": (datetime(2026, 10, 23, 8, tzinfo=timezone.utc),
                                  datetime(2026, 10, 25, 1, tzinfo=timezone.utc)),
}


@pytest.mark.parametrize("step", [45, 90])
@pytest.mark.parametrize("moment", list(SWITCHES), ids=list(SWITCHES))
async def test_a_step_that_does_not_divide_the_hour_keeps_the_local_grid_through_a_clock_change(
        sessions, make_coach, make_engagement, clock, db_url, moment, step) -> None:  # type: ignore[no-untyped-def]
    # Whole days every day: one open stretch through the night the clocks change. The page
    # stepped on in UTC and left the local grid there (00:15, 01:45, ... for 45 minutes),
    # while the check of a booking, which looks at the day around the asked time, started
    # on the grid: half the times offered more than a day after the change were refused.
    now, switch = SWITCHES[moment]
    clock.set(now)
    s = await setup(sessions, make_coach, make_engagement, clock.now(), windows="mon-sun 00:00-00:00",
                    horizon_days="4")
    async with sessions() as session:
        item = await session.get(SessionType, s.type_id)
        offer = await get_offer(session, item, now=clock.now(), step_minutes=step)
        later = [slot.start for slot in offer.slots if slot.start > switch + timedelta(days=1)]
        assert later
        for start in later[:4]:  # the server's own check of each, as under the agenda lock
            around = await get_offer(session, item, now=clock.now(), step_minutes=step, around=start)
            assert check_slot(around, start, clock.now()).start == start
    walls = [slot.start.astimezone(AMS) for slot in offer.slots]
    assert all((t.hour * 60 + t.minute) % step == 0 for t in walls)  # 03:00, 03:45, ... after the change too
    outcome = await book(sessions, ctx(settings(db_url, slot_step_minutes=step), clock.now()), s.tokens[0],
                         s.type_id, later[1])
    assert outcome.booking.starts_at == later[1]


async def test_twenty_simultaneous_requests_for_one_slot_make_one_booking(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    s = await setup(sessions, make_coach, make_engagement, clock.now(), engagements=20)
    context = ctx(settings(db_url), clock.now())
    slot = ams(monday, 10)
    results = await asyncio.gather(*(book(sessions, context, token, s.type_id, slot) for token in s.tokens),
                                   return_exceptions=True)
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1 and len(lost) == 19
    assert {type(r).__name__ for r in lost} == {"Conflict"}
    assert {r.code for r in lost} == {"slot_taken"}
    assert "just booked" in str(lost[0])
    [booking] = await active_bookings(sessions)
    assert booking.id == won[0].booking.id
    assert await count(sessions, Exchange) == 1
    # The losers see fresh slots: that time is gone, its neighbours are still there.
    async with sessions() as session:
        item = await session.get(SessionType, s.type_id)
        offer = await get_offer(session, item, now=clock.now(), step_minutes=30)
    starts = {slot.start for slot in offer.slots}
    assert slot not in starts and slot - timedelta(minutes=30) not in starts and slot + H in starts


async def test_the_database_refuses_overlaps_on_its_own(sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    outcome = await book(sessions, ctx(settings(db_url), clock.now()), s.tokens[0], s.type_id, ams(monday, 10))
    first = outcome.booking

    def copy(start, **changes):  # type: ignore[no-untyped-def]
        fields = {c.key: getattr(first, c.key) for c in Booking.__table__.columns if c.key != "id"}
        fields.update(starts_at=start, ends_at=start + H, busy_from=start, busy_until=start + H,
                      uid=f"x{start.timestamp()}", manage_token_hash=f"h{start.timestamp()}", **changes)
        return Booking(**fields)

    for start in (first.starts_at, first.starts_at + timedelta(minutes=30), first.starts_at - timedelta(minutes=59)):
        async with sessions() as session:
            session.add(copy(start))
            with pytest.raises(IntegrityError):
                await session.flush()
    async with sessions() as session:  # a cancelled one may overlap; back to back is fine
        session.add(copy(first.starts_at, status="cancelled"))
        session.add(copy(first.ends_at))
        await session.commit()
    async with sessions() as session:  # moving a booking onto another is refused too
        with pytest.raises(IntegrityError):
            await session.execute(update(Booking).where(Booking.id == first.id)
                                  .values(busy_until=first.ends_at + timedelta(minutes=1)))


@pytest.mark.awkward_clock
@pytest.mark.parametrize("case", ["never_offered", "too_far", "too_soon", "outside_windows", "day_off"])
async def test_bad_slots_are_refused_and_nothing_is_stored(
        sessions, make_coach, make_engagement, clock, db_url, case) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    s = await setup(sessions, make_coach, make_engagement, clock.now(), horizon_days="30", min_notice_minutes="1440")
    async with sessions() as session:
        await add_day_off(session, s.coach.id, monday, clock.now())
        await session.commit()
    start, code = {
        "never_offered": (ams(monday + timedelta(days=1), 10, 17), "slot_not_offered"),
        "too_far": (ams(monday + timedelta(days=35), 10), "slot_too_far"),
        "too_soon": (within_notice(clock), "slot_too_soon"),
        "outside_windows": (ams(monday + timedelta(days=1), 15), "slot_not_offered"),
        "day_off": (ams(monday, 10), "slot_not_offered"),
    }[case]
    with pytest.raises(ActionError) as raised:
        await book(sessions, ctx(settings(db_url), clock.now()), s.tokens[0], s.type_id, start)
    assert raised.value.code == code
    assert await count(sessions, Booking) == 0
    assert await count(sessions, Exchange) == 0
    assert await pending_tasks(sessions) == {}


@pytest.mark.awkward_clock
async def test_tampered_revoked_and_expired_links(sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    context = ctx(settings(db_url), clock.now())
    tampered = s.tokens[0][:-2] + ("AA" if not s.tokens[0].endswith("AA") else "BB")
    for token, code in ((tampered, "booking_link_unknown"), ("short", "booking_link_unknown"),
                        ("../../etc/passwd", "booking_link_unknown")):
        with pytest.raises(ActionError) as raised:
            await book(sessions, context, token, s.type_id, ams(monday, 10))
        assert raised.value.code == code and raised.value.status == 404
    async with sessions() as session:
        await do_new_booking_link(session, s.coach.id, s.engagement_ids[0], now=clock.now(), days=0, secret=SECRET)
        await session.commit()
    with pytest.raises(ActionError) as raised:
        await book(sessions, context, s.tokens[0], s.type_id, ams(monday, 10))
    assert raised.value.code == "booking_link_revoked"
    async with sessions() as session:
        token = await do_new_booking_link(session, s.coach.id, s.engagement_ids[0], now=clock.now(), days=2,
                                          secret=SECRET)
        await session.commit()
    with pytest.raises(ActionError) as raised:
        await book(sessions, ctx(settings(db_url), clock.now() + timedelta(days=3)), token, s.type_id, ams(monday, 10))
    assert raised.value.code == "booking_link_expired" and raised.value.language == "nl"
    # An intake-only type cannot be booked from a private link's form by id either way round.
    with pytest.raises(ActionError) as raised:
        await book(sessions, context, s.public_token, s.type_id, ams(monday, 10), name="X", email="x@example.org")
    assert raised.value.code == "session_type_unknown"
    assert await count(sessions, Booking) == 0
    # A manage link: tampered, and expired once the session is over.
    outcome = await book(sessions, context, token, s.type_id, ams(monday, 10))
    async with sessions() as session:
        with pytest.raises(ActionError) as raised:
            await check_manage_token(session, outcome.manage_token[:-1] + "x", clock.now())
        assert raised.value.code == "manage_link_unknown"
        with pytest.raises(ActionError) as raised:
            await check_manage_token(session, outcome.manage_token, ams(monday, 11))
        assert raised.value.code == "manage_link_expired"


@pytest.mark.awkward_clock
async def test_reschedule_moves_reminders_and_cancel_removes_them(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    context = ctx(settings(db_url), clock.now())
    booking = (await book(sessions, context, s.tokens[0], s.type_id, ams(monday, 10))).booking
    other = (await book(sessions, context, s.tokens[0], s.type_id, ams(monday, 11))).booking
    async with sessions() as session:
        item = await session.get(Booking, booking.id)
        with pytest.raises(ActionError) as raised:  # onto another session
            await do_reschedule(session, context, item, ams(monday, 10, 30), by="coachee")
        assert raised.value.code == "slot_taken"
    async with sessions() as session:
        item = await session.get(Booking, booking.id)
        moved = await do_reschedule(session, context, item, ams(monday + timedelta(days=1), 9), by="coachee")
        await session.commit()
    assert moved.booking.sequence == 1 and moved.booking.starts_at == ams(monday + timedelta(days=1), 9)
    tasks = await pending_tasks(sessions)
    assert tasks[f"booking-reminder:{booking.id}:60"] == ams(monday + timedelta(days=1), 8)
    assert tasks[f"booking-held:{booking.id}"] == ams(monday + timedelta(days=1), 10)
    # The freed time can be booked again.
    again = await book(sessions, context, s.tokens[0], s.type_id, ams(monday, 10))
    assert again.booking.starts_at == ams(monday, 10)
    async with sessions() as session:
        item = await session.get(Booking, booking.id)
        cancelled = await do_cancel(session, context, item, by="coachee")
        await session.commit()
    assert cancelled.booking.status == "cancelled" and cancelled.booking.sequence == 2
    tasks = await pending_tasks(sessions)
    assert not [k for k in tasks if k.startswith(f"booking-reminder:{booking.id}:")]
    assert f"booking-held:{booking.id}" not in tasks and f"booking-held:{other.id}" in tasks
    events = [x.meta["event"] for x in await exchanges(sessions, s.engagement_ids[0])]
    assert events == ["booked", "booked", "rescheduled", "booked", "cancelled"]
    async with sessions() as session:
        item = await session.get(Booking, booking.id)
        with pytest.raises(ActionError) as raised:
            await do_cancel(session, context, item, by="coachee")
        assert raised.value.code == "booking_not_active"


@pytest.mark.awkward_clock
async def test_cut_off_binds_the_coachee_not_the_coach(sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    booking = (await book(sessions, ctx(settings(db_url), clock.now()), s.tokens[0], s.type_id, ams(monday, 10))).booking
    late = ctx(settings(db_url, change_cutoff_hours=24), ams(monday, 10) - timedelta(hours=20))
    async with sessions() as session:
        item = await session.get(Booking, booking.id)
        with pytest.raises(ActionError) as raised:
            await do_cancel(session, late, item, by="coachee")
        assert raised.value.code == "booking_cutoff" and raised.value.params == {"hours": 24}
    async with sessions() as session:
        item = await session.get(Booking, booking.id)
        await do_cancel(session, late, item, by="coach")
        await session.commit()
    [entry] = [x for x in await exchanges(sessions, s.engagement_ids[0]) if x.meta["event"] == "cancelled"]
    assert (entry.direction, entry.author) == ("out", "coach")


async def test_intake_request_holds_the_slot_until_accepted_or_declined(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    s = await setup(sessions, make_coach, make_engagement, clock.now(), intake=True)
    context = ctx(settings(db_url), clock.now())
    with pytest.raises(ActionError) as raised:
        await book(sessions, context, s.public_token, s.type_id, ams(monday, 10), name="Nieuw", email="nope")
    assert raised.value.code == "email_invalid"
    request = await book(sessions, context, s.public_token, s.type_id, ams(monday, 10), name="Noor Jansen",
                         email="noor@example.org", message="Ik wil graag kennismaken.", zone="Asia/Kolkata",
                         language="en")
    assert request.booking.status == "requested" and request.booking.engagement_id is None
    with pytest.raises(ActionError) as raised:  # the slot is held
        await book(sessions, context, s.tokens[0], s.type_id, ams(monday, 10))
    assert raised.value.code == "slot_taken"
    second = await book(sessions, context, s.public_token, s.type_id, ams(monday, 11), name="Piet",
                        email="piet@example.org")
    async with sessions() as session:
        accepted = await do_accept_request(session, context, s.coach, request.booking.id)
        declined = await do_decline_request(session, context, s.coach, second.booking.id)
        await session.commit()
    assert accepted.booking.status == "confirmed" and declined.booking.status == "declined"
    async with sessions() as session:
        engagement = await session.get(Engagement, accepted.booking.engagement_id)
        assert (engagement.language, engagement.time_zone) == ("en", "Asia/Kolkata")
    entries = await exchanges(sessions, accepted.booking.engagement_id)
    assert [(x.meta["event"], x.direction) for x in entries] == [("requested", "in"), ("booked", "out")]
    assert "Ik wil graag kennismaken." in entries[0].body_text
    assert f"booking-held:{accepted.booking.id}" in await pending_tasks(sessions)
    # Declined: the time is free again.
    again = await book(sessions, context, s.tokens[0], s.type_id, ams(monday, 11))
    assert again.booking.status == "confirmed"
    async with sessions() as session:
        with pytest.raises(ActionError) as raised:
            await do_accept_request(session, context, s.coach, second.booking.id)
        assert raised.value.code == "request_handled"


@pytest.mark.awkward_clock
async def test_reminders_by_chat_and_held_through_the_task_runner(
        sessions, make_coach, make_engagement, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    config = settings(db_url, reminder_channel="chat")
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    booking = (await book(sessions, ctx(config, clock.now()), s.tokens[0], s.type_id, ams(monday, 10))).booking
    runner = TaskRunner(sessions, task_registry(config), config, clock)
    clock._now = ams(monday, 10) - timedelta(hours=23)
    assert await runner.run_once() == 2  # the 24-hour reminder, and the check-in (due since Saturday)
    clock._now = ams(monday, 9, 5)
    assert await runner.run_once() == 1
    clock._now = ams(monday, 11, 1)
    assert await runner.run_once() == 1
    entries = [x for x in await exchanges(sessions, s.engagement_ids[0]) if "event" in (x.meta or {})]
    assert [(x.meta["event"], x.channel, x.direction) for x in entries] == [
        ("booked", "video", "in"), ("reminder", "chat", "out"), ("reminder", "chat", "out"),
        ("held", "video", "internal")]
    assert booking.meeting_url in entries[1].body_text
    assert "/booking/" in entries[1].body_text
    # The coach's summary after the session: a new exchange, shared or private.
    async with sessions() as session:
        shared = await do_add_summary(session, s.coach, booking.id, "We spraken over grenzen.", shared=True,
                                      client_id="summary-0001", now=clock.now(), max_chars=1000)
        private = await do_add_summary(session, s.coach, booking.id, "Eigen notitie.", shared=False,
                                       client_id="summary-0002", now=clock.now(), max_chars=1000)
        await session.commit()
    assert (shared.exchange.channel, shared.exchange.direction) == ("video", "out")
    assert private.exchange.direction == "internal"
    assert "We spraken over grenzen." in shared.exchange.body_text


@pytest.mark.awkward_clock
async def test_a_cancelled_sessions_reminders_never_run(sessions, make_coach, make_engagement, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    config = settings(db_url, reminder_channel="chat")
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    booking = (await book(sessions, ctx(config, clock.now()), s.tokens[0], s.type_id, ams(monday, 10))).booking
    async with sessions() as session:
        await do_cancel(session, ctx(config, clock.now()), await session.get(Booking, booking.id), by="coach")
        await session.commit()
    clock._now = ams(monday, 12)
    assert await TaskRunner(sessions, task_registry(config), config, clock).run_once() == 0
    assert [x.meta["event"] for x in await exchanges(sessions, s.engagement_ids[0])] == ["booked", "cancelled"]


async def test_paused_engagement_cannot_book_and_links_stay_per_coach(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    async with sessions() as session:
        await session.execute(update(Engagement).where(Engagement.id == s.engagement_ids[0]).values(status="paused"))
        await session.commit()
    with pytest.raises(ActionError) as raised:
        await book(sessions, ctx(settings(db_url), clock.now()), s.tokens[0], s.type_id, ams(monday, 10))
    assert raised.value.code == "engagement_paused"
    async with sessions() as session:
        link, engagement = await check_booking_link(session, s.tokens[0], clock.now())
        assert engagement.id == s.engagement_ids[0]
        assert await count(sessions, BookingLink) == 2


@pytest.mark.awkward_clock
async def test_reminders_by_mail_carry_the_link_and_the_manage_link(
        sessions, make_coach, make_engagement, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    monday = monday_ahead(clock)
    config = settings(db_url, mail=True, reminders="2h")
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    outcome = await book(sessions, ctx(config, clock.now()), s.tokens[0], s.type_id, ams(monday, 10))
    assert set(await pending_tasks(sessions)) == {f"booking-reminder:{outcome.booking.id}:120",
                                                  f"booking-held:{outcome.booking.id}"}
    clock._now = ams(monday, 8, 1)
    # The reminder, and the check-in before it (sessions.checkin_before: due since Saturday).
    assert await TaskRunner(sessions, task_registry(config), config, clock).run_once() == 2
    [reminder] = [mail for mail in await outbox(sessions) if mail.kind == "booking"]
    assert reminder.kind == "booking" and reminder.recipient == "coachee0@example.org"
    message = message_from_bytes(reminder.raw, policy=default_policy)
    assert message["Subject"].startswith("Herinnering: Coaching session met")
    body = message.get_body(("plain",)).get_content()
    assert outcome.booking.meeting_url in body and f"/booking/{outcome.manage_token}" in body
    assert sorted(x.meta.get("event") or x.meta.get("form") for x in await exchanges(sessions, s.engagement_ids[0])
                  ) == ["booked", "checkin"]
