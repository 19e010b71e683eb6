"""How forms are drawn: the questions with what was typed and each error beside its
field, and answers given (shared by the coachee's form page and the coach's pages)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecoach.core.session_forms import GOAL_QUESTION, Checked, goal_field, questions_for
from ecoach.core.supports import LIKERT
from ecoach.logbook.session_models import FormRequest


def questions_context(form: FormRequest, goals: list[Any], values: Mapping[str, Any],
                      checked: Checked | None, gettext: Any) -> dict[str, Any]:
    """The fields as the template draws them, with what was typed and each error."""
    errors = checked.errors if checked else {}
    params = checked.params if checked else {}

    def error(name: str) -> str | None:
        message = errors.get(name)
        return gettext(message) % params.get(name, {}) if message and params.get(name) else (
            gettext(message) if message else None)

    fields = [{"name": q.name, "label": gettext(q.label), "kind": q.kind, "required": q.required,
               "value": str(values.get(q.name, "") or ""), "error": error(q.name)}
              for q in questions_for(form.kind, form.respondent)]
    goal_fields = [{"name": goal_field(g), "label": g.title, "value": str(values.get(goal_field(g), "") or ""),
                    "error": error(goal_field(g))} for g in goals]
    return {"fields": fields, "goal_fields": goal_fields,
            "goal_question": gettext(GOAL_QUESTION[form.kind]) if form.kind in GOAL_QUESTION else "",
            "likert": [gettext(label) for label in LIKERT],
            "error_list": [{"name": f["name"], "label": f["label"], "error": f["error"]}
                           for f in fields + goal_fields if f["error"]]}


def shown_answers(form: FormRequest, gettext: Any) -> list[dict[str, str]]:
    if form.answers is None:
        return []
    shown = []
    fields = form.answers.get("fields", {})
    for q in questions_for(form.kind, form.respondent):
        value = fields.get(q.name)
        if value in (None, ""):
            continue
        text = f"{value}/10" if q.kind == "score" else (gettext(LIKERT[value - 1]) if q.kind == "likert" else value)
        shown.append({"label": gettext(q.label), "value": str(text)})
    for goal in form.answers.get("goals", []):
        if goal.get("score") is not None:
            shown.append({"label": goal["title"], "value": f"{goal['score']}/10"})
    return shown
