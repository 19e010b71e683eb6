"""Checking the nudge plan form and nudge texts: a clear error per field, so a mistake
shows in the form and never when a nudge is due."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from ecoach.core.inputs import parse_int
from ecoach.actions.errors import ActionError, N_
from ecoach.core.nudge_rules import INTERVAL, VARIABLES, WEEKLY, TemplateProblem, check_template, parse_hhmm
from ecoach.logbook.models import Coachee, Engagement
from ecoach.logbook.nudge_queries import MIN_SILENCE_DAYS
from ecoach.settings import Settings

MAX_GOAL = 500
CHANNELS = ("chat", "mail")


def check_plan_form(
    form: Mapping[str, Any], weekdays: list[str], *, engagement: Engagement, coachee: Coachee,
    settings: Settings, today: date,
) -> dict[str, Any]:
    """Validated plan values from the form, or ActionError naming what to fix."""
    cadence = str(form.get("cadence", WEEKLY))
    if cadence not in (WEEKLY, INTERVAL):
        raise ActionError("nudge_cadence", N_("Choose weekly or every few days."))
    days = sorted({d for d in (parse_int(w, high=6) for w in weekdays) if d is not None})
    if cadence == WEEKLY and not days:
        raise ActionError("nudge_weekdays", N_("Choose at least one weekday."))
    try:
        at = parse_hhmm(str(form.get("time_of_day", "")))
    except ValueError:
        raise ActionError("nudge_time", N_("Give a time of day like 09:00.")) from None
    every = _int(form.get("every_days", "7"), 1, 365, "nudge_every_days",
                 N_("Every how many days? Give a number from 1 to 365."))
    start = _date(form.get("start_on")) or today
    channel = str(form.get("channel", "chat"))
    if channel not in CHANNELS:
        raise ActionError("nudge_channel", N_("Choose chat or mail."))
    if channel == "mail":
        check_mail_possible(coachee, settings)
    goal = " ".join(str(form.get("goal", "")).split())
    if len(goal) > MAX_GOAL:
        raise ActionError("nudge_goal", N_("The goal can be at most %(limit)s characters."), limit=MAX_GOAL)
    silence = _int(form.get("silence_days", "14"), 0, 365, "nudge_silence",
                   N_("Check in after how many quiet days? 0 (never) or 3 to 365."))
    if 0 < silence < MIN_SILENCE_DAYS:
        raise ActionError("nudge_silence", N_("Check in after how many quiet days? 0 (never) or 3 to 365."))
    templates = {}
    for language in ("nl", "en"):
        source = str(form.get(f"template_{language}", "")).strip()
        if source:
            templates[language] = check_text(source, language)
    return dict(enabled=bool(form.get("enabled")), cadence=cadence, weekdays=",".join(map(str, days)) or "0",
                time_of_day=at.strftime("%H:%M"), every_days=every, start_on=start, channel=channel,
                goal=goal or None, silence_days=silence, templates=templates)


def check_mail_possible(coachee: Coachee, settings: Settings) -> None:
    if not settings.mail.enabled:
        raise ActionError("mail_disabled", N_("Mail is not set up on this server."))
    if not coachee.email:
        raise ActionError("coachee_no_email", N_("This coachee has no e-mail address."))


def check_text(source: str, language: str) -> str:
    """A nudge template (or one nudge's own text): known variables, valid syntax."""
    try:
        return check_template(source)
    except TemplateProblem as problem:
        allowed = ", ".join(VARIABLES)
        if problem.kind == "unknown":
            raise ActionError("nudge_template_unknown",
                              N_("The %(language)s text uses unknown variables: %(names)s. You can use: %(allowed)s."),
                              language=language.upper(), names=problem.detail, allowed=allowed) from None
        if problem.kind == "too_long":
            raise ActionError("nudge_template_long", N_("The %(language)s text is too long (at most %(limit)s characters)."),
                              language=language.upper(), limit=problem.detail) from None
        if problem.kind == "empty":
            raise ActionError("nudge_template_empty", N_("The text is empty.")) from None
        raise ActionError("nudge_template_syntax", N_("The %(language)s text cannot be read: %(detail)s"),
                          language=language.upper(), detail=problem.detail) from None


def _int(value: Any, low: int, high: int, code: str, message: str) -> int:
    number = parse_int(str(value).strip(), low=low, high=high)
    if number is None:
        raise ActionError(code, message)
    return number


def _date(value: Any) -> date | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ActionError("date_invalid", N_("Give a date like 2026-12-01.")) from None
