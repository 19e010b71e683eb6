"""Helpers for the nudge tests: settings, the runner with the nudge handlers, moving the
clock to a moment, moments relative to the clock that only the nudge rules need (the next
spring DST switch, a moment outside the quiet hours), and reading back what happened."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ecoach.actions import nudges as plans
from ecoach.actions.nudge_forms import check_plan_form
from ecoach.core.clock import FixedClock
from ecoach.logbook.models import Engagement, Exchange
from ecoach.logbook.nudge_models import Nudge, NudgePlan
from ecoach.logbook.task_models import Task
from ecoach.scheduler import nudges as nudge_tasks
from ecoach.scheduler.registry import TaskRegistry
from ecoach.scheduler.runner import TaskRunner
from ecoach.settings import SchedulerSettings, Settings

SECRET = "test-secret-key"
AMS = ZoneInfo("Europe/Amsterdam")


def nudge_settings(db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(database_url=db_url, secret_key=SECRET, public_url="http://coach.test",
                                  scheduler=SchedulerSettings(enabled=False, poll_seconds=3600))
    values.update(overrides)
    return Settings(**values)


def nudge_runner(sessions, settings: Settings, clock: FixedClock, hub) -> TaskRunner:  # type: ignore[no-untyped-def]
    registry = TaskRegistry()
    nudge_tasks.register_tasks(registry)
    return TaskRunner(sessions, registry, settings, clock, jitter=lambda: 0.0)


def go(clock: FixedClock, moment: datetime) -> None:
    clock.advance(seconds=(moment - clock.now()).total_seconds())


def local(moment: datetime, zone: ZoneInfo = AMS) -> str:
    """A moment as the coachee reads it: ``2026-11-27 09:00``."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def today(clock: FixedClock, zone: ZoneInfo = AMS) -> date:
    """The coachee's calendar day now (on New Year's night not the UTC one)."""
    return clock.now().astimezone(zone).date()


def next_spring_forward(clock: FixedClock, zone: ZoneInfo = AMS, *, days_ahead: int = 0) -> date:
    """The local day of the first switch to summer time at least ``days_ahead`` days from today."""
    day = today(clock, zone) + timedelta(days=days_ahead)
    for _ in range(800):
        noon, eve = (datetime.combine(d, time(12), tzinfo=zone) for d in (day, day - timedelta(days=1)))
        if (noon.utcoffset() or timedelta()) > (eve.utcoffset() or timedelta()):
            return day
        day += timedelta(days=1)
    raise AssertionError("no switch to summer time within two years")


def same_time(moment: datetime, days: int, zone: ZoneInfo = AMS) -> datetime:
    """The same local wall time ``days`` local days later (across a DST switch too)."""
    wall = moment.astimezone(zone)
    later = datetime.combine(wall.date() + timedelta(days=days), wall.time().replace(tzinfo=None), tzinfo=zone)
    return later.astimezone(moment.tzinfo)


def awake(moment: datetime, zone: ZoneInfo = AMS) -> datetime:
    """``moment``, or 10:00 local after it when it falls in the default quiet hours
    (21:00-08:00): where a test needs something sent at once rather than in the morning."""
    wall = moment.astimezone(zone)
    if 8 <= wall.hour < 21:
        return moment
    day = wall.date() + timedelta(days=1 if wall.hour >= 21 else 0)
    return datetime.combine(day, time(10), tzinfo=zone).astimezone(moment.tzinfo)


async def drain(runner: TaskRunner) -> int:
    total = 0
    for _ in range(50):
        ran = await runner.run_once()
        if not ran:
            return total
        total += ran
    raise AssertionError("the runner kept finding due tasks")


async def check(runner: TaskRunner, clock: FixedClock) -> None:
    """One firing of the daily re-engagement check, then whatever it made due."""
    await runner.fire_recurring(plans.TASK_CHECK, clock.now())
    await drain(runner)


async def save_plan(sessions, settings: Settings, created, clock: FixedClock, *, weekdays=("0",),  # type: ignore[no-untyped-def]
                    **form: Any) -> NudgePlan:
    values = {"enabled": "1", "cadence": "weekly", "time_of_day": "09:00", "every_days": "7",
              "channel": "chat", "goal": "", "silence_days": "14", **form}
    async with sessions() as session:
        engagement = await session.get(Engagement, created.engagement.id)
        checked = check_plan_form(values, list(weekdays), engagement=engagement, coachee=created.coachee,
                                        settings=settings, today=today(clock))
        plan = await plans.do_save_plan(session, engagement, checked, settings=settings, now=clock.now())
        await session.commit()
        return plan


async def nudges_out(sessions, engagement_id: int) -> list[Exchange]:  # type: ignore[no-untyped-def]
    """The nudges in the logbook (system-written exchanges to the coachee)."""
    async with sessions() as session:
        stmt = (select(Exchange).where(Exchange.engagement_id == engagement_id, Exchange.author == "system",
                                       Exchange.direction == "out").order_by(Exchange.id))
        return list((await session.execute(stmt)).scalars())


async def all_nudges(sessions, engagement_id: int, status: str | None = None) -> list[Nudge]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        stmt = select(Nudge).where(Nudge.engagement_id == engagement_id)
        if status:
            stmt = stmt.where(Nudge.status == status)
        return list((await session.execute(stmt.order_by(Nudge.due_at, Nudge.id))).scalars())


async def plan_of(sessions, engagement_id: int) -> NudgePlan:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        plan = (await session.execute(select(NudgePlan).where(NudgePlan.engagement_id == engagement_id))).scalar_one()
        return plan


async def pending_tasks(sessions, key_prefix: str) -> list[Task]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        stmt = select(Task).where(Task.status == "pending", Task.key.startswith(key_prefix)).order_by(Task.due_at)
        return list((await session.execute(stmt)).scalars())
