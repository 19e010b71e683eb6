"""Response-time agreements between coach and coachee (pure rules).

A commitment is "answered within N working hours" or "within N working days", counted in
the coach's working time for the channel the message came in on. One **working day** is
the coach's average working day for that channel: the weekly windows' total time divided
by the number of weekdays that have a window (Mon-Fri 09:00-17:00: 8 hours; chat on
Tuesday and Thursday 19:00-21:00: 2 hours). So "2 working days" from Monday 10:00 with
Mon-Fri 09:00-17:00 is Wednesday 10:00, and holidays or absence push it further out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ecoach.core.working_time import WorkingCalendar

# Weekly windows per channel; a channel without windows of its own uses "all".
CHANNELS = ("all", "mail", "chat", "sessions")
# Windows a coach has before setting any: office hours in their own time zone.
DEFAULT_WEEK = "mon-fri 09:00-17:00"
UNITS = ("hours", "days")
# Inbound exchanges on these channels need an answer.
ANSWERABLE = ("chat", "mail")
STATES = ("on_track", "due_soon", "overdue")


@dataclass(frozen=True)
class Policy:
    """What a coach promises; an amount of 0 means no commitment on that channel."""

    mail_amount: int = 2
    mail_unit: str = "days"
    chat_amount: int = 4
    chat_unit: str = "hours"
    remind_minutes: int = 120  # remind the coach this long before the deadline
    acknowledge: bool = False  # tell the coachee when the answer is due

    def within(self, channel: str) -> tuple[int, str] | None:
        amount, unit = ((self.mail_amount, self.mail_unit) if channel == "mail"
                        else (self.chat_amount, self.chat_unit) if channel == "chat" else (0, "hours"))
        return (amount, unit) if amount > 0 else None

    def overridden(self, **values: object) -> Policy:
        """This policy with the non-None values replacing its own (an engagement's own
        settings over the coach's defaults)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})  # type: ignore[arg-type]


DEFAULT_POLICY = Policy()


def commitment_time(amount: int, unit: str, calendar: WorkingCalendar) -> timedelta:
    """The working time an agreement grants, e.g. 2 days -> 16 hours with 8-hour days."""
    if unit == "days":
        return amount * calendar.average_day()
    return timedelta(hours=amount)


def due_state(due_at: datetime | None, now: datetime, remind_before: timedelta) -> str | None:
    """on_track, due_soon (within the reminder lead) or overdue; None with nothing due."""
    if due_at is None:
        return None
    if now >= due_at:
        return "overdue"
    if due_at - now <= remind_before:
        return "due_soon"
    return "on_track"


@dataclass
class Tally:
    """Answers to commitments in one month (of one engagement, or all)."""

    due: int = 0  # commitments whose answer was due (or given) by now
    within: int = 0  # answered by the due time
    pending: int = 0  # open and not yet due: not counted either way
    answer_times: list[timedelta] | None = None

    @property
    def share(self) -> float | None:
        return self.within / self.due if self.due else None

    @property
    def median(self) -> timedelta | None:
        times = sorted(self.answer_times or [])
        if not times:
            return None
        middle = len(times) // 2
        return times[middle] if len(times) % 2 else (times[middle - 1] + times[middle]) / 2


def tally(rows: list[tuple[int, str, datetime, datetime, datetime | None]], now: datetime
          ) -> tuple[dict[tuple[int, str], Tally], dict[str, Tally]]:
    """Rows (engagement id, month, received, due, fulfilled or None) to tallies per
    engagement and month, and per month."""
    per: dict[tuple[int, str], Tally] = {}
    months: dict[str, Tally] = {}
    for engagement_id, month, received, due, fulfilled in rows:
        for t in (per.setdefault((engagement_id, month), Tally(answer_times=[])),
                  months.setdefault(month, Tally(answer_times=[]))):
            if fulfilled is None and due > now:
                t.pending += 1
                continue
            t.due += 1
            if fulfilled is not None:
                t.answer_times.append(fulfilled - received)  # type: ignore[union-attr]
                t.within += fulfilled <= due
    return per, months
