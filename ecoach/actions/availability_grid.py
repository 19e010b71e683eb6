"""The hours that actually apply per channel, and what a change does to them.

A channel with windows of its own uses only those; without, it follows the windows for
all channels (or office hours). So the first "chat: Friday 10:00-12:00" takes chat from
forty hours a week to two: commitments counted in chat working hours stretch by days and
the coachee's page says the chat opens on Fridays only. The availability page shows the
grid and asks before a change makes a channel lose hours (or adds the new hours on top of
the general ones instead)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.availability import check_channel, check_time, do_add_windows
from ecoach.core.agreements import CHANNELS
from ecoach.core.inputs import parse_int
from ecoach.core.working_time import WeeklyWindow
from ecoach.logbook.availability_models import AvailabilityWindow
from ecoach.logbook.availability_queries import pick_windows, window_of

ANSWERED = ("mail", "chat", "sessions")


@dataclass(frozen=True)
class Effective:
    windows: list[WeeklyWindow]
    source: str  # "own", "all" (the general windows) or "default" (office hours)

    @property
    def hours(self) -> float:
        return round(sum((w.nominal for w in self.windows), timedelta()).total_seconds() / 3600, 1)


def effective(rows: list[Any]) -> dict[str, Effective]:
    """Per channel (all, mail, chat, sessions): the windows that apply and where from."""
    channels_with_own = {row.channel for row in rows}
    found = {}
    for channel in CHANNELS:
        source = "own" if channel in channels_with_own else "all" if "all" in channels_with_own else "default"
        if channel == "all" and source == "all":
            source = "own"
        found[channel] = Effective(sorted(pick_windows(rows, channel)), source)
    return found


@dataclass(frozen=True)
class Loss:
    """Adding these windows would take a channel from ``before`` to ``after``."""

    channel: str
    before: Effective
    after: Effective


async def _rows(session: AsyncSession, coach_id: int) -> list[AvailabilityWindow]:
    stmt = select(AvailabilityWindow).where(AvailabilityWindow.coach_id == coach_id)
    return list((await session.execute(stmt)).scalars())


def new_windows(channel: Any, weekdays: list[Any], start: Any, end: Any) -> tuple[str, list[WeeklyWindow]]:
    channel = check_channel(channel)
    days = sorted({d for d in (parse_int(w, high=6) for w in weekdays) if d is not None})
    s, e = check_time(start, "start"), check_time(end, "end")
    fake = [AvailabilityWindow(channel=channel, weekday=d, start_minute=s, end_minute=e) for d in days]
    return channel, [window_of(w) for w in fake]


async def check_loss(session: AsyncSession, coach_id: int, channel: str, windows: list[WeeklyWindow]) -> Loss | None:
    """A channel that follows the general hours and would get fewer of its own."""
    rows = await _rows(session, coach_id)
    before = effective(rows)
    if channel not in ANSWERED or before[channel].source == "own" or not windows:
        return None
    added = [AvailabilityWindow(channel=channel, weekday=w.weekday, start_minute=w.start.hour * 60 + w.start.minute,
                                end_minute=w.end.hour * 60 + w.end.minute) for w in windows]
    after = effective(rows + added)[channel]
    return Loss(channel, before[channel], after) if after.hours < before[channel].hours else None


async def do_add_on_top(session: AsyncSession, coach_id: int, *, channel: str, weekdays: list[Any], start: Any,
                        end: Any, now: datetime) -> None:
    """The channel's general hours become its own, then the new window is added: the
    channel keeps what it had and gains the new hours."""
    rows = await _rows(session, coach_id)
    current = effective(rows)[channel]
    if current.source != "own":
        for w in current.windows:
            session.add(AvailabilityWindow(coach_id=coach_id, channel=channel, weekday=w.weekday,
                                           start_minute=w.start.hour * 60 + w.start.minute,
                                           end_minute=w.end.hour * 60 + w.end.minute))
        await session.flush()
    await do_add_windows(session, coach_id, channel=channel, weekdays=weekdays, start=start, end=end, now=now)
