"""Response-time commitments on both databases, with the clock moved by hand: due times
in working time, fulfilment by the coach's answer, the inbox order, and the runner's
reminder, breach and acknowledgement.

Every due time is worked out from the ``clock`` (tests/commitment_support.py), so the
tests that depend on it run at START and at Sunday 23:59, the DST hour and New Year's night
(``awkward_clock``; the others hold at any moment): the coach's office hours are Monday to Friday 09:00-17:00 in
Amsterdam, chat is answered within 4 working hours and mail within 2 working days."""

from __future__ import annotations

from datetime import time, timedelta, timezone
from email import message_from_bytes, policy
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions.availability import ExceptionInput, check_agreement, do_add_exception, do_add_windows, \
    do_save_coach_agreement, do_save_engagement_agreement
from ecoach.actions.exchanges import NewExchange, record_exchanges
from ecoach.core.clock import FixedClock
from ecoach.core.hub import Hub
from ecoach.core.topics import coach as coach_topic, engagement as engagement_topic
from ecoach.logbook import queries
from ecoach.logbook.availability_models import Commitment
from ecoach.logbook.availability_queries import get_policy, get_working_calendar
from ecoach.logbook.mail_models import MailOutbox
from ecoach.logbook.models import Engagement, Exchange
from ecoach.logbook.task_models import Task
from ecoach.scheduler import commitments as commitment_tasks
from ecoach.scheduler.registry import TaskRegistry
from ecoach.scheduler.runner import TaskRunner
from ecoach.settings import AgreementSettings, MailSettings, SchedulerSettings, Settings
from tests.commitment_support import AMS, english_moment, wall, working_deadline
from tests.nudge_support import go, today

UTC = timezone.utc
CHAT_HOURS, MAIL_HOURS = 4, 16  # the default agreement: 4 working hours, 2 working days of 8


def make_settings(db_url: str, **agreements: Any) -> Settings:
    return Settings(database_url=db_url, secret_key="test-secret",
                    scheduler=SchedulerSettings(enabled=False, poll_seconds=3600),
                    mail=MailSettings(enabled=True, domain="coach.test"),
                    agreements=AgreementSettings(**agreements))


@pytest.fixture
def runner(db_url: str, sessions: async_sessionmaker[AsyncSession], clock: FixedClock, hub: Hub) -> TaskRunner:
    registry = TaskRegistry()
    commitment_tasks.register_tasks(registry)
    return TaskRunner(sessions, registry, make_settings(db_url), clock, jitter=lambda: 0.0)


async def commitments(sessions, engagement_id: int) -> list[Commitment]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        stmt = select(Commitment).where(Commitment.engagement_id == engagement_id).order_by(Commitment.id)
        return list((await session.execute(stmt)).scalars())


async def engagement(sessions, engagement_id: int) -> Engagement:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        found = await session.get(Engagement, engagement_id)
        assert found is not None
        return found


async def outbox(sessions, kind: str) -> list[MailOutbox]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        stmt = select(MailOutbox).where(MailOutbox.kind == kind).order_by(MailOutbox.id)
        return list((await session.execute(stmt)).scalars())


async def system_entries(sessions, engagement_id: int) -> list[Exchange]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        stmt = select(Exchange).where(Exchange.engagement_id == engagement_id, Exchange.channel == "system")
        return list((await session.execute(stmt)).scalars())


async def run_due(runner: TaskRunner) -> int:
    total = 0
    while (claimed := await runner.run_once()):
        total += claimed
    return total


@pytest.mark.awkward_clock
async def test_inbound_gets_a_due_time_in_working_time_and_an_answer_fulfils_it(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement, record_exchange, clock
) -> None:
    coach = await make_coach()
    eid = (await make_engagement(coach, coachee_name="Sanne")).engagement.id
    chat_due, mail_due = (working_deadline(clock.now(), hours) for hours in (CHAT_HOURS, MAIL_HOURS))
    chat = await record_exchange(eid, "Hoi, een vraag")
    await record_exchange(eid, "Per mail", channel="mail")
    [first, second] = await commitments(sessions, eid)
    assert (first.channel, first.due_at, first.state) == ("chat", chat_due, "open")
    assert first.exchange_id == chat.exchange.id
    assert (second.channel, second.due_at) == ("mail", mail_due)
    assert (await engagement(sessions, eid)).next_due_at == chat_due

    clock.advance(hours=1)
    note = await record_exchange(eid, "Notitie", direction="internal", channel="note")
    assert note.created and (await engagement(sessions, eid)).next_due_at == chat_due
    answer = await record_exchange(eid, "Antwoord", direction="out")
    for row in await commitments(sessions, eid):
        assert (row.state, row.fulfilled_by, row.fulfilled_at) == ("fulfilled", answer.exchange.id, clock.now())
    assert (await engagement(sessions, eid)).next_due_at is None


@pytest.mark.awkward_clock
async def test_answers_and_questions_in_one_batch_keep_their_order(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement, clock
) -> None:
    coach = await make_coach()
    a = (await make_engagement(coach)).engagement.id
    b = (await make_engagement(coach)).engagement.id

    def item(eid: int, direction: str, n: int, **kw: Any) -> NewExchange:
        return NewExchange(engagement_id=eid, channel="chat", direction=direction,
                           author="coachee" if direction == "in" else "coach", author_name="x",
                           text=f"m{n}", external_id=f"chat:batch-{eid}-{n}", **kw)

    async with sessions() as session:
        await record_exchanges(session, [item(a, "in", 1), item(a, "out", 2), item(b, "out", 3), item(b, "in", 4),
                                         item(b, "in", 5, meta={"auto_submitted": True})], clock.now())
        await session.commit()
    assert [c.state for c in await commitments(sessions, a)] == ["fulfilled"]
    assert [c.state for c in await commitments(sessions, b)] == ["open"]  # the auto-submitted one needs none
    assert (await engagement(sessions, a)).next_due_at is None
    assert (await engagement(sessions, b)).next_due_at == working_deadline(clock.now(), CHAT_HOURS)


async def test_no_commitment_for_auto_submitted_mail_or_a_channel_without_one(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement, record_exchange, clock
) -> None:
    coach = await make_coach()
    eid = (await make_engagement(coach)).engagement.id
    await record_exchange(eid, "Afwezig", channel="mail", meta={"auto_submitted": True})
    async with sessions() as session:
        values = check_agreement({"mail_amount": "2", "mail_unit": "days", "chat_amount": "0", "chat_unit": "hours",
                                  "remind_minutes": "60"}, inherit=False)
        await do_save_coach_agreement(session, coach.id, values, clock.now())
        await session.commit()
    await record_exchange(eid, "Chat zonder afspraak")
    assert await commitments(sessions, eid) == []
    assert (await engagement(sessions, eid)).next_due_at is None


@pytest.mark.awkward_clock
async def test_due_times_follow_the_channel_windows_holidays_and_engagement_settings(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement, record_exchange, clock
) -> None:
    coach = await make_coach()
    eid = (await make_engagement(coach, time_zone="America/New_York")).engagement.id
    holiday = next(today(clock) + timedelta(days=n) for n in range(1, 8)  # the next Tuesday or Thursday
                   if (today(clock) + timedelta(days=n)).weekday() in (1, 3))
    async with sessions() as session:
        await do_add_windows(session, coach.id, channel="chat", weekdays=["1", "3"], start="19:00", end="21:00",
                             now=clock.now())
        await do_add_exception(session, coach, ExceptionInput("holiday", holiday, holiday), clock.now())
        await do_save_engagement_agreement(session, eid, {"chat_amount": 3, "chat_unit": "hours",
                                                          "mail_amount": None, "mail_unit": None,
                                                          "remind_minutes": None, "acknowledge": None}, clock.now())
        await session.commit()
        assert (await get_policy(session, eid)).chat_amount == 3
        cal = await get_working_calendar(session, coach.id, "chat")
        assert [w.weekday for w in cal.windows] == [1, 3]
        # Booking's channel has no windows of its own: office hours.
        assert len((await get_working_calendar(session, coach.id, "sessions")).windows) == 5
    await record_exchange(eid, "Chat op woensdag")
    await record_exchange(eid, "Mail op woensdag", channel="mail")
    chat, mail = await commitments(sessions, eid)
    # Chat: 3 hours in the coach's Tuesday and Thursday evenings (Amsterdam), the holiday skipped:
    # from Wednesday 10:00 (START) that is Tuesday 19:00-21:00, then Thursday 19:00-20:00.
    evenings = {day: [(time(19), time(21))] for day in (1, 3)}
    assert chat.due_at == working_deadline(clock.now(), 3, windows=evenings, closed={holiday})
    assert wall(chat.due_at) in ("20:00", "21:00") and chat.due_at.astimezone(AMS).date() != holiday
    # Mail: 2 x 8 office hours, skipping the holiday (from Wednesday 10:00: Monday 10:00).
    assert mail.due_at == working_deadline(clock.now(), MAIL_HOURS, closed={holiday})
    assert mail.due_at.astimezone(AMS).date() != holiday and wall(mail.due_at) != "09:00"


@pytest.mark.awkward_clock
async def test_the_inbox_sorts_by_due_time_and_shows_the_state(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement, record_exchange, clock
) -> None:
    coach = await make_coach()
    ids = {name: (await make_engagement(coach, coachee_name=name)).engagement.id
           for name in ("mail-first", "chat-later", "quiet")}
    await record_exchange(ids["mail-first"], "Mail", channel="mail")  # due in 2 working days
    clock.advance(minutes=30)
    await record_exchange(ids["chat-later"], "Chat")  # due in 4 working hours
    await record_exchange(ids["quiet"], "Groet", direction="out")
    async with sessions() as session:
        rows = await queries.get_inbox(session, coach.id)
    assert [r.coachee_name for r in rows] == ["chat-later", "mail-first", "quiet"]
    assert [r.due_state(clock.now()) for r in rows] == ["on_track", "on_track", None]
    chat_due = working_deadline(clock.now(), CHAT_HOURS)  # (at START: today 14:30)
    assert rows[0].due_state(chat_due - timedelta(minutes=30)) == "due_soon"
    assert rows[0].due_state(chat_due + timedelta(minutes=30)) == "overdue"


@pytest.mark.awkward_clock
async def test_reminder_then_breach_once_per_wait(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement, record_exchange, clock, runner, hub
) -> None:
    coach = await make_coach(email="marieke@example.org", language="en")
    eid = (await make_engagement(coach, coachee_name="Sanne")).engagement.id
    first_due = working_deadline(clock.now(), CHAT_HOURS)  # (at START: 14:00 today)
    await record_exchange(eid, "Vraag 1")
    clock.advance(minutes=10)
    second_due = working_deadline(clock.now(), CHAT_HOURS)  # 14:10, or the same as the first out of hours
    await record_exchange(eid, "Vraag 2")
    inbox = hub.subscribe(coach_topic(coach.id))  # (after the messages' own events)
    assert await run_due(runner) == 0  # nothing due yet: the check waits for the reminder time
    async with sessions() as session:
        [check] = (await session.execute(select(Task).where(Task.status == "pending"))).scalars().all()
    assert (check.key, check.due_at) == (f"commitment-check:{eid}", first_due - timedelta(hours=2))

    go(clock, first_due - timedelta(hours=2))  # two hours before the first is due
    assert await run_due(runner) == 1
    [reminder] = await outbox(sessions, "reminder")
    mail = message_from_bytes(reminder.raw, policy=policy.default)
    assert reminder.recipient == "marieke@example.org" and mail["Auto-Submitted"] == "auto-generated"
    assert "Sanne" in mail["Subject"] and wall(first_due) in mail.get_body(("plain",)).get_content()
    assert all(c.reminded_at == clock.now() for c in await commitments(sessions, eid))
    assert inbox.queue.get_nowait()["type"] == "commitment"

    go(clock, first_due)  # the first is due
    assert await run_due(runner) == 1
    [entry] = await system_entries(sessions, eid)
    assert entry.direction == "internal" and wall(first_due) in entry.body_text
    if second_due > first_due:  # the second is due: same wait, no second entry, no second reminder
        go(clock, second_due)
        assert await run_due(runner) == 1
    assert len(await system_entries(sessions, eid)) == 1 and len(await outbox(sessions, "reminder")) == 1
    assert all(c.breached_at is not None for c in await commitments(sessions, eid))

    answer = await record_exchange(eid, "Sorry, laat", direction="out")
    assert {c.fulfilled_by for c in await commitments(sessions, eid)} == {answer.exchange.id}
    third_due = working_deadline(clock.now(), CHAT_HOURS)
    await record_exchange(eid, "Nieuwe vraag")  # a new wait: reminded and breached afresh
    go(clock, third_due + timedelta(hours=4))  # looked at only after its due time: too late to remind
    await run_due(runner)
    assert len(await outbox(sessions, "reminder")) == 1
    assert len(await system_entries(sessions, eid)) == 2


async def test_an_answer_in_time_means_no_reminder_and_no_breach(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement, record_exchange, clock, runner
) -> None:
    coach = await make_coach()
    eid = (await make_engagement(coach)).engagement.id
    await record_exchange(eid, "Vraag")
    clock.advance(hours=1)
    await record_exchange(eid, "Antwoord", direction="out")
    clock.advance(days=3)
    assert await run_due(runner) == 1  # the pending check runs and finds nothing open
    assert await outbox(sessions, "reminder") == [] and await system_entries(sessions, eid) == []
    async with sessions() as session:
        pending = (await session.execute(select(Task).where(Task.status == "pending"))).scalars().all()
    assert pending == []


@pytest.mark.awkward_clock
async def test_acknowledgement_in_chat_and_by_mail_once_per_wait(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement, record_exchange, clock, runner, hub
) -> None:
    coach = await make_coach(name="Marieke")
    eid = (await make_engagement(coach, coachee_email="sanne@example.org", language="en")).engagement.id
    async with sessions() as session:
        values = check_agreement({"mail_amount": "2", "mail_unit": "days", "chat_amount": "4",
                                  "chat_unit": "hours", "remind_minutes": "120", "acknowledge": "on"}, inherit=False)
        await do_save_coach_agreement(session, coach.id, values, clock.now())
        await session.commit()
    await record_exchange(eid, "Chat")
    await record_exchange(eid, "Nog een")
    page = hub.subscribe(engagement_topic(eid))  # (after the messages' own events)
    assert await run_due(runner) == 1
    event = page.queue.get_nowait()
    assert event["type"] == "notice" and english_moment(working_deadline(clock.now(), CHAT_HOURS)) in event["text"]
    assert page.queue.empty()

    await record_exchange(eid, "Antwoord", direction="out")
    meta = {"from": "sanne@example.org", "subject": "Mijn doel", "message_id": "<m1@example.org>",
            "references": [], "auto_submitted": False}
    await record_exchange(eid, "Per mail", channel="mail", meta=meta)
    await run_due(runner)
    [ack] = await outbox(sessions, "acknowledgement")
    mail = message_from_bytes(ack.raw, policy=policy.default)
    assert mail["Auto-Submitted"] == "auto-replied" and mail["In-Reply-To"] == "<m1@example.org>"
    mail_due = english_moment(working_deadline(clock.now(), MAIL_HOURS))
    assert mail["Subject"] == "Re: Mijn doel" and mail_due in mail.get_body(("plain",)).get_content()
    assert ack.recipient == "sanne@example.org"


async def test_no_acknowledgement_when_the_coach_answered_first(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement, record_exchange, clock, runner, hub
) -> None:
    coach = await make_coach()
    eid = (await make_engagement(coach, coachee_email="sanne@example.org")).engagement.id
    async with sessions() as session:
        await do_save_engagement_agreement(session, eid, {"acknowledge": True, "mail_amount": None, "mail_unit": None,
                                                          "chat_amount": None, "chat_unit": None,
                                                          "remind_minutes": None}, clock.now())
        await session.commit()
    meta = {"from": "sanne@example.org", "subject": "x", "message_id": "<m2@example.org>", "auto_submitted": False}
    await record_exchange(eid, "Mail", channel="mail", meta=meta)
    await record_exchange(eid, "Al beantwoord", direction="out")
    await run_due(runner)
    assert await outbox(sessions, "acknowledgement") == []


async def test_a_paused_engagement_gets_no_commitment_and_a_closed_one_no_breach(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement, record_exchange, clock, runner
) -> None:
    from sqlalchemy import update as sql_update

    coach = await make_coach()
    paused = (await make_engagement(coach)).engagement.id
    closing = (await make_engagement(coach)).engagement.id
    await record_exchange(closing, "Vraag")
    async with sessions() as session:
        await session.execute(sql_update(Engagement).where(Engagement.id == paused).values(status="paused"))
        await session.execute(sql_update(Engagement).where(Engagement.id == closing).values(status="closed"))
        await session.commit()
    await record_exchange(paused, "Mail tijdens pauze", channel="mail", force=True)
    assert await commitments(sessions, paused) == []
    clock.advance(days=2)
    await run_due(runner)
    assert await system_entries(sessions, closing) == [] and await outbox(sessions, "reminder") == []
    async with sessions() as session:
        [row] = await queries.get_inbox(session, coach.id, statuses=("closed",))
    assert row.due_state(clock.now()) is None
