"""Helpers for the session-structure tests: an engagement with a contract of three goals
and a coach with session windows, sessions booked through the real actions, the task
runner with every area's handlers, and reading back forms and exchanges."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions import contracts
from ecoach.actions.contract_checks import check_goals, check_terms
from ecoach.actions.form_links import form_token
from ecoach.app import build_app, task_registry
from ecoach.keys import TASK_RUNNER
from ecoach.core.clock import FixedClock
from ecoach.logbook import contract_queries as cq
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.mail_models import MailOutbox
from ecoach.logbook.models import Coach, Engagement, Exchange
from ecoach.logbook.session_models import FormRequest
from ecoach.scheduler.runner import TaskRunner
from ecoach.settings import MailSettings, SchedulerSettings, Settings
from tests.booking_support import SECRET, ams, book, ctx, setup
from tests.live_server import serving
from tests.moments import local_now
from tests.server_process import free_port

GOALS = (("Calm when presenting to the team", "I speak without notes", "4"),
         ("Say no to extra work", "I say no once a week", "3"),
         ("Choose a next career step", "A decision on paper", "5"))


def settings(db_url: str, *, mail: bool = True, public_url: str = "http://coach.test", smtp_port: int = 25,
             **sessions: Any) -> Settings:
    # Tests move the clock by days with a coach logged in: logins last that long.
    return Settings(database_url=db_url, secret_key=SECRET, public_url=public_url, auto_migrate=False,
                    session_max_age_hours=24 * 365, accounts={"session_idle_minutes": 60 * 24 * 365},
                    mail=MailSettings(enabled=mail, domain="coach.test", smtp_host="127.0.0.1", smtp_port=smtp_port),
                    scheduler=SchedulerSettings(enabled=False, poll_seconds=3600), sessions=sessions or {})


def runner(sessions: async_sessionmaker[AsyncSession], config: Settings, clock: FixedClock) -> TaskRunner:
    return TaskRunner(sessions, task_registry(config), config, clock, jitter=lambda: 0.0)


def go(clock: FixedClock, moment: datetime) -> None:
    clock.set(moment)


def day(clock: FixedClock, n: int) -> date:
    """The n-th working day (Monday to Friday) from the first one at least three days after
    today in Amsterdam (0: that day): far enough that a session at 10:00 on it has its
    check-in (two days before) and its reminders still ahead, at START and at every
    awkward moment of conftest.AWKWARD (issue 12)."""
    found = local_now(clock).date() + timedelta(days=3)
    while found.weekday() >= 5:
        found += timedelta(days=1)
    for _ in range(n):
        found += timedelta(days=1)
        while found.weekday() >= 5:
            found += timedelta(days=1)
    return found


@dataclass
class Practice:
    coach: Coach
    engagement: Engagement
    type_id: int
    booking_token: str
    goal_ids: list[int]


async def offer_goals(sessions: async_sessionmaker[AsyncSession], engagement: Engagement, now: datetime,
                      goals: tuple[tuple[str, str, str], ...] = GOALS) -> list[int]:
    form: dict[str, str] = {}
    for n, (title, indicators, score) in enumerate(goals, start=1):
        form.update({f"goal{n}_title": title, f"goal{n}_indicators": indicators, f"goal{n}_score": score})
    async with sessions() as session:
        engagement = await session.merge(engagement)
        contract = await contracts.do_new_contract_version(session, engagement, now=now)
        terms = check_terms({**contract.terms, "channels": None, "sponsor_sees": "attendance"},
                            channels=contract.terms["channels"])
        await contracts.do_save_draft(session, engagement, contract, terms, check_goals(form), now=now)
        await contracts.do_offer_contract(session, engagement, contract, now=now)
        await session.commit()
        return [g.goal_id for g in await cq.get_current_goals(session, engagement.id)]


async def practice(sessions, make_coach, make_engagement, clock, *, language: str = "en",  # type: ignore[no-untyped-def]
                   goals: bool = True) -> Practice:
    """A coach with windows mon-fri 09:00-12:00 and a session type; one engagement (with
    a mail address) and its private booking link; a contract of three goals offered."""
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    async with sessions() as session:
        engagement = await session.get(Engagement, s.engagement_ids[0])
        engagement.language = language
        (await session.get(Coach, s.coach.id)).language = "en"  # the coach's pages in English
        await session.commit()
    goal_ids = await offer_goals(sessions, engagement, clock.now()) if goals else []
    return Practice(s.coach, engagement, s.type_id, s.tokens[0], goal_ids)


async def book_session(sessions, config: Settings, p: Practice, start: datetime, now: datetime) -> Booking:  # type: ignore[no-untyped-def]
    return (await book(sessions, ctx(config, now), p.booking_token, p.type_id, start)).booking


async def forms(sessions: async_sessionmaker[AsyncSession], **where: Any) -> list[FormRequest]:
    async with sessions() as session:
        stmt = select(FormRequest).filter_by(**where).order_by(FormRequest.id)
        return list((await session.execute(stmt)).scalars())


async def exchanges(sessions: async_sessionmaker[AsyncSession], engagement_id: int, **where: Any) -> list[Exchange]:
    async with sessions() as session:
        stmt = select(Exchange).filter_by(engagement_id=engagement_id, **where).order_by(Exchange.id)
        return list((await session.execute(stmt)).scalars())


async def mails(sessions: async_sessionmaker[AsyncSession], kind: str = "form") -> list[MailOutbox]:
    async with sessions() as session:
        stmt = select(MailOutbox).where(MailOutbox.kind == kind).order_by(MailOutbox.id)
        return list((await session.execute(stmt)).scalars())


def token_of(form: FormRequest) -> str:
    assert form.salt
    return form_token(SECRET, form.salt)


__all__ = ["ams", "day"]


@contextmanager
def live_app(make_settings: Callable[[str], Settings], clock: FixedClock) -> Iterator[LiveApp]:
    """The app served in its own thread on a port known before the settings are made (the
    links it mails must point at it); ``run_tasks`` runs due tasks on the server's loop."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = build_app(make_settings(base), clock=clock)
    with serving(app, port) as loop:
        yield LiveApp(base, app, loop)


@dataclass
class LiveApp:
    url: str
    app: web.Application
    loop: asyncio.AbstractEventLoop

    async def run_tasks(self) -> int:
        """Every task due at the clock's time, run in the server (as its runner would)."""
        total = 0
        while True:
            done = await asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(self.app[TASK_RUNNER].run_once(), self.loop))
            if not done:
                return total
            total += done
