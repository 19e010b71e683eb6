"""Goal reviews: after every ``sessions.review_every``-th session the coach is prompted to
look at the goal scores so far and decide: **continue**, **adjust** the goals (a new
contract version, which the coachee accepts again) or **round off** (the evaluation and
the four-supports questionnaire go to the coachee).

The prompt is a row (``session_review``, one per engagement and session number) and an
internal entry in the timeline; the decision, the scores given with it and the coach's
note are recorded in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import session_goals
from ecoach.actions.errors import ActionError, Conflict, N_, NotFound
from ecoach.actions.exchanges import NewExchange, Recorded, record_exchanges
from ecoach.actions.form_links import do_send_form
from ecoach.core.i18n import gettext_for
from ecoach.core.session_forms import MAX_TEXT, check_goal_scores
from ecoach.logbook import session_queries
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.models import Coach, Engagement
from ecoach.logbook.session_models import SessionReview
from ecoach.settings import Settings

log = logging.getLogger(__name__)

DECISIONS = {"continue": N_("continue"), "adjust": N_("adjust the goals"), "round_off": N_("round off")}
PROMPT_NOTE = N_("Time for a review: %(number)s sessions held. Look at the goal scores so far and decide: "
                 "continue, adjust the goals or round off.")
DECIDED_NOTE = N_("Review after %(number)s sessions: %(decision)s.")


async def _note(session: AsyncSession, engagement: Engagement, text: str, external_id: str, author: str,
                author_name: str, now: datetime) -> Recorded:
    item = NewExchange(engagement_id=engagement.id, channel="system", direction="internal", author=author,
                       author_name=author_name, text=text, external_id=external_id, force=True)
    [result] = await record_exchanges(session, [item], now)
    if isinstance(result, ActionError):
        raise result
    return result


async def do_open_review(session: AsyncSession, engagement: Engagement, booking: Booking, number: int, *,
                         now: datetime) -> SessionReview:
    """The review prompt after the ``number``-th session, once."""
    stmt = select(SessionReview).where(SessionReview.engagement_id == engagement.id,
                                       SessionReview.session_number == number)
    existing = (await session.execute(stmt)).scalar_one_or_none()
    if existing is not None:
        return existing
    review = SessionReview(engagement_id=engagement.id, booking_id=booking.id, session_number=number,
                           created_at=now)
    session.add(review)
    await session.flush()
    coach = await session.get(Coach, engagement.coach_id)
    assert coach is not None
    text = gettext_for(coach.language)(PROMPT_NOTE) % {"number": number}
    recorded = await _note(session, engagement, text, f"review:{number}:prompt", "system", "ecoach", now)
    review.exchange_id = recorded.exchange.id
    log.info("review after session %s prompted in engagement %s", number, engagement.id)
    return review


def check_decision(decision: object, note: object) -> tuple[str, str | None]:
    if decision not in DECISIONS:
        raise ActionError("review_decision", N_("Choose: continue, adjust the goals or round off."))
    text = str(note or "").strip()
    if len(text) > MAX_TEXT:
        raise ActionError("review_note_long", N_("Please keep the note under %(limit)s characters."), limit=MAX_TEXT)
    return str(decision), text or None


async def do_decide_review(session: AsyncSession, coach: Coach, engagement: Engagement, review_id: int,
                           form: Mapping[str, Any], *, settings: Settings, now: datetime) -> SessionReview:
    """Record the decision with the scores and note given; rounding off sends the
    evaluation forms, adjusting leaves the new contract version to the contract page."""
    review = await session_queries.get_review(session, engagement.id, review_id)
    if review is None:
        raise NotFound("review_unknown", N_("This review does not exist."))
    if review.decided_at is not None:
        raise Conflict("review_decided", N_("This review has been decided already."))
    decision, note = check_decision(form.get("decision"), form.get("note"))
    checked = check_goal_scores(form, await session_goals.current_goals(session, engagement))
    if not checked.ok:
        raise ActionError("review_scores", N_("Choose a score from 1 to 10."))
    review.decision, review.note, review.decided_at = decision, note, now
    _ = gettext_for(coach.language)
    text = _(DECIDED_NOTE) % {"number": review.session_number, "decision": _(DECISIONS[decision])}
    await _note(session, engagement, text + (f"\n\n{note}" if note else ""), f"review:{review.session_number}:decided",
                "coach", coach.name, now)
    scores = {g["id"]: g["score"] for g in checked.answers["goals"] if g["score"] is not None}
    await session_goals.record_scores(session, engagement, scores, source="review", now=now, source_id=review.id)
    if decision == "adjust":
        await session_goals.do_adjust_goals(session, engagement, now=now)
    if decision == "round_off" and engagement.status == "active":
        await do_send_form(session, engagement, kind="evaluation", settings=settings, now=now)
        await do_send_form(session, engagement, kind="supports", round="end", settings=settings, now=now)
    await session.flush()
    log.info("review %s of engagement %s decided: %s", review.id, engagement.id, decision)
    return review
