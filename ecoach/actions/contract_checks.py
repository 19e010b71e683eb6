"""Checks of what the coach types into a contract draft or template: the goals (up to
three, each with indicators and a 1-10 score) and the terms. Each refusal names the field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from ecoach.actions.errors import ActionError, N_
from ecoach.actions.goals import check_score
from ecoach.core.contract_terms import (
    CHANNELS, DEFAULT_MAX_TEXT, MAX_INDICATORS, MAX_TEXT, TEXT_FIELDS,
)
from ecoach.core.inputs import parse_int, text_ok
from ecoach.logbook.contract_models import MAX_GOALS, SPONSOR_SEES

MAX_TITLE = 300
MAX_INDICATOR = 300
LIMITS = {"sessions": (1, 200), "duration_minutes": (5, 600)}
FIELD_LABELS = {
    "coach_asks": N_("What is asked of the coach"), "coachee_asks": N_("What is asked of the coachee"),
    "sponsor_asks": N_("What is asked of the sponsor"), "rhythm": N_("Rhythm"),
    "practicalities": N_("Other practicalities"), "confidentiality": N_("Confidentiality"),
    "secrecy": N_("Professional secrecy and its limits"), "ai_tools": N_("Which AI tool"),
    "ai_purpose": N_("What the AI tool is used for"), "referral": N_("Referral"),
    "sessions": N_("Number of sessions"), "duration_minutes": N_("Duration of a session (minutes)"),
}


class FieldError(ActionError):
    """A refusal that names a form field (``field``); its label is translated with the message."""

    def __init__(self, code: str, message: str, *, field: str, **params: Any) -> None:
        super().__init__(code, message, field=FIELD_LABELS.get(field, field), **params)
        self.field = field

    def translated(self, gettext: Any) -> str:
        params = dict(self.params, field=gettext(self.params["field"]))
        return gettext(self.message) % params


@dataclass(frozen=True)
class GoalInput:
    goal_id: int | None  # the goal this phrasing continues (None: a new goal)
    title: str
    indicators: tuple[str, ...]
    score: int


@dataclass(frozen=True)
class TermsInput:
    terms: dict[str, Any]
    triangular: bool
    sponsor_sees: str
    sponsor_sees_goals: bool


def _text(form: Mapping[str, Any], field: str) -> str:
    value = str(form.get(field, "") or "").replace("\r\n", "\n").strip()
    if not text_ok(value):
        raise FieldError("text_invalid", N_("%(field)s contains characters that cannot be stored."), field=field)
    return value


def check_goals(form: Mapping[str, Any]) -> list[GoalInput]:
    """Goals 1..3 from ``goal<n>_title``, ``goal<n>_indicators`` (one a line),
    ``goal<n>_score`` and ``goal<n>_id``; a slot left empty is no goal."""
    goals = []
    for n in range(1, MAX_GOALS + 1):
        title = " ".join(_text(form, f"goal{n}_title").split())
        lines = [" ".join(line.split()) for line in _text(form, f"goal{n}_indicators").split("\n")]
        indicators = tuple(line for line in lines if line)
        if not title and not indicators:
            continue
        if not title:
            raise ActionError("goal_title_required", N_("Goal %(n)s: describe the goal."), n=n)
        if len(title) > MAX_TITLE:
            raise ActionError("goal_title_too_long", N_("Goal %(n)s: at most %(max)s characters."), n=n, max=MAX_TITLE)
        if not indicators:
            raise ActionError("goal_indicator_required",
                              N_("Goal %(n)s: give at least one indicator: how will you notice it is reached?"), n=n)
        if len(indicators) > MAX_INDICATORS or any(len(i) > MAX_INDICATOR for i in indicators):
            raise ActionError("goal_indicators_too_long", N_("Goal %(n)s: at most %(count)s indicators of at most "
                                                             "%(max)s characters each."),
                              n=n, count=MAX_INDICATORS, max=MAX_INDICATOR)
        raw_score = str(form.get(f"goal{n}_score", "") or "").strip()
        if not raw_score:
            raise ActionError("goal_score_required", N_("Goal %(n)s: give the current score from 1 to 10."), n=n)
        try:
            score = check_score(raw_score)
        except ActionError:
            raise ActionError("goal_score_invalid", N_("Goal %(n)s: the score is a whole number from 1 to 10."),
                              n=n) from None
        goals.append(GoalInput(parse_int(str(form.get(f"goal{n}_id", "")).strip()), title, indicators, score))
    return goals


def check_terms(form: Mapping[str, Any], *, channels: list[str]) -> TermsInput:
    """The terms from a form; ``channels`` are the checked channel boxes."""
    terms: dict[str, Any] = {}
    for field in TEXT_FIELDS:
        value = _text(form, field)
        limit = MAX_TEXT.get(field, DEFAULT_MAX_TEXT)
        if len(value) > limit:
            raise FieldError("term_too_long", N_("%(field)s: at most %(max)s characters."), field=field, max=limit)
        terms[field] = value
    for field, (low, high) in LIMITS.items():
        raw = _text(form, field)
        number = parse_int(raw, low=low, high=high) if raw else None
        if raw and number is None:
            raise FieldError("term_number_invalid", N_("%(field)s: a whole number from %(low)s to %(high)s, "
                                                        "or empty."), field=field, low=low, high=high)
        terms[field] = number
    terms["end_date"] = _date(_text(form, "end_date"))
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise ActionError("term_channel_invalid", N_("Unknown channel '%(channel)s'."), channel=unknown[0][:40])
    terms["channels"] = [c for c in CHANNELS if c in channels]
    terms["ai_used"] = bool(form.get("ai_used"))
    if terms["ai_used"] and not (terms["ai_tools"] and terms["ai_purpose"]):
        raise ActionError("ai_clause_incomplete", N_("When you use an AI tool, say which tool and what for."))
    if not terms["ai_used"]:
        terms["ai_tools"] = terms["ai_purpose"] = ""
    sees = str(form.get("sponsor_sees", "attendance") or "attendance")
    if sees not in SPONSOR_SEES:
        raise ActionError("sponsor_sees_invalid", N_("Choose what the sponsor may learn."))
    triangular = bool(form.get("triangular"))
    return TermsInput(terms, triangular, sees, triangular and bool(form.get("sponsor_sees_goals")))


def _date(raw: str) -> str | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise ActionError("term_date_invalid", N_("The end date must be a date (YYYY-MM-DD), or empty.")) from None
