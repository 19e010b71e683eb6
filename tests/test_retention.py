"""Retention with a moving clock on both databases: the daily pass plans closed
engagements, the coach is warned two weeks before (inbox and mail), can extend, and the
engagement is erased at the due time, never unannounced; per-engagement choices and a
changed policy; the pages (forms, inbox notice) and isolation between coaches."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo
from typing import Any

import pytest
from sqlalchemy import select

from ecoach.actions import retention as retention_
from ecoach.actions.engagements import do_change_status
from ecoach.core.retention import add_months, erase_due
from ecoach.logbook import privacy_queries as pq
from ecoach.logbook.key_models import Erasure
from ecoach.logbook.mail_models import MailOutbox
from ecoach.logbook.models import Engagement
from ecoach.logbook.privacy_models import RetentionPlan
from ecoach.logbook.task_models import Task
from ecoach.scheduler import retention as retention_tasks
from ecoach.scheduler.registry import TaskRegistry
from ecoach.scheduler.runner import TaskRunner
from ecoach.settings import Settings
from tests.nudge_support import drain, go
from tests.support import app_client, csrf_of, login, settings_for


def retention_settings(db_url: str, months: int = 6, **extra: Any) -> Settings:
    return settings_for(db_url, public_url="http://coach.test", retention={"erase_after_months": months},
                        mail={"enabled": True, "domain": "coach.test"}, **extra)


def runner_for(sessions, settings: Settings, clock) -> TaskRunner:  # type: ignore[no-untyped-def]
    registry = TaskRegistry()
    retention_tasks.register_tasks(registry)
    return TaskRunner(sessions, registry, settings, clock, jitter=lambda: 0.0)


async def close(sessions, engagement_id: int, now: datetime) -> None:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        engagement = await session.get(Engagement, engagement_id)
        await do_change_status(session, engagement, "close", now=now)
        await session.commit()


async def plan_of(sessions, engagement_id: int) -> RetentionPlan | None:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return await pq.get_retention_plan(session, engagement_id)


async def pending(sessions) -> dict[str, datetime]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        rows = await session.execute(select(Task.key, Task.due_at).where(Task.status == "pending",
                                                                         Task.name.like("retention.%")))
        return {key: due for key, due in rows}


async def warn_mails(sessions, to: str) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        rows = (await session.execute(select(MailOutbox))).scalars().all()  # sealed: compared when opened
        return sum(m.recipient == to and (b"erased" in m.raw or b"gewist" in m.raw) for m in rows)


async def erased(sessions) -> list[int]:  # type: ignore[no-untyped-def]
    """The engagements erased by the retention policy, from the erasure records; each is
    gone from the database."""
    async with sessions() as session:
        records = (await session.execute(select(Erasure).order_by(Erasure.id))).scalars().all()
        ids = [r.subject_id for r in records if r.kind == "engagement" and r.erased_by == "retention"]
        assert all(r.coach_id is None for r in records)
        assert not (await session.execute(select(Engagement.id).where(Engagement.id.in_(ids)))).first()
    return ids


@pytest.mark.awkward_clock  # months and two-week notices across New Year and a DST switch
async def test_warned_two_weeks_before_extended_then_erased_at_the_due_time(  # type: ignore[no-untyped-def]
        sessions, make_coach, make_engagement, clock, db_url) -> None:
    settings = retention_settings(db_url)
    runner = runner_for(sessions, settings, clock)
    coach = await make_coach(language="en")
    created = await make_engagement(coach)
    engagement_id = created.engagement.id
    closed_at = clock.now()
    await close(sessions, engagement_id, closed_at)
    # The daily pass plans it: six months after closing, the warning two weeks before.
    clock.advance(hours=20)
    await runner.fire_recurring(retention_.TASK_PLAN, clock.now())
    await drain(runner)
    due = add_months(closed_at, 6, coach.time_zone)
    plan = await plan_of(sessions, engagement_id)
    assert plan is not None and plan.erase_at == due and plan.warned_at is None
    assert await pending(sessions) == {f"retention.warn:{engagement_id}": due - timedelta(days=14),
                                       f"retention.erase:{engagement_id}": due}
    go(clock, due - timedelta(days=14, minutes=1))
    await drain(runner)
    assert (await plan_of(sessions, engagement_id)).warned_at is None  # type: ignore[union-attr]
    go(clock, due - timedelta(days=14))
    await drain(runner)
    assert (await plan_of(sessions, engagement_id)).warned_at == clock.now()  # type: ignore[union-attr]
    assert await warn_mails(sessions, coach.email) == 1
    async with sessions() as session:
        [notice] = await pq.get_erasure_notices(session, coach.id)
    assert notice.engagement_id == engagement_id and notice.erase_at == due
    # The coach extends by three months: the warning comes again before the new moment.
    async with sessions() as session:
        engagement = await session.get(Engagement, engagement_id)
        await retention_.do_extend(session, engagement, 3, settings=settings, now=clock.now())
        await session.commit()
    later = add_months(due, 3, coach.time_zone)
    assert (await plan_of(sessions, engagement_id)).erase_at == later  # type: ignore[union-attr]
    go(clock, due + timedelta(days=1))
    await drain(runner)
    assert await erased(sessions) == []
    go(clock, later - timedelta(days=14))
    await drain(runner)
    assert await warn_mails(sessions, coach.email) == 2
    go(clock, later - timedelta(seconds=1))
    await drain(runner)
    assert await erased(sessions) == []
    go(clock, later)
    await drain(runner)
    assert await erased(sessions) == [engagement_id]
    assert await pending(sessions) == {} and await plan_of(sessions, engagement_id) is None


@pytest.mark.awkward_clock  # months and two-week notices across New Year and a DST switch
async def test_own_choice_never_and_a_policy_that_is_off(  # type: ignore[no-untyped-def]
        sessions, make_coach, make_engagement, clock, db_url) -> None:
    settings = retention_settings(db_url, months=0)  # the practice erases nothing by itself
    runner = runner_for(sessions, settings, clock)
    coach = await make_coach()
    short, never, default = [(await make_engagement(coach)).engagement.id for _ in range(3)]
    async with sessions() as session:
        for engagement_id, keep in ((short, 1), (never, 0)):
            engagement = await session.get(Engagement, engagement_id)
            await retention_.do_set_keep(session, engagement, keep, settings=settings, now=clock.now())
        await session.commit()
    assert await pending(sessions) == {}  # nothing is planned while the engagements run
    closed_at = clock.now()
    for engagement_id in (short, never, default):
        await close(sessions, engagement_id, closed_at)
    await runner.fire_recurring(retention_.TASK_PLAN, clock.now())
    await drain(runner)
    due = add_months(closed_at, 1, coach.time_zone)
    assert (await plan_of(sessions, short)).erase_at == due  # type: ignore[union-attr]
    assert (await plan_of(sessions, never)).erase_at is None  # type: ignore[union-attr]
    assert (await plan_of(sessions, default)).erase_at is None  # type: ignore[union-attr]
    assert set(await pending(sessions)) == {f"retention.warn:{short}", f"retention.erase:{short}"}
    # Long past its moment (the server was off): warned now, erased two weeks later.
    go(clock, add_months(closed_at, 24, coach.time_zone))
    await drain(runner)
    assert await erased(sessions) == [] and (await plan_of(sessions, short)).warned_at == clock.now()  # type: ignore[union-attr]
    go(clock, clock.now() + timedelta(days=14))
    await drain(runner)
    assert await erased(sessions) == [short]


@pytest.mark.awkward_clock  # months and two-week notices across New Year and a DST switch
async def test_a_shorter_policy_never_erases_unannounced(  # type: ignore[no-untyped-def]
        sessions, make_coach, make_engagement, clock, db_url) -> None:
    coach = await make_coach()
    engagement_id = (await make_engagement(coach)).engagement.id
    closed_at = clock.now()
    await close(sessions, engagement_id, closed_at)
    long = retention_settings(db_url, months=24)
    await runner_for(sessions, long, clock).fire_recurring(retention_.TASK_PLAN, clock.now())
    await drain(runner_for(sessions, long, clock))
    assert (await plan_of(sessions, engagement_id)).erase_at == add_months(closed_at, 24, coach.time_zone)  # type: ignore[union-attr]
    # A year on, the practice keeps logbooks only six months: this one is over that already.
    go(clock, add_months(closed_at, 12, coach.time_zone))
    short = retention_settings(db_url, months=6)
    runner = runner_for(sessions, short, clock)
    await runner.fire_recurring(retention_.TASK_PLAN, clock.now())
    await drain(runner)
    plan = await plan_of(sessions, engagement_id)
    assert plan is not None and plan.warned_at == clock.now()  # warned at once ...
    assert plan.erase_at == clock.now() + timedelta(days=14)  # ... and erased two weeks later
    go(clock, clock.now() + timedelta(days=13))
    await drain(runner)
    assert await erased(sessions) == []
    go(clock, clock.now() + timedelta(days=1))
    await drain(runner)
    assert await erased(sessions) == [engagement_id]


async def test_pages_set_extend_and_the_inbox_notice(  # type: ignore[no-untyped-def]
        sessions, make_coach, make_engagement, clock, db_url) -> None:
    settings = retention_settings(db_url)
    coach = await make_coach(language="en", email="marieke@example.org")
    other = await make_coach(language="en", email="joost@example.org")
    engagement_id = (await make_engagement(coach, coachee_name="Sanne")).engagement.id
    await close(sessions, engagement_id, clock.now())
    async with app_client(settings, clock) as client:
        await login(client, coach.email)
        page = await (await client.get(f"/engagements/{engagement_id}")).text()
        due = add_months(clock.now(), 6, coach.time_zone)
        assert "This logbook will be erased on" in page
        csrf = await csrf_of(client, f"/engagements/{engagement_id}")
        bad = await client.post(f"/engagements/{engagement_id}/retention",
                                data={"_csrf": csrf, "keep": "months", "months": "0"}, allow_redirects=False)
        assert bad.status == 400 and "Give a number of months from 1 to 1200." in await bad.text()
        ok = await client.post(f"/engagements/{engagement_id}/retention",
                               data={"_csrf": csrf, "keep": "months", "months": "2"}, allow_redirects=False)
        assert ok.status == 303 and ok.headers["Location"].endswith("#retention")
        assert (await plan_of(sessions, engagement_id)).erase_at == add_months(clock.now(), 2, coach.time_zone)  # type: ignore[union-attr]
        # Two weeks before, the inbox says so and the page offers to extend.
        go(clock, add_months(clock.now(), 2, coach.time_zone) - timedelta(days=14))
        await drain(runner_for(sessions, settings, clock))
        inbox = await (await client.get("/")).text()
        assert "The logbook of Sanne will be erased on" in inbox
        page = await (await client.get(f"/engagements/{engagement_id}")).text()
        assert "every message, file and session, for good" in page
        extended = await client.post(f"/engagements/{engagement_id}/retention/extend",
                                     data={"_csrf": csrf, "months": "6"}, allow_redirects=False)
        assert extended.status == 303
        assert "will be erased on" not in await (await client.get("/")).text()
        wrong = await client.post(f"/engagements/{engagement_id}/retention/extend",
                                  data={"_csrf": csrf, "months": "5"}, allow_redirects=False)
        assert wrong.status == 400
    assert due  # the first plan followed the policy
    async with app_client(settings, clock) as intruder:
        await login(intruder, other.email)
        csrf = await csrf_of(intruder, "/")
        for path, data in ((f"/engagements/{engagement_id}/retention", {"keep": "never"}),
                           (f"/engagements/{engagement_id}/retention/extend", {"months": "12"})):
            response = await intruder.post(path, data={"_csrf": csrf, **data}, allow_redirects=False)
            assert response.status == 404


def test_months_count_on_the_coachs_calendar() -> None:
    # Closed at 00:30 on 31 January in Amsterdam (30 January in UTC): a month later is the
    # last day of February there, at the same time, not 1 March.
    amsterdam = ZoneInfo("Europe/Amsterdam")
    closed = datetime(2027, 1, 31, 0, 30, tzinfo=amsterdam).astimezone(timezone.utc)
    due = erase_due(closed, 1, None, "Europe/Amsterdam")
    assert due is not None and due.astimezone(amsterdam) == datetime(2027, 2, 28, 0, 30, tzinfo=amsterdam)
    # Across the clock change: the same wall time, an hour less in UTC.
    assert add_months(datetime(2027, 2, 28, 9, 0, tzinfo=amsterdam), 1, "Europe/Amsterdam") \
        == datetime(2027, 3, 28, 9, 0, tzinfo=amsterdam)
    # A wall time the clock skips that day reads as the time before the change.
    skipped = add_months(datetime(2027, 2, 28, 2, 30, tzinfo=amsterdam), 1, "Europe/Amsterdam")
    assert skipped == datetime(2027, 3, 28, 1, 30, tzinfo=timezone.utc)
