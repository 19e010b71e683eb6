"""How a run of new exchanges changes an engagement's inbox summary (pure rule).

A written message from the coachee (chat or mail) starts (or continues) the wait for an
answer and counts as unread; the coach's own answer on any channel ends the wait and
clears unread. Other inbound entries (a session the coachee booked or moved) count as
unread but ask for no written answer. Entries ecoach makes by itself (nudges, reminders,
author "system") and internal notes change nothing: an automatic message is no answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

WRITTEN = ("chat", "mail")


@dataclass(frozen=True)
class SummaryChange:
    reset: bool  # an answer was sent: waiting/unread restart from the values below
    first_waiting_at: datetime | None  # first inbound after the last answer (or in the run)
    unread: int  # inbound count after the last answer (or added, without a reset)
    last_inbound_channel: str | None  # the written channel the coachee last used


def fold(run: list[tuple[str, str, datetime, str]]) -> SummaryChange:
    """``run`` is [(direction, channel, at, author)] in logbook order."""
    reset, first, unread, channel = False, None, 0, None
    for direction, chan, at, author in run:
        if author == "system":
            continue
        if direction == "in":
            unread += 1
            if chan in WRITTEN:
                first = first or at
                channel = chan
        elif direction == "out":
            reset, first, unread = True, None, 0
    return SummaryChange(reset, first, unread, channel)
