"""Answering a form: the coachee through their link, the coach on their side of the
four-supports questionnaire.

The coachee's answers are stored sealed on the form and land in the timeline as one
entry (channel ``form``, from the coachee: unread for the coach, but no written answer
is owed). Goal scores of a check-in or evaluation are recorded as the goals' scores
(source ``checkin`` / ``evaluation``). A form is answered once: sending it again (a
double click, a resend from a flaky connection) changes nothing and shows the same thanks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import session_goals
from ecoach.actions.errors import ActionError, N_
from ecoach.actions.exchanges import NewExchange, check_can_write, record_exchanges
from ecoach.actions.form_links import TITLES, check_form_token, moment
from ecoach.core.i18n import gettext_for
from ecoach.core.session_forms import GOAL_QUESTION, Checked, Goal, check_answers, check_goal_scores, questions_for
from ecoach.core.supports import LIKERT
from ecoach.logbook import queries, session_queries
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.models import Engagement
from ecoach.logbook.session_models import FormRequest

log = logging.getLogger(__name__)

SCORE_SOURCE = {"checkin": "checkin", "evaluation": "evaluation"}


class FormInvalid(ActionError):
    """Some answers are wrong; ``checked.errors`` names each field and why."""

    def __init__(self, checked: Checked) -> None:
        super().__init__("form_invalid", N_("Some answers need another look: see the messages below."))
        self.checked = checked


def answers_text(form: FormRequest, answers: Mapping[str, Any], language: str, booking: Booking | None,
                 zone: str) -> str:
    """The answers as the timeline shows them, in the engagement's language."""
    _ = gettext_for(language)
    title = _(TITLES[form.kind])
    if booking is not None:
        title += " · " + moment(booking.starts_at, zone, language)
    parts = [title]
    fields = answers.get("fields", {})
    for question in questions_for(form.kind, form.respondent):
        value = fields.get(question.name)
        if value in (None, ""):
            continue
        shown = f"{value}/10" if question.kind == "score" else (
            f"{value} ({_(LIKERT[value - 1])})" if question.kind == "likert" else str(value))
        parts.append(f"{_(question.label)}\n{shown}")
    scored = [g for g in answers.get("goals", []) if g.get("score") is not None]
    if scored:
        lines = "\n".join(f"- {g['title']}: {g['score']}/10" for g in scored)
        parts.append(f"{_(GOAL_QUESTION[form.kind])}\n{lines}")
    return "\n\n".join(parts)


async def form_goals(session: AsyncSession, form: FormRequest, engagement: Engagement) -> list[Goal]:
    """The goals a form asks a score for: the engagement's current goals."""
    if form.kind not in GOAL_QUESTION:
        return []
    return await session_goals.current_goals(session, engagement)


async def do_answer_form(session: AsyncSession, token: str, form_data: Mapping[str, Any], *,
                         now: datetime) -> FormRequest:
    """Check and record the coachee's answers; raise ``FormInvalid`` with every wrong field."""
    form, engagement, booking = await check_form_token(session, token, now)
    if form.answered_at is not None:
        return form
    try:
        check_can_write(engagement, "in")
    except ActionError as exc:
        exc.language = engagement.language
        raise
    checked = check_answers(form.kind, form_data, await form_goals(session, form, engagement))
    if not checked.ok:
        raise FormInvalid(checked)
    coachee = await queries.get_coachee(session, engagement.coachee_id)
    assert coachee is not None
    form.answers, form.answered_at = checked.answers, now
    text = answers_text(form, checked.answers, engagement.language, booking, engagement.time_zone)
    item = NewExchange(engagement_id=engagement.id, channel="form", direction="in", author="coachee",
                       author_name=coachee.name, text=text, external_id=f"form:{form.id}:answers",
                       meta={"form_id": form.id, "form": form.kind, "booking_id": form.booking_id})
    [result] = await record_exchanges(session, [item], now)
    if isinstance(result, ActionError):
        raise result
    form.exchange_id = result.exchange.id
    if form.kind in SCORE_SOURCE:
        scores = {g["id"]: g["score"] for g in checked.answers["goals"] if g["score"] is not None}
        await session_goals.record_scores(session, engagement, scores, source=SCORE_SOURCE[form.kind], now=now,
                                          source_id=form.id)
    await session.flush()
    log.info("%s form %s answered in engagement %s", form.kind, form.id, engagement.id)
    return form


UPDATE_TITLE = N_("Score update")


async def do_update_scores(session: AsyncSession, engagement: Engagement, form_data: Mapping[str, Any], *,
                           now: datetime) -> list[dict[str, Any]]:
    """The coachee's own update of their goal scores (from the chat page): recorded as the
    goals' scores (source ``coachee``) and as one entry in the timeline."""
    try:
        check_can_write(engagement, "in")
    except ActionError as exc:
        exc.language = engagement.language
        raise
    checked = check_goal_scores(form_data, await session_goals.current_goals(session, engagement))
    if not checked.ok:
        raise FormInvalid(checked)
    scored = [g for g in checked.answers["goals"] if g["score"] is not None]
    if not scored:
        raise ActionError("scores_empty", N_("Choose a score for at least one goal."))
    coachee = await queries.get_coachee(session, engagement.coachee_id)
    assert coachee is not None
    _ = gettext_for(engagement.language)
    lines = "\n".join(f"- {g['title']}: {g['score']}/10" for g in scored)
    item = NewExchange(engagement_id=engagement.id, channel="form", direction="in", author="coachee",
                       author_name=coachee.name, text=f"{_(UPDATE_TITLE)}\n\n{lines}",
                       external_id=f"scores:{now.isoformat()}", meta={"form": "scores"})
    [result] = await record_exchanges(session, [item], now)
    if isinstance(result, ActionError):
        raise result
    if not result.created:
        return scored  # the same update sent twice at once
    await session_goals.record_scores(session, engagement, {g["id"]: g["score"] for g in scored}, source="coachee",
                                      now=now, source_id=result.exchange.id)
    return scored


async def do_answer_as_coach(session: AsyncSession, engagement: Engagement, *, round: str,
                             form_data: Mapping[str, Any], now: datetime) -> FormRequest:
    """The coach's side of the four-supports questionnaire for a round: answered once,
    then changed by answering again (only the coach sees it until compared)."""
    checked = check_answers("supports", form_data, respondent="coach")
    if not checked.ok:
        raise FormInvalid(checked)
    form = await session_queries.get_current_form(session, engagement.id, "supports", round=round,
                                                  respondent="coach")
    if form is None:
        form = FormRequest(engagement_id=engagement.id, kind="supports", round=round, respondent="coach",
                           created_at=now)
        session.add(form)
    form.answers, form.answered_at = checked.answers, now
    await session.flush()
    return form
