"""Importing holidays and absence from an .ics file (``icalendar``).

Each VEVENT becomes an exception of the chosen kind; importing the same file again
changes nothing (keyed by the event's UID), an event that moved is updated, and one
marked CANCELLED is removed. All-day events keep their local dates; timed events keep
their instants (floating times are read in the coach's time zone). Events marked free
(TRANSP:TRANSPARENT), events that ended already and repeating events (RRULE: only a
calendar program can expand those faithfully; export the occurrences instead) are skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.audit import record_audit
from ecoach.actions.availability import KINDS, MAX_DAYS, day_span, do_delete_exception
from ecoach.actions.errors import ActionError, N_
from ecoach.core.working_time import local_to_utc
from ecoach.logbook.availability_models import AvailabilityException
from ecoach.logbook.models import Coach

log = logging.getLogger(__name__)

MAX_EVENTS = 2000


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Event:
    uid: str
    title: str
    first_day: date | None
    last_day: date | None
    starts_at: datetime
    ends_at: datetime
    cancelled: bool


def _read(data: bytes, max_bytes: int) -> list[icalendar.Component]:
    if len(data) > max_bytes:
        raise ActionError("ics_too_large", N_("This file is larger than %(limit)s kB."), limit=max_bytes // 1024)
    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except (ValueError, IndexError, KeyError, TypeError):
        raise ActionError("ics_invalid", N_("This is not a calendar file (.ics) that can be read.")) from None
    events = [c for cal in calendars for c in cal.walk("VEVENT")]
    if len(events) > MAX_EVENTS:
        raise ActionError("ics_too_many", N_("This file holds more than %(limit)s events."), limit=MAX_EVENTS)
    return events


def _instant(value: datetime, zone: ZoneInfo) -> datetime:
    if value.tzinfo is None:  # a floating time: the coach's own clock
        return local_to_utc(value, zone)
    return value.astimezone(ZoneInfo("UTC"))


def _event(component: icalendar.Component, zone_name: str) -> _Event | None:
    uid = str(component.get("UID", "")).strip()
    if not uid or component.get("DTSTART") is None:
        return None
    start = component.decoded("DTSTART")
    end = component.decoded("DTEND") if component.get("DTEND") is not None else None
    if end is None and component.get("DURATION") is not None:
        end = start + component.decoded("DURATION")
    title = str(component.get("SUMMARY", "")).strip()[:200]
    cancelled = str(component.get("STATUS", "")).upper() == "CANCELLED"
    if not isinstance(start, datetime):  # all-day: DTEND is the day after the last
        last = (end - timedelta(days=1)) if isinstance(end, date) and not isinstance(end, datetime) and end > start else start
        first_utc, end_utc = day_span(zone_name, start, last)
        return _Event(uid[:500], title, start, last, first_utc, end_utc, cancelled)
    zone = ZoneInfo(zone_name)
    starts = _instant(start, zone)
    ends = _instant(end, zone) if isinstance(end, datetime) else starts
    if ends <= starts:
        return None
    return _Event(uid[:500], title, None, None, starts, ends, cancelled)


async def do_import_ics(
    session: AsyncSession, coach: Coach, data: bytes, *, kind: str, auto_reply: bool, now: datetime,
    max_bytes: int,
) -> ImportResult:
    if kind not in KINDS:
        raise ActionError("kind_invalid", N_("Choose absence or holiday."))
    result = ImportResult()
    existing = {row.ics_uid: row for row in (await session.execute(select(AvailabilityException).where(
        AvailabilityException.coach_id == coach.id, AvailabilityException.ics_uid.is_not(None)))).scalars()}
    for component in _read(data, max_bytes):
        event = _event(component, coach.time_zone)
        skip = (event is None or component.get("RRULE") is not None
                or str(component.get("TRANSP", "")).upper() == "TRANSPARENT"
                or event.ends_at - event.starts_at > timedelta(days=MAX_DAYS))
        if skip or event is None:
            result.skipped += 1
            continue
        row = existing.get(event.uid)
        if event.cancelled:
            if row is not None:
                await do_delete_exception(session, coach.id, row.id, now=now, audit=False)
                existing.pop(event.uid)
                result.removed += 1
            continue
        if event.ends_at <= now and row is None:
            result.skipped += 1
            continue
        _apply(session, coach, row, event, kind, auto_reply, now, result, existing)
    await session.flush()
    log.info("coach %s imported an .ics: %s", coach.id, result)
    record_audit(session, "absence_changed", coach_id=coach.id, now=now, imported=True, added=result.added,
                 updated=result.updated, removed=result.removed)
    return result


def _apply(session: AsyncSession, coach: Coach, row: AvailabilityException | None, event: _Event, kind: str,
           auto_reply: bool, now: datetime, result: ImportResult,
           existing: dict[str | None, AvailabilityException]) -> None:
    values = dict(title=event.title, first_day=event.first_day, last_day=event.last_day,
                  starts_at=event.starts_at, ends_at=event.ends_at)
    if row is None:
        row = AvailabilityException(coach_id=coach.id, kind=kind, auto_reply=auto_reply, return_note="",
                                    substitute="", emergency_contact="", ics_uid=event.uid, created_at=now,
                                    **values)
        session.add(row)
        existing[event.uid] = row
        result.added += 1
        return
    if all(getattr(row, k) == v for k, v in values.items()):
        result.unchanged += 1
        return
    for key, value in values.items():
        setattr(row, key, value)
    result.updated += 1
