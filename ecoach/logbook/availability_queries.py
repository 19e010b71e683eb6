"""Reading availability and agreements: working calendars and commitment policies.

``get_working_calendar`` is what other areas use (booking asks for channel "sessions"):
the coach's windows for that channel, or their "all" windows when the channel has none,
or office hours (``DEFAULT_WEEK``) when the coach set none at all; with every holiday and
absence cut out, in the coach's time zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.core.agreements import DEFAULT_POLICY, DEFAULT_WEEK, Policy
from ecoach.core.working_time import ClosedDays, ClosedSpan, WeeklyWindow, WorkingCalendar, parse_week
from ecoach.logbook.availability_models import (
    AvailabilityException,
    AvailabilityWindow,
    CoachAgreement,
    Commitment,
    EngagementAgreement,
)
from ecoach.logbook.models import Coach, Coachee, Engagement


_OFFICE_HOURS = tuple(parse_week(DEFAULT_WEEK))


def minute_to_time(minute: int) -> time:
    return time(minute // 60 % 24, minute % 60)


def window_of(row: Any) -> WeeklyWindow:
    return WeeklyWindow(row.weekday, minute_to_time(row.start_minute), minute_to_time(row.end_minute))


def closed_period_of(row: Any) -> ClosedDays | ClosedSpan:
    if row.first_day is not None and row.last_day is not None:
        return ClosedDays(row.first_day, row.last_day)
    return ClosedSpan(row.starts_at, row.ends_at)


def pick_windows(rows: Iterable[Any], channel: str) -> list[WeeklyWindow]:
    """The channel's own windows, else the "all" windows, else office hours."""
    by_channel: dict[str, list[WeeklyWindow]] = {}
    for row in rows:
        by_channel.setdefault(row.channel, []).append(window_of(row))
    return by_channel.get(channel) or by_channel.get("all") or list(_OFFICE_HOURS)


async def get_working_calendar(
    session: AsyncSession, coach_id: int, channel: str = "all", *, since: datetime | None = None
) -> WorkingCalendar:
    """The coach's working time for a channel. ``since`` skips exceptions that ended
    before it (they cannot matter from then on)."""
    calendars = await get_working_calendars(session, [coach_id], [channel], since=since)
    return calendars[(coach_id, channel)]


async def get_working_calendars(
    session: AsyncSession, coach_ids: Iterable[int], channels: Iterable[str], *,
    since: datetime | None = None, zones: dict[int, str] | None = None,
) -> dict[tuple[int, str], WorkingCalendar]:
    """Calendars for several coaches and channels in three queries (two when the coaches'
    time zones are given)."""
    ids, wanted = sorted(set(coach_ids)), sorted(set(channels))
    if not ids:
        return {}
    # Plain rows from statements built once (the compiled form is cached): this runs on
    # the logbook's write path, once per batch of chat messages.
    connection = await session.connection()
    if zones is None or not set(ids) <= set(zones):
        zones = dict((await connection.execute(_ZONES, {"ids": ids})).all())  # type: ignore[arg-type]
    windows: dict[int, list[Any]] = {}
    closed: dict[int, list[ClosedDays | ClosedSpan]] = {}
    # Windows and exceptions in one statement (one round trip: this is on the write path).
    found = (await connection.execute(_CALENDAR, {"ids": ids}) if since is None
             else await connection.execute(_CALENDAR_SINCE, {"ids": ids, "since": since}))
    for row in found:
        if row.weekday is not None:
            windows.setdefault(row.coach_id, []).append(row)
        else:
            closed.setdefault(row.coach_id, []).append(closed_period_of(row))
    return {
        (cid, channel): WorkingCalendar(zones[cid], pick_windows(windows.get(cid, ()), channel), closed.get(cid, ()))
        for cid in ids if cid in zones for channel in wanted
    }


_IDS = bindparam("ids", expanding=True)
_ZONES = select(Coach.__table__.c.id, Coach.__table__.c.time_zone).where(Coach.__table__.c.id.in_(_IDS))
_w = AvailabilityWindow.__table__.c
_WINDOWS = select(_w.coach_id, _w.channel, _w.weekday, _w.start_minute, _w.end_minute).where(_w.coach_id.in_(_IDS))
_x = AvailabilityException.__table__.c
_EXCEPTIONS = select(_x.coach_id, _x.first_day, _x.last_day, _x.starts_at, _x.ends_at).where(_x.coach_id.in_(_IDS))
_EXCEPTIONS_SINCE = _EXCEPTIONS.where(_x.ends_at > bindparam("since", type_=_x.ends_at.type))



def _none(column: Any) -> Any:
    return literal(None, column.type).label(column.name)


# A window row has a weekday; an exception row has none (typed NULLs: the first SELECT
# gives the UNION its result types).
_CALENDAR_WINDOWS = select(_w.coach_id, _w.channel, _w.weekday, _w.start_minute, _w.end_minute,
                           _none(_x.first_day), _none(_x.last_day), _none(_x.starts_at),
                           _none(_x.ends_at)).where(_w.coach_id.in_(_IDS))
_NO_WINDOW = (_none(_w.channel), _none(_w.weekday), _none(_w.start_minute), _none(_w.end_minute))
_CALENDAR = union_all(_CALENDAR_WINDOWS, select(_x.coach_id, *_NO_WINDOW, _x.first_day, _x.last_day, _x.starts_at,
                                                _x.ends_at).where(_x.coach_id.in_(_IDS)))
_CALENDAR_SINCE = union_all(_CALENDAR_WINDOWS, _EXCEPTIONS_SINCE.with_only_columns(
    _x.coach_id, *_NO_WINDOW, _x.first_day, _x.last_day, _x.starts_at, _x.ends_at))


async def get_windows(session: AsyncSession, coach_id: int) -> list[AvailabilityWindow]:
    stmt = (
        select(AvailabilityWindow)
        .where(AvailabilityWindow.coach_id == coach_id)
        .order_by(AvailabilityWindow.channel, AvailabilityWindow.weekday, AvailabilityWindow.start_minute)
    )
    return list((await session.execute(stmt)).scalars())


async def get_exceptions(
    session: AsyncSession, coach_id: int, *, ending_after: datetime | None = None
) -> list[AvailabilityException]:
    stmt = select(AvailabilityException).where(AvailabilityException.coach_id == coach_id)
    if ending_after is not None:
        stmt = stmt.where(AvailabilityException.ends_at > ending_after)
    stmt = stmt.order_by(AvailabilityException.starts_at, AvailabilityException.id)
    return list((await session.execute(stmt)).scalars())


async def get_current_absence(
    session: AsyncSession, coach_id: int, now: datetime
) -> AvailabilityException | None:
    """The exception with an auto-reply the coach is in right now (the latest ending)."""
    stmt = (
        select(AvailabilityException)
        .where(AvailabilityException.coach_id == coach_id, AvailabilityException.ends_at > now,
               AvailabilityException.starts_at <= now, AvailabilityException.auto_reply.is_(True))
        .order_by(AvailabilityException.ends_at.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


FIELDS = ("mail_amount", "mail_unit", "chat_amount", "chat_unit", "remind_minutes", "acknowledge")


def _policy(coach: Any, own: Any) -> Policy:
    """The defaults, overridden by the coach's agreement, overridden by the engagement's."""
    policy = DEFAULT_POLICY
    if coach is not None:
        policy = policy.overridden(**{f: getattr(coach, f) for f in FIELDS})
    if own is not None:
        policy = policy.overridden(**{f: getattr(own, f) for f in FIELDS})
    return policy


def _split(row: Any, model: Any) -> Any:
    values = {f: getattr(row, f"{model.__tablename__}_{f}") for f in FIELDS}
    return None if all(v is None for v in values.values()) else SimpleNamespace(**values)


async def get_coach_policy(session: AsyncSession, coach_id: int) -> Policy:
    return _policy(await session.get(CoachAgreement, coach_id), None)


async def get_policies(session: AsyncSession, engagement_ids: Iterable[int]) -> dict[int, Policy]:
    """Each engagement's commitment policy (its own settings over its coach's), one query."""
    ids = sorted(set(engagement_ids))
    if not ids:
        return {}
    stmt = (
        select(Engagement.id, CoachAgreement, EngagementAgreement)
        .outerjoin(CoachAgreement, CoachAgreement.coach_id == Engagement.coach_id)
        .outerjoin(EngagementAgreement, EngagementAgreement.engagement_id == Engagement.id)
        .where(Engagement.id.in_(ids))
    )
    return {row[0]: _policy(row[1], row[2]) for row in (await session.execute(stmt)).all()}


async def get_policies_and_zones(
    session: AsyncSession, engagement_ids: Iterable[int]
) -> tuple[dict[int, Policy], dict[int, str]]:
    """Each engagement's policy, and its coach's time zone by coach id, in one query."""
    ids = sorted(set(engagement_ids))
    if not ids:
        return {}, {}
    policies, zones = {}, {}
    for row in await (await session.connection()).execute(_POLICIES_AND_ZONES, {"ids": ids}):
        policies[row.id] = _policy(_split(row, CoachAgreement), _split(row, EngagementAgreement))
        zones[row.coach_id] = row.time_zone
    return policies, zones


def _table_columns(model: Any) -> list[Any]:
    table = model.__table__
    return [table.c[f].label(f"{table.name}_{f}") for f in FIELDS]


# Built once, on tables (no ORM entities): on the chat's write path, once per batch.
_e, _coach = Engagement.__table__, Coach.__table__
_POLICIES_AND_ZONES = (
    select(_e.c.id, _coach.c.id.label("coach_id"), _coach.c.time_zone,
           *_table_columns(CoachAgreement), *_table_columns(EngagementAgreement))
    .select_from(_e.join(_coach, _coach.c.id == _e.c.coach_id)
                 .outerjoin(CoachAgreement.__table__, CoachAgreement.__table__.c.coach_id == _e.c.coach_id)
                 .outerjoin(EngagementAgreement.__table__, EngagementAgreement.__table__.c.engagement_id == _e.c.id))
    .where(_e.c.id.in_(_IDS))
)


async def get_policy(session: AsyncSession, engagement_id: int) -> Policy:
    return (await get_policies(session, [engagement_id])).get(engagement_id, DEFAULT_POLICY)


async def get_engagement_agreement(session: AsyncSession, engagement_id: int) -> EngagementAgreement | None:
    return await session.get(EngagementAgreement, engagement_id)


async def get_commitments(session: AsyncSession, engagement_id: int, *, limit: int = 50) -> list[Commitment]:
    """An engagement's latest commitments, newest first."""
    stmt = (select(Commitment).where(Commitment.engagement_id == engagement_id)
            .order_by(Commitment.id.desc()).limit(limit))
    return list((await session.execute(stmt)).scalars())


async def get_report_rows(session: AsyncSession, coach_id: int, since: datetime, zone: str):  # type: ignore[no-untyped-def]
    """(engagement id, month, received, due, fulfilled) of one coach's commitments since
    then (index ix_commitment_report), and the engagements' coachee names."""
    stmt = (
        select(Commitment.engagement_id, Commitment.received_at, Commitment.due_at, Commitment.fulfilled_at)
        .where(Commitment.coach_id == coach_id, Commitment.received_at >= since)
    )
    tz = ZoneInfo(zone)
    rows = [(r[0], r[1].astimezone(tz).strftime("%Y-%m"), r[1], r[2], r[3]) for r in await session.execute(stmt)]
    ids = {r[0] for r in rows}
    names: dict[int, str] = {}
    if ids:
        stmt2 = (select(Engagement.id, Coachee.name).join(Coachee, Coachee.id == Engagement.coachee_id)
                 .where(Engagement.id.in_(ids), Engagement.coach_id == coach_id))
        names = {r[0]: r[1] for r in await session.execute(stmt2)}
    return rows, names
