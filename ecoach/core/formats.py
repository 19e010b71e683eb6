"""Dates, times and names as a reader sees them: one format per language, always 24-hour,
in the reader's own time zone. Every page, mail text, live message and logbook notice goes
through these, so "3 mrt 2027, 14:05" never stands beside "Mar 3, 2027, 2:05 PM".

The browser renders live messages with ``ecoach.formatWhen`` (static/timeline.js), built to
give the same text as ``moment`` (checked by tests/test_ux_formats.py).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time

from ecoach.core.i18n import translations

# Babel patterns; HH is the 24-hour clock in both languages.
MOMENT = "d MMM y, HH:mm"  # timeline, lists: 3 mrt 2027, 14:05
DAY = "EEEE d MMMM y"  # a session's day: woensdag 3 maart 2027
DAY_SHORT = "EEEE d MMMM"  # within the coming weeks: woensdag 3 maart
DATE = "d MMMM y"  # a date without a weekday: 3 maart 2027
TIME = "HH:mm"
MONTH = "LLLL y"


def _local(at: datetime, zone: str) -> datetime:
    return at.astimezone(ZoneInfo(zone))


def moment(at: datetime | None, zone: str, language: str) -> str:
    return "" if at is None else format_datetime(_local(at, zone), MOMENT, locale=language)


def day(at: datetime | date, zone: str | None, language: str, *, year: bool = True) -> str:
    """The day, with its weekday; a datetime is taken in ``zone`` first."""
    if isinstance(at, datetime):
        at = _local(at, zone or "UTC").date()
    return format_date(at, DAY if year else DAY_SHORT, locale=language)


def plain_date(value: date, language: str) -> str:
    return format_date(value, DATE, locale=language)


def clock(at: datetime, zone: str, language: str) -> str:
    return format_time(_local(at, zone), TIME, locale=language)


def span(start: datetime, end: datetime, zone: str, language: str, *, with_zone: bool = True) -> str:
    """"woensdag 3 maart 2027, 14:00–15:00 (Europe/Amsterdam)"."""
    first = format_datetime(_local(start, zone), f"{DAY}, {TIME}", locale=language)
    text = f"{first}–{clock(end, zone, language)}"
    return f"{text} ({zone})" if with_zone else text


def language_name(code: str, language: str) -> str:
    """A language's name in the reader's language: "Nederlands", "Dutch"."""
    name = Locale.parse(language).languages.get(code, code)
    return name[:1].upper() + name[1:]


def duration(minutes: int, language: str) -> str:
    """Whole days, else whole hours, else minutes: "1 dag", "36 hours", "90 minuten"."""
    t = translations(language)
    if minutes and minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return t.ngettext("%(num)s day", "%(num)s days", days) % {"num": days}
    if minutes and minutes % 60 == 0:
        hours = minutes // 60
        return t.ngettext("%(num)s hour", "%(num)s hours", hours) % {"num": hours}
    return t.ngettext("%(num)s minute", "%(num)s minutes", minutes) % {"num": minutes}


def ago(at: datetime | None, now: datetime, language: str) -> str:
    from babel.dates import format_timedelta

    if at is None:
        return ""
    return format_timedelta(now - at, granularity="minute", threshold=1.5, locale=language)


def split_minutes(minutes: int) -> tuple[int, str]:
    """A stored number of minutes as an amount and the largest whole unit, for forms."""
    if minutes and minutes % (24 * 60) == 0:
        return minutes // (24 * 60), "days"
    if minutes and minutes % 60 == 0:
        return minutes // 60, "hours"
    return minutes, "minutes"


UNIT_MINUTES = {"minutes": 1, "hours": 60, "days": 24 * 60}


def as_minutes(amount: int, unit: str) -> int:
    return amount * UNIT_MINUTES.get(unit, 1)
