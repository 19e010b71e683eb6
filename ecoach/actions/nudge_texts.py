"""What a nudge says: the built-in texts (English msgids, translated by the catalogues),
the values of the template variables, and the pause link under every nudge."""

from __future__ import annotations

import logging
from datetime import datetime

from babel.dates import format_datetime
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import nudges as plans
from ecoach.actions.errors import N_
from ecoach.core.i18n import gettext_for
from ecoach.core.nudge_rules import TemplateProblem, make_pause_token, render_template
from ecoach.logbook import nudge_queries
from ecoach.logbook.models import Coach, Coachee, Engagement
from ecoach.logbook.nudge_models import ActionStep, Nudge, NudgePlan
from ecoach.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_TEMPLATES = {
    plans.PLAN: N_(
        "Hi {{ coachee }},\n\nA new week, a new chance to work on {{ goal }}. What is one small step "
        "you can take this week? Every step counts, and you have come further than you think.\n\n"
        "I'd love to hear how it goes.\n\n{{ coach }}"),
    plans.ACTION_STEP: N_(
        "Hi {{ coachee }},\n\nToday was the day for your action step: \"{{ action_step }}\". How did it "
        "go? Whatever happened, there is something to learn from it. Tell me what went well and what "
        "you noticed.\n\n{{ coach }}"),
    plans.CHECKIN: N_(
        "Hi {{ coachee }},\n\nIt has been a while since we were in touch, and I was thinking of you. "
        "How are you getting on with {{ goal }}? No need for a long story: a single line is welcome "
        "too.\n\n{{ coach }}"),
}
SUBJECTS = {
    plans.PLAN: N_("A word of encouragement from %(coach)s"),
    plans.ACTION_STEP: N_("How did your action step go?"),
    plans.CHECKIN: N_("How are you doing?"),
}
FALLBACKS = {"goal": N_("your goal"), "action_step": N_("your action step"),
             "next_session": N_("our next session")}
PAUSE_FOOTER = N_("Rather not get these messages for a while? Pause them here: %(url)s")
ALERT_NOTE = N_("%(name)s has been quiet for %(days)s days. A gentle check-in went out by %(channel)s.")
ALERT_SUBJECT = N_("%(name)s has been quiet for %(days)s days")
ALERT_BODY = N_("%(name)s has not been in touch for %(days)s days, so a gentle check-in went out.\n\n"
                "Have a look: %(url)s")

def pause_url(settings: Settings, engagement_id: int, now: datetime) -> str:
    return f"{settings.base_url}/n/{make_pause_token(settings.secret, engagement_id, now)}"


async def nudge_text(session: AsyncSession, nudge: Nudge, plan: NudgePlan, engagement: Engagement,
                     coach: Coach, coachee: Coachee, now: datetime) -> str:
    """The nudge as the coachee will read it (without the pause line)."""
    _ = gettext_for(engagement.language)
    values = {name: _(text) for name, text in FALLBACKS.items()}  # a missing value reads naturally
    values.update(coachee=coachee.name, coach=coach.name)
    if plan.goal:
        values["goal"] = plan.goal
    if nudge.action_step_id is not None:
        step = await session.get(ActionStep, nudge.action_step_id)
        if step is not None:
            values["action_step"] = step.text
    upcoming = await nudge_queries.get_next_session(session, engagement.id, now)
    if upcoming is not None:
        values["next_session"] = format_datetime(upcoming.astimezone(plans.zone_of(engagement)),
                                                 "EEEE d MMMM, HH:mm", locale=engagement.language)
    default = _(DEFAULT_TEMPLATES[nudge.kind])
    source = nudge.text
    if not source and nudge.kind == plans.PLAN:
        source = (plan.templates or {}).get(engagement.language)
    try:
        return render_template(source or default, values)
    except TemplateProblem:  # checked when saved; the built-in text is the safety net
        log.warning("nudge %s: template failed, using the built-in text", nudge.id)
        return render_template(default, values)
