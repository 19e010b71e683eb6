"""Closing a session: the coach's summary (shared with the coachee or a private note) and
the action steps agreed, with their dates, in one transaction. The steps are ordinary
action steps (``ecoach.actions.action_steps``): on their date a nudge asks how it went,
unless the coachee has ticked them off. A session is closed once; more can be added to
the logbook as a summary or a note.

Ticking an action step off (the coachee on their chat page, or the coach) is a done state
that can be undone; the first tick is noted in the timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import action_steps
from ecoach.actions import nudges as plans
from ecoach.actions.booking_after import do_add_summary
from ecoach.actions.errors import ActionError, Conflict, N_, NotFound
from ecoach.actions.exchanges import NewExchange, check_message, record_exchanges
from ecoach.core.i18n import gettext_for
from ecoach.logbook import booking_queries as bq
from ecoach.logbook import session_queries
from ecoach.logbook.models import Coach, Engagement
from ecoach.logbook.nudge_models import ActionStep
from ecoach.logbook.session_models import SessionClose
from ecoach.settings import Settings

log = logging.getLogger(__name__)

MAX_STEPS = 5
STEP_DONE = N_("Action step done: %(text)s")
STEP_ROW = N_("Action step %(number)s: %(reason)s")


class StepInvalid(ActionError):
    """A step row is wrong: says which row and why (both translated)."""

    def __init__(self, number: int, inner: ActionError) -> None:
        super().__init__("close_step_invalid", STEP_ROW, number=number, reason=str(inner))
        self.number, self.inner = number, inner

    def translated(self, gettext: Any) -> str:
        return gettext(STEP_ROW) % {"number": self.number, "reason": self.inner.translated(gettext)}


@dataclass(frozen=True)
class StepInput:
    text: str
    due_on: str


def steps_from_form(form: Mapping[str, Any]) -> list[StepInput]:
    """Rows ``step_text_<n>`` / ``step_due_<n>``; a row left wholly empty is skipped."""
    rows = []
    for n in range(1, MAX_STEPS + 1):
        text, due = str(form.get(f"step_text_{n}", "")).strip(), str(form.get(f"step_due_{n}", "")).strip()
        if text or due:
            rows.append(StepInput(text, due))
    return rows


def _check_steps(steps: Sequence[StepInput], engagement: Engagement, now: datetime) -> None:
    """The first wrong row, by its number (the form keeps what was typed)."""
    today = now.astimezone(plans.zone_of(engagement)).date()
    for number, step in enumerate(steps, 1):
        try:
            action_steps.check_action_step(step.text, step.due_on, today=today)
        except ActionError as exc:
            raise StepInvalid(number, exc) from None


async def do_close_session(session: AsyncSession, coach: Coach, booking_id: int, *, summary: object, shared: bool,
                           steps: Sequence[StepInput], settings: Settings, now: datetime) -> SessionClose:
    booking = await bq.get_booking(session, coach.id, booking_id)
    if booking is None or booking.engagement_id is None:
        raise NotFound("booking_unknown", N_("This session does not exist."))
    if await session_queries.get_close(session, booking.id) is not None:
        raise Conflict("session_closed", N_("This session has been closed already. Add anything else to the "
                                            "logbook as a note or a message."))
    engagement = await session.get(Engagement, booking.engagement_id)
    assert engagement is not None
    if not str(summary or "").strip():
        raise ActionError("close_summary_empty", N_("Write a short summary of the session."))
    check_message(summary, settings.max_message_chars)
    if steps and engagement.status != "active":
        raise ActionError("engagement_not_active", N_("This coaching engagement is not active."))
    _check_steps(steps, engagement, now)
    recorded = await do_add_summary(session, coach, booking.id, summary, shared=shared, client_id="close",
                                    now=now, max_chars=settings.max_message_chars)
    for step in steps:
        added, _note = await action_steps.do_add_action_step(
            session, engagement, text=step.text, due_on=step.due_on, by="coach", author_name=coach.name,
            settings=settings, now=now)
        added.booking_id = booking.id
    close = SessionClose(booking_id=booking.id, engagement_id=engagement.id, shared=shared,
                         exchange_id=recorded.exchange.id, created_at=now)
    session.add(close)
    await session.flush()
    log.info("session %s closed with %s action steps", booking.id, len(steps))
    return close


async def do_set_step_done(session: AsyncSession, engagement: Engagement, step_id: int, *, done: bool, by: str,
                           author_name: str, now: datetime) -> ActionStep:
    """Tick an action step off (or undo it). Idempotent: the same tick twice is one."""
    step = await session.get(ActionStep, step_id)
    if step is None or step.engagement_id != engagement.id or step.cancelled_at is not None:
        error = NotFound("action_step_unknown", N_("This action step does not exist (any more)."))
        error.language = engagement.language
        raise error
    if done == (step.done_at is not None):
        return step
    step.done_at = now if done else None
    if done:
        _ = gettext_for(engagement.language)
        item = NewExchange(engagement_id=engagement.id, channel="system",
                           direction="in" if by == "coachee" else "internal", author=by, author_name=author_name,
                           text=_(STEP_DONE) % {"text": step.text}, external_id=f"action-step:{step.id}:done",
                           force=True)
        await record_exchanges(session, [item], now)
    await session.flush()
    return step
