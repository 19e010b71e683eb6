"""A coach's availability and agreements: weekly windows per channel, holidays and
absence (by hand or imported from an .ics file), response-time commitments (the coach's
defaults and an engagement's own). ``check_*`` validate, ``do_*`` write in the caller's
unit of work (and note the change in the audit trail)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.core.inputs import parse_int
from ecoach.actions.audit import record_audit
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.core.agreements import CHANNELS, UNITS
from ecoach.core.working_time import local_to_utc
from ecoach.logbook.availability_models import (
    AbsenceReply,
    AvailabilityException,
    AvailabilityWindow,
    CoachAgreement,
    EngagementAgreement,
)
from ecoach.logbook.models import Coach, Engagement

log = logging.getLogger(__name__)

KINDS = ("absence", "holiday")
MAX_WINDOWS = 100
MAX_AMOUNT = 999
MAX_REMIND_MINUTES = 7 * 24 * 60
MAX_DAYS = 366


def check_time(value: Any, field: str) -> int:
    """"HH:MM" to minutes since midnight."""
    try:
        parsed = time.fromisoformat(str(value).strip())
    except ValueError:
        raise ActionError("time_invalid", N_("Write times like 09:00 (%(field)s)."), field=field) from None
    return parsed.hour * 60 + parsed.minute


def check_date(value: Any, field: str) -> date:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ActionError("date_invalid", N_("Write dates like 2026-12-24 (%(field)s)."), field=field) from None


def check_channel(value: Any) -> str:
    if value not in CHANNELS:
        raise ActionError("channel_invalid", N_("Choose one of: all, mail, chat, sessions."))
    return str(value)


async def do_add_windows(
    session: AsyncSession, coach_id: int, *, channel: str, weekdays: list[Any], start: Any, end: Any,
    now: datetime,
) -> list[AvailabilityWindow]:
    """One window per chosen weekday. An end at or before the start runs past midnight;
    equal start and end make a whole day."""
    channel = check_channel(channel)
    days = sorted({d for d in (parse_int(w, high=6) for w in weekdays) if d is not None})
    if not days:
        raise ActionError("weekdays_missing", N_("Choose at least one day."))
    start_minute, end_minute = check_time(start, "start"), check_time(end, "end")
    existing = (await session.execute(select(AvailabilityWindow.id).where(
        AvailabilityWindow.coach_id == coach_id))).all()
    if len(existing) + len(days) > MAX_WINDOWS:
        raise ActionError("windows_too_many", N_("At most %(limit)s windows."), limit=MAX_WINDOWS)
    rows = [AvailabilityWindow(coach_id=coach_id, channel=channel, weekday=d, start_minute=start_minute,
                               end_minute=end_minute) for d in days]
    session.add_all(rows)
    await session.flush()
    record_audit(session, "availability_changed", coach_id=coach_id, now=now, added=len(rows), channel=channel)
    return rows


async def do_delete_window(session: AsyncSession, coach_id: int, window_id: int, *, now: datetime) -> None:
    result = await session.execute(delete(AvailabilityWindow).where(
        AvailabilityWindow.id == window_id, AvailabilityWindow.coach_id == coach_id))
    if not result.rowcount:
        raise NotFound("window_unknown", N_("This window does not exist."))
    record_audit(session, "availability_changed", coach_id=coach_id, now=now, removed=1)


@dataclass(frozen=True)
class ExceptionInput:
    kind: str
    first_day: date
    last_day: date
    title: str = ""
    auto_reply: bool = True
    return_note: str = ""
    substitute: str = ""
    emergency_contact: str = ""


def check_exception(form: dict[str, Any]) -> ExceptionInput:
    kind = str(form.get("kind", "absence"))
    if kind not in KINDS:
        raise ActionError("kind_invalid", N_("Choose absence or holiday."))
    first = check_date(form.get("first_day"), "first day")
    last = check_date(form.get("last_day") or form.get("first_day"), "last day")
    if last < first:
        raise ActionError("dates_reversed", N_("The last day comes before the first day."))
    if (last - first).days >= MAX_DAYS:
        raise ActionError("dates_too_long", N_("An exception lasts at most a year."))
    text = {k: str(form.get(k, "")).strip() for k in ("title", "return_note", "substitute", "emergency_contact")}
    if len(text["return_note"]) > 2000 or any(len(text[k]) > 200 for k in ("title",)) \
            or any(len(text[k]) > 500 for k in ("substitute", "emergency_contact")):
        raise ActionError("text_too_long", N_("One of the texts is too long."))
    return ExceptionInput(kind=kind, first_day=first, last_day=last, auto_reply=bool(form.get("auto_reply")), **text)


def day_span(zone: str, first: date, last: date) -> tuple[datetime, datetime]:
    """Local days first..last (inclusive) as a UTC span."""
    tz = ZoneInfo(zone)
    return (local_to_utc(datetime.combine(first, time()), tz),
            local_to_utc(datetime.combine(last + timedelta(days=1), time()), tz))


async def do_add_exception(
    session: AsyncSession, coach: Coach, given: ExceptionInput, now: datetime
) -> AvailabilityException:
    starts, ends = day_span(coach.time_zone, given.first_day, given.last_day)
    row = AvailabilityException(
        coach_id=coach.id, kind=given.kind, title=given.title, first_day=given.first_day,
        last_day=given.last_day, starts_at=starts, ends_at=ends, auto_reply=given.auto_reply,
        return_note=given.return_note, substitute=given.substitute,
        emergency_contact=given.emergency_contact, created_at=now,
    )
    session.add(row)
    await session.flush()
    record_audit(session, "absence_changed", coach_id=coach.id, now=now, added=1, kind=given.kind)
    return row


async def do_delete_exception(session: AsyncSession, coach_id: int, exception_id: int, *, now: datetime,
                              audit: bool = True) -> None:
    """Remove a day off or absence (``audit=False``: part of a larger change that is
    noted as a whole, an .ics import)."""
    found = (await session.execute(select(AvailabilityException.id).where(
        AvailabilityException.id == exception_id, AvailabilityException.coach_id == coach_id))).first()
    if found is None:
        raise NotFound("exception_unknown", N_("This exception does not exist."))
    await session.execute(delete(AbsenceReply).where(AbsenceReply.exception_id == exception_id))
    await session.execute(delete(AvailabilityException).where(AvailabilityException.id == exception_id))
    if audit:
        record_audit(session, "absence_changed", coach_id=coach_id, now=now, removed=1)


# --- agreements ----------------------------------------------------------------------

AGREEMENT_FIELDS = ("mail_amount", "mail_unit", "chat_amount", "chat_unit", "remind_minutes", "acknowledge")


def check_agreement(form: dict[str, Any], *, inherit: bool) -> dict[str, Any]:
    """Form values to agreement columns. With ``inherit`` an empty field means "as the
    coach's default" (None)."""
    values: dict[str, Any] = {}
    for channel in ("mail", "chat"):
        amount = str(form.get(f"{channel}_amount", "")).strip()
        unit = str(form.get(f"{channel}_unit", "")).strip()
        if inherit and amount == "":
            values[f"{channel}_amount"], values[f"{channel}_unit"] = None, None
            continue
        if parse_int(amount, high=MAX_AMOUNT) is None:
            raise ActionError("amount_invalid", N_("Give a whole number from 0 to %(limit)s."), limit=MAX_AMOUNT)
        if unit not in UNITS:
            raise ActionError("unit_invalid", N_("Choose working hours or working days."))
        values[f"{channel}_amount"], values[f"{channel}_unit"] = int(amount), unit
    remind = str(form.get("remind_minutes", "")).strip()
    if inherit and remind == "":
        values["remind_minutes"] = None
    elif parse_int(remind, high=MAX_REMIND_MINUTES) is None:
        raise ActionError("remind_invalid", N_("The reminder comes 0 to %(limit)s minutes before."),
                          limit=MAX_REMIND_MINUTES)
    else:
        values["remind_minutes"] = int(remind)
    ack = str(form.get("acknowledge", "")).strip()
    values["acknowledge"] = None if inherit and ack in ("", "inherit") else ack in ("on", "yes", "1", "true")
    return values


async def _upsert(session: AsyncSession, model: type[Any], key: dict[str, int], values: dict[str, Any],
                  now: datetime) -> None:
    row = await session.get(model, next(iter(key.values())))
    if row is None:
        session.add(model(**key, updated_at=now, **values))
    else:
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = now
    await session.flush()


async def do_save_coach_agreement(session: AsyncSession, coach_id: int, values: dict[str, Any], now: datetime) -> None:
    await _upsert(session, CoachAgreement, {"coach_id": coach_id}, values, now)
    record_audit(session, "commitments_changed", coach_id=coach_id, now=now)


async def do_save_engagement_agreement(
    session: AsyncSession, engagement_id: int, values: dict[str, Any], now: datetime
) -> None:
    """An engagement's own settings; all None removes them (back to the coach's)."""
    row = await session.get(EngagementAgreement, engagement_id)
    engagement = await session.get(Engagement, engagement_id)
    record_audit(session, "commitments_changed", coach_id=engagement.coach_id if engagement else None,
                 engagement_id=engagement_id, now=now)
    if all(v is None for v in values.values()):
        if row is not None:
            await session.delete(row)
        await session.flush()
        return
    await _upsert(session, EngagementAgreement, {"engagement_id": engagement_id}, values, now)
