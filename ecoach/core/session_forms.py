"""The questions of the session forms and the checking of their answers (pure rules).

Four forms go to the coachee: the **check-in** before a session, the **feedback** after
it, the **evaluation** at the end, and the **four kinds of support** questionnaire (which
the coach answers too, see ``ecoach.core.supports``). Check-in and evaluation also ask a
1–10 score per current goal. ``check_answers`` turns submitted fields into the stored
answers, or names every field that is wrong and why (message ids, translated by the web
layer), so the form can be shown again with each message beside its field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecoach.core.supports import ITEMS, LIKERT


def N_(message: str) -> str:  # noqa: N802 - the gettext marker babel extracts
    return message


MAX_TEXT = 2000
SCORES = range(1, 11)


@dataclass(frozen=True)
class Question:
    name: str
    label: str  # message id
    kind: str  # text, score (1-10), likert (1-5)
    required: bool = False


@dataclass(frozen=True)
class Goal:
    """A goal as a form shows it: its id and title, at the moment of asking."""

    id: int
    title: str


CHECKIN = (
    Question("stayed", N_("What stayed with you from the last session?"), "text"),
    Question("practised", N_("What did you put into practice?"), "text"),
    Question("happened", N_("What happened since then?"), "text"),
    Question("wish", N_("What do you want from this session?"), "text", required=True),
)
FEEDBACK = (
    Question("helped", N_("What helped you in this session?"), "text"),
    Question("better", N_("What could be better?"), "text"),
    Question("score", N_("How useful was this session for you?"), "score", required=True),
)
EVALUATION = (
    Question("changed", N_("What has changed for you through the coaching?"), "text", required=True),
    Question("helped", N_("What helped you most?"), "text"),
    Question("better", N_("What could have been better?"), "text"),
    Question("score", N_("How satisfied are you with the coaching as a whole?"), "score", required=True),
)
SUPPORTS = tuple(Question(item.key, item.coachee, "likert", required=True) for item in ITEMS)
SUPPORTS_COACH = tuple(Question(item.key, item.coach, "likert", required=True) for item in ITEMS)

QUESTIONS: dict[str, tuple[Question, ...]] = {
    "checkin": CHECKIN, "feedback": FEEDBACK, "evaluation": EVALUATION, "supports": SUPPORTS,
}
# Forms that ask a score per goal, and how they ask it.
SCORE_QUESTION = N_("Where are you now with this goal?")
GOAL_QUESTION = {"checkin": SCORE_QUESTION, "evaluation": SCORE_QUESTION}

REQUIRED = N_("Please answer this question.")
TOO_LONG = N_("Please keep this answer under %(limit)s characters.")
SCORE_RANGE = N_("Choose a score from 1 to 10.")
LIKERT_RANGE = N_("Choose one of the five answers.")


def questions_for(kind: str, respondent: str = "coachee") -> tuple[Question, ...]:
    if kind == "supports" and respondent == "coach":
        return SUPPORTS_COACH
    return QUESTIONS[kind]


@dataclass
class Checked:
    """Submitted fields, checked: the answers to store, or the errors by field name."""

    answers: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # name -> message id
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> message parameters

    @property
    def ok(self) -> bool:
        return not self.errors


def _number(raw: str, allowed: range) -> int | None:
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 3:
        return None
    value = int(raw)
    return value if value in allowed else None


def _one(question: Question, raw: str, checked: Checked) -> Any:
    raw = str(raw or "")
    if question.kind == "text":
        text = "\n".join(line.rstrip() for line in raw.replace("\r\n", "\n").split("\n")).strip()
        if not text and question.required:
            checked.errors[question.name] = REQUIRED
        elif len(text) > MAX_TEXT:
            checked.errors[question.name] = TOO_LONG
            checked.params[question.name] = {"limit": MAX_TEXT}
        return text
    allowed, message = (SCORES, SCORE_RANGE) if question.kind == "score" else (range(1, len(LIKERT) + 1), LIKERT_RANGE)
    if not raw.strip():
        if question.required:
            checked.errors[question.name] = REQUIRED if question.kind == "score" else LIKERT_RANGE
        return None
    value = _number(raw, allowed)
    if value is None:
        checked.errors[question.name] = message
    return value


def goal_field(goal: Goal) -> str:
    return f"goal_{goal.id}"


def check_answers(kind: str, form: Mapping[str, Any], goals: Sequence[Goal] = (), *,
                  respondent: str = "coachee") -> Checked:
    """Check every field of a submitted form. Goal scores are optional (a coachee may not
    want to score a goal today), but a given one must be 1 to 10."""
    checked = check_goal_scores(form, goals if kind in GOAL_QUESTION else ())
    fields: dict[str, Any] = {}
    for question in questions_for(kind, respondent):
        fields[question.name] = _one(question, form.get(question.name, ""), checked)
    checked.answers["fields"] = fields
    return checked


def check_goal_scores(form: Mapping[str, Any], goals: Sequence[Goal]) -> Checked:
    """A 1-10 score per goal, each optional (a review, a coachee's own update)."""
    checked = Checked()
    scored = []
    for goal in goals:
        name = goal_field(goal)
        value = _one(Question(name, SCORE_QUESTION, "score"), form.get(name, ""), checked)
        scored.append({"id": goal.id, "title": goal.title, "score": value})
    checked.answers = {"fields": {}, "goals": scored}
    return checked


def has_any_answer(answers: Mapping[str, Any]) -> bool:
    return any(v not in (None, "") for v in answers.get("fields", {}).values())
