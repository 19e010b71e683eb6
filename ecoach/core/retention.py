"""When a closed engagement's logbook is erased (pure rules).

The practice has a policy ("erase N months after closing", 0: never); an engagement can
follow it, choose its own number of months, or never be erased automatically; the coach
can extend a planned erasure. The coach is warned ``warn_days`` before, and an erasure
never comes sooner than ``warn_days`` after its warning, so shortening the policy never
erases anything unannounced.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

NEVER = 0  # keep_months: this engagement is never erased automatically


def add_months(moment: datetime, months: int, zone: str | None = None) -> datetime:
    """The same day and time ``months`` calendar months later (the month's last day when
    it is shorter: 31 January + 1 month is 28 or 29 February), on the calendar of ``zone``
    (the coach's; an aware ``moment``'s own when None). In Amsterdam 31 January 00:30 + 1
    month is 28 February 00:30 there: in UTC that moment is 30 January, whose month later
    is 1 March in Amsterdam."""
    if zone is None:
        return _shifted(moment, months)
    local = moment.astimezone(ZoneInfo(zone))
    # The wall time a month on (a time the clock skips that day reads as before the change).
    later = _shifted(local.replace(tzinfo=None), months).replace(tzinfo=local.tzinfo)
    # Through UTC: a skipped wall time comes back as the real time it names (03:30, not 02:30).
    return later.astimezone(timezone.utc).astimezone(moment.tzinfo)


def _shifted(moment: datetime, months: int) -> datetime:
    total = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def months_kept(keep_months: int | None, policy_months: int) -> int:
    """The months an engagement is kept after closing; 0: not erased automatically."""
    return policy_months if keep_months is None else keep_months


def erase_due(closed_at: datetime | None, months: int, extended_until: datetime | None,
              zone: str | None = None) -> datetime | None:
    """When the logbook is erased, before any warning (months counted on the calendar of
    ``zone``, the coach's); None: it is not."""
    if closed_at is None or months <= 0:
        return None
    due = add_months(closed_at, months, zone)
    return max(due, extended_until) if extended_until is not None else due


@dataclass(frozen=True)
class Schedule:
    warn_at: datetime
    erase_at: datetime


def schedule(due: datetime, warned_at: datetime | None, warn_days: int, now: datetime) -> Schedule:
    """When to warn and when to erase: the warning ``warn_days`` before the due time (at
    once when that has passed), and the erasure no sooner than ``warn_days`` after the
    warning (a warning not yet given counts as given now)."""
    notice = timedelta(days=warn_days)
    warn_at = warned_at if warned_at is not None else max(due - notice, now)
    return Schedule(warn_at=warn_at, erase_at=max(due, warn_at + notice))
