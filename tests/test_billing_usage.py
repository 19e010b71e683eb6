"""Bundles used up: sessions held (through the task runner, on the injected clock) and
written replies count exactly once, whatever is retried or resent; the coach (and the
coachee, when chosen) is warned once; booking is refused when the sessions are used up or
the plan has ended on the coach's calendar. Days are relative to the clock; the tests of
day rules (awkward_clock) run at the awkward moments of conftest.AWKWARD too."""

from __future__ import annotations

import asyncio
from calendar import monthrange
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from ecoach.actions.booking_after import do_mark_held
from ecoach.actions.bundles import do_adjust, do_record_session_held, get_balance
from ecoach.actions.errors import ActionError
from ecoach.actions.exchange_writer import ExchangeWriter
from ecoach.actions.replies import ReplyContext, do_coach_reply
from ecoach.actions.unit import unit_of_work
from ecoach.app import task_registry
from ecoach.logbook.billing_models import EngagementPlan, UsageEntry
from ecoach.logbook.models import Engagement, Exchange
from ecoach.scheduler.runner import TaskRunner
from tests.billing_support import (
    BUNDLE, PER_SESSION, RULES, SUBSCRIPTION, add_practice, add_product, count_usage, sell, usage,
)
from tests.booking_support import ams, book, ctx, settings, setup
from tests.moments import local_now
from tests.session_support import day


def last_day_of_months(start: date, months: int) -> date:
    """A subscription's last day: the day before the same day ``months`` later, or before
    that month's last day when it is shorter (from 30 November 2026: 27 February 2027)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, monthrange(year, month)[1])) - timedelta(days=1)


async def _billed_setup(sessions, make_coach, make_engagement, clock,  # type: ignore[no-untyped-def]
                        product=BUNDLE, **practice):
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    await add_practice(sessions, s.coach, clock.now(), **practice)
    product_id = await add_product(sessions, s.coach, clock.now(), product)
    billed = await sell(sessions, s.coach, s.engagement_ids[0], product_id, clock.now())
    return s, billed


@pytest.mark.awkward_clock
async def test_a_session_held_counts_once_through_the_task_runner(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    config = settings(db_url)
    s, billed = await _billed_setup(sessions, make_coach, make_engagement, clock)
    first = day(clock, 0)  # the first working day three days or more ahead
    booking = (await book(sessions, ctx(config, clock.now()), s.tokens[0], s.type_id, ams(first, 10))).booking
    runner = TaskRunner(sessions, task_registry(config), config, clock)
    # A run that fails after marking the session held counts nothing: it rolls back whole.
    with pytest.raises(RuntimeError):
        async with unit_of_work(sessions) as session:
            await do_mark_held(session, booking.id, ams(first, 11, 1))
            await do_record_session_held(session, booking.id, ams(first, 11, 1), RULES)
            raise RuntimeError("the process dies here")
    assert await count_usage(sessions, UsageEntry.kind == "session") == 0
    clock.set(ams(first, 11, 1))
    # Two reminders and the session check-in ("sessions.checkin", from the session
    # structure; all too late now: they do nothing) and "held". The feedback task
    # ("sessions.after") is due only sessions.feedback_after_minutes later.
    assert await runner.run_once() == 4
    [entry] = await usage(sessions, UsageEntry.kind == "session")
    assert (entry.source, entry.sessions, entry.quantity, entry.plan_id) == (f"booking:{booking.id}", 1, 0,
                                                                             billed.plan.id)
    assert entry.day == first
    # The handler run again (a retry after a lost lease, a second process): nothing new.
    async with unit_of_work(sessions) as session:
        await do_mark_held(session, booking.id, clock.now())
        assert await do_record_session_held(session, booking.id, clock.now(), RULES) is None
    assert await runner.run_once() == 0
    assert await count_usage(sessions, UsageEntry.kind == "session") == 1
    async with sessions() as session:
        engagement = await session.get(Engagement, s.engagement_ids[0])
        _plan, balance = await get_balance(session, engagement, first, RULES)
    assert (balance.sessions_left, balance.used.booked, balance.minutes_left) == (1, 0, 60)


async def _writer_context(sessions, clock, db_url):  # type: ignore[no-untyped-def]
    writer = ExchangeWriter(sessions, clock)
    writer.start()
    return writer, ReplyContext(sessions=sessions, writer=writer, clock=clock, settings=settings(db_url))


async def test_replies_count_once_even_when_resent_at_the_same_moment(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    s, billed = await _billed_setup(sessions, make_coach, make_engagement, clock, warn_coachee="on")
    writer, context = await _writer_context(sessions, clock, db_url)
    eid = s.engagement_ids[0]
    try:
        # The same reply sent three times at once (a flaky connection's resends), with the coach's minutes.
        sent = await asyncio.gather(*[do_coach_reply(context, s.coach, eid, channel="chat", text="Goed gedaan!",
                                                     client_id="reply-0001", minutes=45) for _ in range(3)])
        assert len({r.exchange.id for r in sent}) == 1
        # Without minutes: estimated from the length (40 words at 20 a minute, at least 5).
        await do_coach_reply(context, s.coach, eid, channel="chat", text=" ".join(["woord"] * 40),
                             client_id="reply-0002")
        # A private note uses up nothing.
        await do_coach_reply(context, s.coach, eid, channel="note", text="Notitie", client_id="note-0001",
                             minutes=30)
        await do_coach_reply(context, s.coach, eid, channel="chat", text="Tot slot", client_id="reply-0003",
                             minutes=20)
    finally:
        await writer.stop()
    replies = await usage(sessions, UsageEntry.kind == "reply")
    assert [(r.minutes, r.quantity, r.unit_price) for r in replies] == [(45, 0, 0), (5, 0, 0), (20, 10, 8000)]
    assert replies[2].unit == "MIN" and replies[2].base_quantity == 60  # 10 extra minutes at € 80 an hour
    async with sessions() as session:
        notes = list((await session.execute(select(Exchange).where(
            Exchange.engagement_id == eid, Exchange.external_id.like("billing:%")).order_by(Exchange.id))).scalars())
    # 45 of 60 minutes: low (15 <= 30) -- told once; 70 of 60: used up -- told once.
    assert [(n.external_id.split(":", 3)[-1], n.direction) for n in notes] == [
        ("low", "internal"), ("low:coachee", "out"), ("used_up", "internal"), ("used_up:coachee", "out")]
    assert "15 of 60 minutes" in notes[0].body_text or "15 van de 60 minuten" in notes[0].body_text


async def test_booking_is_refused_when_the_sessions_are_used_up_if_the_practice_says_so(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    config = settings(db_url)
    s, billed = await _billed_setup(sessions, make_coach, make_engagement, clock, refuse_when_used_up="on")
    context = ctx(config, clock.now())
    await book(sessions, context, s.tokens[0], s.type_id, ams(day(clock, 0), 9))
    await book(sessions, context, s.tokens[0], s.type_id, ams(day(clock, 0), 10))  # 2 of 2 booked
    with pytest.raises(ActionError) as refused:
        await book(sessions, context, s.tokens[0], s.type_id, ams(day(clock, 0), 11))
    assert refused.value.code == "billing_used_up" and refused.value.status == 409
    # A session given back by the coach (a correction) makes room for one more.
    async with unit_of_work(sessions) as session:
        engagement = await session.get(Engagement, s.engagement_ids[0])
        await do_adjust(session, s.coach, engagement, sessions=-1, minutes=0, key="form-1", now=clock.now(),
                        rules=RULES)
        await do_adjust(session, s.coach, engagement, sessions=-1, minutes=0, key="form-1", now=clock.now(),
                        rules=RULES)  # resubmitted: counted once
    await book(sessions, context, s.tokens[0], s.type_id, ams(day(clock, 0), 11))
    with pytest.raises(ActionError):
        await book(sessions, context, s.tokens[0], s.type_id, ams(day(clock, 1), 9))


async def test_concurrent_bookings_for_the_last_session_book_it_once(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    config = settings(db_url)
    s, _ = await _billed_setup(sessions, make_coach, make_engagement, clock, refuse_when_used_up="on")
    context = ctx(config, clock.now())
    starts = [ams(day(clock, d), 9) for d in range(4)]
    results = await asyncio.gather(*[book(sessions, context, s.tokens[0], s.type_id, start) for start in starts],
                                   return_exceptions=True)
    assert sum(1 for r in results if not isinstance(r, Exception)) == 2
    assert {r.code for r in results if isinstance(r, ActionError)} == {"billing_used_up"}


async def test_without_the_setting_or_with_a_price_per_extra_session_booking_goes_on(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    config = settings(db_url)
    s, _ = await _billed_setup(sessions, make_coach, make_engagement, clock)  # refuse_when_used_up off
    context = ctx(config, clock.now())
    for hour in (9, 10, 11):
        await book(sessions, context, s.tokens[0], s.type_id, ams(day(clock, 0), hour))
    s2, _ = await _billed_setup(sessions, make_coach, make_engagement, clock, {**BUNDLE, "session_price": "95"},
                                refuse_when_used_up="on")
    for hour in (9, 10, 11):
        await book(sessions, context, s2.tokens[0], s2.type_id, ams(day(clock, 1), hour))


@pytest.mark.awkward_clock
async def test_per_session_and_subscription_terms(  # type: ignore[no-untyped-def]
        sessions, make_coach, make_engagement, clock, db_url) -> None:
    config = settings(db_url)
    s, billed = await _billed_setup(sessions, make_coach, make_engagement, clock, PER_SESSION)
    first = day(clock, 0)
    booking = (await book(sessions, ctx(config, clock.now()), s.tokens[0], s.type_id, ams(first, 10))).booking
    clock.set(ams(first, 11, 1))
    # Reminders, the session check-in ("sessions.checkin") and "held"; see above.
    assert await TaskRunner(sessions, task_registry(config), config, clock).run_once() == 4
    [entry] = await usage(sessions, UsageEntry.kind == "session")
    assert (entry.quantity, entry.unit_price, entry.label) == (1, 9500, "Coaching session")
    assert booking.id and billed.plan.kind == "per_session"
    # A subscription: its price is billable from its first day; unlimited written coaching until it ends.
    product_id = await add_product(sessions, s.coach, clock.now(), SUBSCRIPTION)
    sub = await sell(sessions, s.coach, s.engagement_ids[0], product_id, clock.now())
    assert (sub.plan.starts_on, sub.plan.ends_on) == (first, last_day_of_months(first, 3))
    [purchase] = await usage(sessions, UsageEntry.kind == "purchase", UsageEntry.plan_id == sub.plan.id)
    assert (purchase.quantity, purchase.unit_price, purchase.day) == (1, 24900, sub.plan.starts_on)
    async with sessions() as session:
        engagement = await session.get(Engagement, s.engagement_ids[0])
        _plan, balance = await get_balance(session, engagement, sub.plan.ends_on, RULES)
        assert balance.low and not balance.used_up and not balance.booking_refused
        _plan, balance = await get_balance(session, engagement, sub.plan.ends_on + timedelta(days=1), RULES)
        assert balance.used_up and balance.booking_refused


@pytest.mark.awkward_clock
async def test_a_subscription_ends_on_the_coachs_calendar_wherever_the_coachee_is(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    """The plan's days are the coach's (sold "today" in the coach's zone, billed by the
    coach's month): booking stops the day after its last day there, not a day early or
    late for a coachee across the date line (at every moment one of these is on another
    date than Amsterdam: just after midnight there, Pago Pago is still on the day before)."""
    config = settings(db_url)
    s, billed = await _billed_setup(sessions, make_coach, make_engagement, clock, SUBSCRIPTION,
                                    refuse_when_used_up="on")
    today = local_now(clock).date()
    starts = iter([ams(day(clock, 0), hour) for hour in (9, 10, 11)] + [ams(day(clock, 1), 9)])
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):  # 14 hours ahead of UTC, 11 behind
        for last_day, refused in ((today, False), (today - timedelta(days=1), True)):
            async with unit_of_work(sessions) as session:
                (await session.get(Engagement, s.engagement_ids[0])).time_zone = zone
                (await session.get(EngagementPlan, billed.plan.id)).ends_on = last_day
            attempt = book(sessions, ctx(config, clock.now()), s.tokens[0], s.type_id, next(starts), zone=zone)
            if refused:
                with pytest.raises(ActionError) as raised:
                    await attempt
                assert raised.value.code == "billing_used_up", (zone, last_day)
            else:
                await attempt
