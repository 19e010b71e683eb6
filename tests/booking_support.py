"""Helpers for the booking tests: a coach with session windows, a session type and links,
bookings made through the real actions in their own sessions (connections)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions.availability import day_span
from ecoach.actions.booking import BookingContext, BookingOutcome, do_book_from_link
from ecoach.actions.session_types import check_session_type, do_new_booking_link, do_save_session_type
from ecoach.core.working_time import parse_week
from ecoach.logbook.availability_models import AvailabilityException, AvailabilityWindow
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.mail_models import MailOutbox
from ecoach.logbook.models import Coach, Exchange
from ecoach.logbook.task_models import Task
from ecoach.settings import MailSettings, Settings
from tests.moments import next_weekday

AMS = ZoneInfo("Europe/Amsterdam")
SECRET = "test-secret-key"
TYPE_FORM = {"name": "Coaching session", "channel": "video", "duration_minutes": "60",
             "buffer_before_minutes": "0", "buffer_after_minutes": "0", "min_notice_minutes": "0",
             "max_per_day": "0", "horizon_days": "60", "availability": "sessions"}


def settings(db_url: str = "sqlite+aiosqlite:///unused.db", *, mail: bool = False, **booking: Any) -> Settings:
    return Settings(database_url=db_url, secret_key=SECRET, public_url="http://127.0.0.1:8080",
                    mail=MailSettings(enabled=mail, domain="coach.test"), booking=booking or {})


def ctx(settings_: Settings, now: datetime) -> BookingContext:
    return BookingContext(settings_, now, SECRET)


def ams(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), AMS).astimezone(timezone.utc)


MONDAY = date(2026, 11, 30)  # the clock starts on Wednesday 25 November 2026, 09:00 UTC


def monday_ahead(clock: Any) -> date:
    """The Monday the booking tests book on, relative to the test's clock (at START it is
    MONDAY): the first whose local day begins more than two days from now, so that its
    24-hour reminder and its two-day check-in still lie ahead, and it is among the first
    days with free times that a booking page shows (at most six weekdays come before it)."""
    return next_weekday(clock, 0, 0, after=timedelta(days=2)).astimezone(AMS).date()


def within_notice(clock: Any, hours: int = 1) -> datetime:
    """The first whole hour at least ``hours`` from now: a time inside a day's notice."""
    start = clock.now().astimezone(timezone.utc) + timedelta(hours=hours)
    whole = start.replace(minute=0, second=0, microsecond=0)
    return whole if whole == start else whole + timedelta(hours=1)


async def add_windows(session: AsyncSession, coach_id: int, spec: str, channel: str = "sessions") -> None:
    for w in parse_week(spec):
        session.add(AvailabilityWindow(coach_id=coach_id, channel=channel, weekday=w.weekday,
                                       start_minute=w.start.hour * 60 + w.start.minute,
                                       end_minute=w.end.hour * 60 + w.end.minute))


async def add_day_off(session: AsyncSession, coach_id: int, day: date, now: datetime) -> None:
    # The local day as the product spans it (23 or 25 hours on the days the clocks change).
    start, end = day_span("Europe/Amsterdam", day, day)
    session.add(AvailabilityException(coach_id=coach_id, kind="holiday", title="day off", first_day=day,
                                      last_day=day, starts_at=start, ends_at=end, created_at=now))


@dataclass
class Setup:
    coach: Coach
    type_id: int
    public_token: str
    engagement_ids: list[int]
    tokens: list[str]  # private booking link per engagement


async def setup(sessions: async_sessionmaker[AsyncSession], make_coach, make_engagement, now: datetime,  # type: ignore[no-untyped-def]
                *, engagements: int = 1, windows: str = "mon-fri 09:00-12:00", intake: bool = False,
                **type_fields: str) -> Setup:
    coach = await make_coach(time_zone="Europe/Amsterdam")
    created = [await make_engagement(coach, coachee_email=f"coachee{n}@example.org", time_zone="Europe/Amsterdam")
               for n in range(engagements)]
    async with sessions() as session:
        await add_windows(session, coach.id, windows)
        form = {**TYPE_FORM, **type_fields, **({"intake": "on"} if intake else {})}
        item = await do_save_session_type(session, coach, check_session_type(form), type_id=None, now=now)
        public = await do_new_booking_link(session, coach.id, None, now=now, days=0, secret=SECRET)
        tokens = [await do_new_booking_link(session, coach.id, c.engagement.id, now=now, days=0, secret=SECRET)
                  for c in created]
        await session.commit()
    return Setup(coach, item.id, public, [c.engagement.id for c in created], tokens)


async def book(sessions: async_sessionmaker[AsyncSession], context: BookingContext, token: str, type_id: int,
               start: datetime, **fields: str) -> BookingOutcome:
    """One booking page submission, in its own session (its own connection)."""
    async with sessions() as session:
        outcome = await do_book_from_link(session, context, token, type_id=str(type_id), start=start.isoformat(),
                                          zone=fields.pop("zone", "Europe/Amsterdam"),
                                          language=fields.pop("language", "nl"), **fields)
        await session.commit()
        return outcome


async def count(sessions: async_sessionmaker[AsyncSession], model: Any, *where: Any) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def active_bookings(sessions: async_sessionmaker[AsyncSession]) -> list[Booking]:
    async with sessions() as session:
        stmt = select(Booking).where(Booking.status.in_(("requested", "confirmed"))).order_by(Booking.id)
        return list((await session.execute(stmt)).scalars())


async def exchanges(sessions: async_sessionmaker[AsyncSession], engagement_id: int) -> list[Exchange]:
    async with sessions() as session:
        stmt = select(Exchange).where(Exchange.engagement_id == engagement_id).order_by(Exchange.id)
        return list((await session.execute(stmt)).scalars())


async def pending_tasks(sessions: async_sessionmaker[AsyncSession]) -> dict[str, datetime]:
    async with sessions() as session:
        stmt = select(Task).where(Task.status == "pending", Task.key.like("booking-%"))
        return {t.key: t.due_at for t in (await session.execute(stmt)).scalars()}


async def outbox(sessions: async_sessionmaker[AsyncSession]) -> list[MailOutbox]:
    async with sessions() as session:
        return list((await session.execute(select(MailOutbox).order_by(MailOutbox.id))).scalars())


def calendar_of(raw: bytes) -> tuple[str, Calendar]:
    """The text/calendar part of a mail: its method parameter and the parsed calendar."""
    message = message_from_bytes(raw, policy=default_policy)
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return part.get_param("method"), Calendar.from_ical(part.get_content())
    raise AssertionError("no text/calendar part")
