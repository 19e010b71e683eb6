"""How a run of new exchanges changes an engagement's inbox summary (pure rule).

An inbound exchange starts (or continues) the wait for an answer and counts as unread;
an outbound answer on any channel ends the wait and clears unread. Internal notes change
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SummaryChange:
    reset: bool  # an answer was sent: waiting/unread restart from the values below
    first_waiting_at: datetime | None  # first inbound after the last answer (or in the run)
    unread: int  # inbound count after the last answer (or added, without a reset)
    last_inbound_channel: str | None


def fold(run: list[tuple[str, str, datetime]]) -> SummaryChange:
    """``run`` is [(direction, channel, at)] in logbook order."""
    reset, first, unread, channel = False, None, 0, None
    for direction, chan, at in run:
        if direction == "in":
            first = first or at
            unread += 1
            channel = chan
        elif direction == "out":
            reset, first, unread = True, None, 0
    return SummaryChange(reset, first, unread, channel)
