"""Encouragement nudges on both databases with the clock moved by hand: cadence across a
DST switch, action-step follow-up, re-engagement once per silence, quiet hours, one a day,
paused and closed engagements, and the coachee's pause.

Every moment is relative to the ``clock``, in the coachee's zone; the tests that depend on
it run at START and at Sunday 23:59, the DST hour and New Year's night (``awkward_clock``).
The DST tests go to the next switch themselves, so they are the same at any moment."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ecoach.actions import action_steps, nudges as plans
from ecoach.actions.engagements import do_change_status
from ecoach.actions.unit import unit_of_work
from ecoach.actions.errors import ActionError
from ecoach.actions.nudge_send import do_send_now
from ecoach.logbook.models import Engagement, Exchange
from ecoach.settings import NudgeSettings
from tests.moments import at_local, days_ahead, next_weekday
from tests.nudge_support import (
    AMS, all_nudges, awake, check, drain, go, local, next_spring_forward, nudge_runner, nudge_settings, nudges_out,
    pending_tasks, plan_of, same_time, save_plan, today,
)

UTC = timezone.utc
MONDAY, WEDNESDAY, FRIDAY = 0, 2, 4


@pytest.fixture
def settings(db_url: str):  # type: ignore[no-untyped-def]
    return nudge_settings(db_url)


@pytest.fixture
def runner(sessions, settings, clock, hub):  # type: ignore[no-untyped-def]
    return nudge_runner(sessions, settings, clock, hub)


@pytest.fixture
async def sanne(make_coach, make_engagement):  # type: ignore[no-untyped-def]
    coach = await make_coach(name="Marieke Bos")
    return await make_engagement(coach, coachee_name="Sanne", language="nl", time_zone="Europe/Amsterdam")


async def add_step(sessions, settings, created, clock, text: str, due_on: str, by: str = "coach"):  # type: ignore[no-untyped-def]
    async with sessions() as session:
        engagement = await session.get(Engagement, created.engagement.id)
        step, _note = await action_steps.do_add_action_step(
            session, engagement, text=text, due_on=due_on, by=by, author_name="Marieke Bos", settings=settings,
            now=clock.now())
        await session.commit()
        return step


async def test_weekly_nudge_keeps_monday_nine_across_the_dst_switch(sessions, settings, runner, clock, sanne) -> None:
    switch = next_spring_forward(clock, days_ahead=12)  # a Sunday: at 02:00 it is 03:00
    assert switch.weekday() == 6
    go(clock, at_local(switch - timedelta(days=11), 13))  # the Wednesday before last
    await save_plan(sessions, settings, sanne, clock, weekdays=("0",), time_of_day="09:00", goal="rust in mijn week")
    mondays = [(switch + timedelta(days=days)).isoformat() for days in (-6, 1, 8)]
    planned = await all_nudges(sessions, sanne.engagement.id, "planned")
    assert [local(n.due_at) for n in planned] == [f"{day} 09:00" for day in mondays]
    assert len(await pending_tasks(sessions, f"nudge:{sanne.engagement.id}:")) == 3

    go(clock, planned[0].due_at - timedelta(minutes=1))
    await drain(runner)
    assert await nudges_out(sessions, sanne.engagement.id) == []
    for _ in range(3):
        [nxt, *_rest] = await all_nudges(sessions, sanne.engagement.id, "planned")
        go(clock, nxt.due_at)
        await drain(runner)

    sent = await nudges_out(sessions, sanne.engagement.id)
    assert [x.created_at.hour for x in sent] == [8, 7, 7]  # 09:00 CET, then 09:00 CEST
    assert [local(x.created_at) for x in sent] == [f"{day} 09:00" for day in mondays]
    first = sent[0]
    assert (first.channel, first.direction, first.author, first.author_name) == ("chat", "out", "system", "Marieke Bos")
    assert first.external_id == f"nudge:{sanne.engagement.id}:plan:{mondays[0]}"
    assert first.body_text.startswith("Hoi Sanne,") and "rust in mijn week" in first.body_text
    assert "Marieke Bos" in first.body_text and "http://coach.test/n/" in first.body_text
    # Always three ahead; the sent ones point at their exchange.
    assert len(await all_nudges(sessions, sanne.engagement.id, "planned")) == 3
    assert [n.exchange_id for n in await all_nudges(sessions, sanne.engagement.id, "sent")] == [x.id for x in sent]


@pytest.mark.awkward_clock
async def test_action_step_follow_up_asks_how_it_went_on_its_date(sessions, settings, runner, clock, sanne) -> None:
    due_on = today(clock) + timedelta(days=2)
    step = await add_step(sessions, settings, sanne, clock, "Elke ochtend tien minuten wandelen", due_on.isoformat())
    [follow_up] = await all_nudges(sessions, sanne.engagement.id, "planned")
    assert (follow_up.kind, local(follow_up.due_at), follow_up.action_step_id) == (
        "action_step", f"{due_on} 09:00", step.id)
    [task] = await pending_tasks(sessions, f"action-step:{step.id}")
    assert (task.name, task.params) == ("action_step.follow_up", {"nudge_id": follow_up.id})

    go(clock, at_local(due_on, 8, 59))
    await drain(runner)
    assert await nudges_out(sessions, sanne.engagement.id) == []
    go(clock, at_local(due_on, 9))
    await drain(runner)
    [sent] = await nudges_out(sessions, sanne.engagement.id)
    assert "Elke ochtend tien minuten wandelen" in sent.body_text and "Hoe ging het?" in sent.body_text
    assert sent.external_id == f"nudge:{sanne.engagement.id}:action_step:{step.id}"
    async with sessions() as session:
        note = await session.get(Exchange, sent.id - 1)
    assert note is not None and (note.channel, note.direction) == ("system", "internal")
    assert "Elke ochtend tien minuten wandelen" in note.body_text

    # A step for today whose nudge time has passed is asked about later today.
    later = due_on + timedelta(days=3)
    go(clock, at_local(later, 14))
    late = await add_step(sessions, settings, sanne, clock, "Bellen met Joost", later.isoformat(), by="coachee")
    [planned] = [n for n in await all_nudges(sessions, sanne.engagement.id, "planned") if n.action_step_id == late.id]
    assert local(planned.due_at) == f"{later} 17:00"
    with pytest.raises(ActionError) as past:
        await add_step(sessions, settings, sanne, clock, "Te laat", (later - timedelta(days=1)).isoformat())
    assert past.value.code == "action_step_past"


@pytest.mark.awkward_clock
async def test_re_engagement_checks_in_once_per_silence_and_alerts_the_coach(
    sessions, settings, runner, clock, sanne, record_exchange,
) -> None:
    start = clock.now()
    go(clock, start + timedelta(days=13))
    await check(runner, clock)
    assert await nudges_out(sessions, sanne.engagement.id) == []
    assert await all_nudges(sessions, sanne.engagement.id) == []  # not even planned for the morning

    go(clock, awake(start + timedelta(days=15)))  # in the day: a check-in found at night waits

    await check(runner, clock)
    [checkin] = await nudges_out(sessions, sanne.engagement.id)
    assert "Het is alweer even geleden" in checkin.body_text
    assert checkin.external_id.startswith(f"nudge:{sanne.engagement.id}:checkin:")
    plan = await plan_of(sessions, sanne.engagement.id)
    assert plan.checkin_for == start and plan.alert_at == clock.now()
    async with sessions() as session:
        alert = await session.get(Exchange, checkin.id + 1)
    assert alert is not None and (alert.direction, alert.author) == ("internal", "system")
    assert f"{(clock.now() - start).days} dagen" in alert.body_text

    for day in (16, 17, 30, 40):  # the same silence: no second check-in
        go(clock, awake(start + timedelta(days=day)))
        await check(runner, clock)
    assert len(await nudges_out(sessions, sanne.engagement.id)) == 1

    await record_exchange(sanne.engagement.id, "Sorry, het was druk!", direction="in")
    await record_exchange(sanne.engagement.id, "Fijn van je te horen.", direction="out")
    spoke = clock.now()
    go(clock, spoke + timedelta(days=14, hours=-1))
    await check(runner, clock)
    assert len(await nudges_out(sessions, sanne.engagement.id)) == 1
    go(clock, awake(spoke + timedelta(days=15)))
    await check(runner, clock)
    assert len(await nudges_out(sessions, sanne.engagement.id)) == 2  # a new silence, a new check-in


@pytest.mark.awkward_clock
async def test_ignored_weekly_nudges_do_not_hide_the_silence(sessions, settings, runner, clock, sanne) -> None:
    start = clock.now()
    await save_plan(sessions, settings, sanne, clock, weekdays=("0",))
    monday = next_weekday(clock, MONDAY, 9)
    for moment in (monday, same_time(monday, 7)):
        go(clock, moment)
        await drain(runner)
    assert len(await nudges_out(sessions, sanne.engagement.id)) == 2
    silent = awake(start + timedelta(days=15))  # 15 days after the start, 1 to 8 after the last nudge
    if silent.astimezone(AMS).weekday() == MONDAY:
        silent = same_time(silent, 1)  # not on a Monday, where the plan's nudge took the day
    go(clock, silent)
    await check(runner, clock)
    texts = [x.body_text for x in await nudges_out(sessions, sanne.engagement.id)]
    assert len(texts) == 3 and "Het is alweer even geleden" in texts[-1]


@pytest.mark.awkward_clock
async def test_waiting_coachee_gets_no_check_in_and_no_nudge(sessions, settings, runner, clock, sanne, record_exchange) -> None:
    await save_plan(sessions, settings, sanne, clock, weekdays=("0",))
    await record_exchange(sanne.engagement.id, "Kun je me helpen?", direction="in")
    go(clock, next_weekday(clock, MONDAY, 9))
    await drain(runner)
    go(clock, clock.now() + timedelta(days=20))
    await check(runner, clock)
    assert await nudges_out(sessions, sanne.engagement.id) == []  # the coach owes an answer, not a nudge
    async with sessions() as session:
        engagement = await session.get(Engagement, sanne.engagement.id)
    assert engagement is not None and engagement.waiting_since is not None
    reasons = [n.reason for n in await all_nudges(sessions, sanne.engagement.id, "skipped")]
    assert reasons[0] == "waiting" and set(reasons) <= {"waiting", "stale"}  # later Mondays: not caught up


@pytest.mark.awkward_clock
async def test_quiet_hours_move_nudges_to_the_morning(sessions, settings, runner, clock, sanne) -> None:
    await save_plan(sessions, settings, sanne, clock, weekdays=("2",), time_of_day="22:30")  # Wednesdays
    wednesday = next_weekday(clock, WEDNESDAY, 22, 30)
    thursday = wednesday.astimezone(AMS).date() + timedelta(days=1)
    first = (await all_nudges(sessions, sanne.engagement.id, "planned"))[0]
    assert (first.occasion, local(first.due_at)) == (wednesday.astimezone(AMS).date().isoformat(), f"{thursday} 08:00")
    go(clock, wednesday)  # 22:30 in Amsterdam
    await drain(runner)
    assert await nudges_out(sessions, sanne.engagement.id) == []
    go(clock, first.due_at)
    await drain(runner)
    [sent] = await nudges_out(sessions, sanne.engagement.id)
    assert local(sent.created_at) == f"{thursday} 08:00"

    # A nudge the runner only gets to at night waits for the morning too.
    await save_plan(sessions, settings, sanne, clock, weekdays=("4",), time_of_day="14:00")  # Fridays
    friday = (await all_nudges(sessions, sanne.engagement.id, "planned"))[0]
    friday_date = friday.due_at.astimezone(AMS).date()
    assert (friday_date.weekday(), local(friday.due_at)) == (FRIDAY, f"{friday_date} 14:00")
    go(clock, at_local(friday_date, 21, 30))  # 21:30 Friday: the runner was down since noon
    await drain(runner)
    assert len(await nudges_out(sessions, sanne.engagement.id)) == 1
    moved = [n for n in await all_nudges(sessions, sanne.engagement.id, "planned") if n.id == friday.id][0]
    assert local(moved.due_at) == f"{friday_date + timedelta(days=1)} 08:00"
    async with sessions() as session:
        engagement = await session.get(Engagement, sanne.engagement.id)
        with pytest.raises(ActionError) as night:
            await do_send_now(session, engagement, moved.id, settings=settings, now=clock.now())
    assert night.value.code == "nudge_night"
    go(clock, moved.due_at)
    await drain(runner)
    assert len(await nudges_out(sessions, sanne.engagement.id)) == 2


@pytest.mark.awkward_clock
async def test_never_more_than_one_nudge_a_day(sessions, settings, runner, clock, sanne) -> None:
    await save_plan(sessions, settings, sanne, clock, weekdays=("4",), time_of_day="09:00")  # Fridays
    nine = next_weekday(clock, FRIDAY, 9)
    await add_step(sessions, settings, sanne, clock, "Gesprek voorbereiden", nine.astimezone(AMS).date().isoformat())
    await add_step(sessions, settings, sanne, clock, "Lijstje maken", nine.astimezone(AMS).date().isoformat())
    go(clock, nine)
    await drain(runner)
    [friday] = await nudges_out(sessions, sanne.engagement.id)
    steps = ["Gesprek voorbereiden", "Lijstje maken"]  # the specific ones go, the plan's gives way
    first = next(step for step in steps if step in friday.body_text)  # (on PostgreSQL: run side by side)
    skipped = await all_nudges(sessions, sanne.engagement.id, "skipped")
    assert [(n.kind, n.reason) for n in skipped] == [("plan", "limit")]
    go(clock, same_time(nine, 1))
    await drain(runner)
    sent = await nudges_out(sessions, sanne.engagement.id)
    assert len(sent) == 2 and [step for step in steps if step != first][0] in sent[1].body_text
    async with sessions() as session:
        engagement = await session.get(Engagement, sanne.engagement.id)
        nxt = (await plans.nudge_queries.get_upcoming(session, sanne.engagement.id))[0]
        with pytest.raises(ActionError) as limit:
            await do_send_now(session, engagement, nxt.id, settings=settings, now=clock.now())
    assert limit.value.code == "nudge_limit"
    days = [x.created_at.astimezone(AMS).date() for x in sent]
    assert len(days) == len(set(days))


@pytest.mark.awkward_clock
async def test_paused_and_closed_engagements_get_no_nudges(sessions, settings, runner, clock, hub, sanne) -> None:
    await save_plan(sessions, settings, sanne, clock, cadence="interval", every_days="1", time_of_day="09:00")
    eid = sanne.engagement.id
    days = [n.due_at for n in await all_nudges(sessions, eid, "planned")]  # the next three 09:00s
    first = today(clock) + timedelta(days=0 if clock.now() < at_local(today(clock), 9) else 1)
    assert [local(at) for at in days] == [f"{first + timedelta(days=n)} 09:00" for n in range(3)]

    async def status(action: str) -> None:
        async with unit_of_work(sessions) as session:
            engagement = await session.get(Engagement, eid)
            await do_change_status(session, engagement, action, now=clock.now())

    await status("pause")
    go(clock, days[0])
    await drain(runner)
    assert await nudges_out(sessions, eid) == []
    assert [n.reason for n in await all_nudges(sessions, eid, "skipped")] == ["engagement_paused"]
    await status("resume")
    go(clock, days[1])
    await drain(runner)
    assert len(await nudges_out(sessions, eid)) == 1

    await status("close")
    go(clock, days[2])
    await drain(runner)
    assert len(await nudges_out(sessions, eid)) == 1
    assert [n.reason for n in await all_nudges(sessions, eid, "skipped")][-1] == "closed"
    assert len(await all_nudges(sessions, eid, "planned")) == 2  # planned before; no new ones
    go(clock, same_time(days[2], 32))
    await drain(runner)
    await check(runner, clock)
    assert len(await nudges_out(sessions, eid)) == 1
    assert await all_nudges(sessions, eid, "planned") == []


@pytest.mark.awkward_clock
async def test_coachee_pause_stops_every_nudge_until_resumed(sessions, settings, runner, clock, sanne) -> None:
    await save_plan(sessions, settings, sanne, clock, cadence="interval", every_days="1", time_of_day="09:00")
    eid = sanne.engagement.id
    step = await add_step(sessions, settings, sanne, clock, "Dagboek bijhouden",
                          (today(clock) + timedelta(days=15)).isoformat())
    async with sessions() as session:
        engagement = await session.get(Engagement, eid)
        await plans.do_pause_nudges(session, engagement, settings=settings, now=clock.now())
        await session.commit()
    assert await all_nudges(sessions, eid, "planned") == []
    assert await pending_tasks(sessions, f"nudge:{eid}:") == []
    assert await pending_tasks(sessions, f"action-step:{step.id}") == []
    go(clock, days_ahead(clock, 25, 10, 40))  # far past the silence limit too
    await drain(runner)
    await check(runner, clock)
    assert await nudges_out(sessions, eid) == []

    async with sessions() as session:
        engagement = await session.get(Engagement, eid)
        await plans.do_resume_nudges(session, engagement, settings=settings, now=clock.now())
        await session.commit()
    planned = await all_nudges(sessions, eid, "planned")
    assert [local(n.due_at) for n in planned] == [f"{today(clock) + timedelta(days=n)} 09:00" for n in (1, 2, 3)]
    go(clock, planned[0].due_at)
    await drain(runner)
    assert len(await nudges_out(sessions, eid)) == 1


async def test_plan_form_errors_are_clear(sessions, settings, clock, sanne) -> None:
    cases = [({"cadence": "monthly"}, ("0",), "nudge_cadence"), ({}, (), "nudge_weekdays"),
             ({"time_of_day": "9 uur"}, ("0",), "nudge_time"), ({"channel": "mail"}, ("0",), "mail_disabled"),
             ({"silence_days": "2"}, ("0",), "nudge_silence"),
             ({"template_nl": "Hoi {{ naam }}"}, ("0",), "nudge_template_unknown"),
             ({"template_en": "Hi {{ coachee"}, ("0",), "nudge_template_syntax")]
    for form, weekdays, code in cases:
        with pytest.raises(ActionError) as caught:
            await save_plan(sessions, settings, sanne, clock, weekdays=weekdays, **form)
        assert caught.value.code == code
    with pytest.raises(ActionError) as unknown:
        await save_plan(sessions, settings, sanne, clock, template_nl="Hoi {{ naam }}")
    assert "naam" in str(unknown.value) and "coachee" in str(unknown.value)
    plan = await save_plan(sessions, settings, sanne, clock, template_nl="Hoi {{ coachee }}, zet hem op!",
                           start_on=today(clock).isoformat())
    assert plan.templates == {"nl": "Hoi {{ coachee }}, zet hem op!"}


@pytest.mark.awkward_clock
async def test_a_plan_nudge_missed_while_the_runner_was_down_is_skipped(sessions, settings, runner, clock, sanne) -> None:
    await save_plan(sessions, settings, sanne, clock, weekdays=("0",))
    monday = next_weekday(clock, MONDAY, 9)
    go(clock, same_time(monday, 2) + timedelta(hours=2))  # Monday's went by unseen; it is Wednesday now
    await drain(runner)
    assert await nudges_out(sessions, sanne.engagement.id) == []
    assert [(n.occasion, n.reason) for n in await all_nudges(sessions, sanne.engagement.id, "skipped")] == [
        (monday.astimezone(AMS).date().isoformat(), "stale")]
    go(clock, same_time(monday, 7))
    await drain(runner)
    assert len(await nudges_out(sessions, sanne.engagement.id)) == 1


async def test_the_day_a_follow_up_takes_is_the_coachees_day_on_the_dst_sunday(sessions, db_url, clock, sanne) -> None:
    """The Sunday the clocks go forward has 23 hours: Monday's 00:30 follow-up is not
    Sunday's, so Sunday's plan nudge still goes (no quiet hours here, to see the edge)."""
    settings = nudge_settings(db_url, nudges=NudgeSettings(quiet_start="00:00", quiet_end="00:00"))
    runner = nudge_runner(sessions, settings, clock, None)
    switch = next_spring_forward(clock, days_ahead=2)
    go(clock, at_local(switch - timedelta(days=1), 12))  # Saturday noon
    await save_plan(sessions, settings, sanne, clock, weekdays=("6",), time_of_day="00:30")  # Sundays
    monday = (switch + timedelta(days=1)).isoformat()
    await add_step(sessions, settings, sanne, clock, "Wekker zetten", monday)
    planned = await all_nudges(sessions, sanne.engagement.id, "planned")
    assert [(n.kind, local(n.due_at)) for n in planned[:2]] == [
        ("plan", f"{switch} 00:30"), ("action_step", f"{monday} 00:30")]

    go(clock, planned[0].due_at)
    await drain(runner)
    [sunday] = await nudges_out(sessions, sanne.engagement.id)
    assert sunday.external_id == f"nudge:{sanne.engagement.id}:plan:{switch}"
    go(clock, planned[1].due_at)
    await drain(runner)
    assert len(await nudges_out(sessions, sanne.engagement.id)) == 2  # Monday's follow-up, the next day
