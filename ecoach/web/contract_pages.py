"""Shared by the contract pages of coach, coachee and sponsor: the document in its own
language, the PDF response, and the draft form's values."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ecoach.core import contract_document as d
from ecoach.core.contract_pdf import FontMissing, to_pdf
from ecoach.core.contract_terms import TERM_FIELDS
from ecoach.keys import I18N
from ecoach.logbook.contract_models import MAX_GOALS, Contract, ContractGoal

DONE = {
    "saved": d.N_("The draft is saved."), "offered": d.N_("The contract is offered: the coachee's link is in "
                                                          "the chat."),
    "drafted": d.N_("A new draft is ready."), "discarded": d.N_("The draft is discarded."),
    "link": d.N_("A new link is made; the old one no longer works."), "sponsor": d.N_("The sponsor contact is saved."),
    "summary": d.N_("The summary is waiting for the coachee's approval."), "template": d.N_("Your template is saved."),
    "reset": d.N_("Your template is back to the default."), "note": d.N_("The note is saved."),
    "accepted": d.N_("Thank you: your acceptance is recorded."), "approved": d.N_("The summary is approved."),
    "declined": d.N_("The summary is declined: the sponsor will not see it."),
}


def document_html(request: web.Request, doc: d.ContractDocument, *, viewer: str, engagement_id: int = 0) -> str:
    """The document rendered in the contract's language (the page around it may speak another)."""
    gettext = request.app[I18N].gettext(doc.language)
    names = {"coachee": gettext(d.COACHEE), "sponsor": gettext(d.SPONSOR)}
    context = {"doc": doc, "viewer": viewer, "engagement_id": engagement_id,
               "practical": d.practical_lines(doc, gettext), "sponsor_lines": d.sponsor_lines(doc, gettext),
               "ai_line": d.ai_line(doc, gettext), "party_names": names,
               "missing_names": ", ".join(names[p] for p in doc.missing)}
    return request.app[I18N].render(doc.language, "_contract_document.html", context)


def pdf_response(doc: d.ContractDocument, name: str) -> web.Response:
    try:
        body = to_pdf(doc)
    except FontMissing as exc:
        raise web.HTTPServiceUnavailable(text=str(exc)) from None
    return web.Response(body=body, content_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{name}"'})


def form_of(contract: Contract, goals: list[ContractGoal]) -> dict[str, Any]:
    """A saved draft as the form's values."""
    terms = contract.terms
    form: dict[str, Any] = {k: "" if terms.get(k) is None else terms.get(k) for k in TERM_FIELDS}
    form.update(triangular=contract.triangular, sponsor_sees=contract.sponsor_sees,
                sponsor_sees_goals=contract.sponsor_sees_goals, channels=list(terms.get("channels") or []))
    for goal in goals:
        n = goal.position
        form.update({f"goal{n}_id": goal.goal_id, f"goal{n}_title": goal.title,
                     f"goal{n}_indicators": "\n".join(goal.indicators), f"goal{n}_score": goal.score})
    return form


def posted_form(data: Any) -> dict[str, Any]:
    """What the coach sent, to show again beside the error."""
    form: dict[str, Any] = {k: str(data.get(k, "")) for k in TERM_FIELDS if k not in ("channels", "ai_used")}
    form.update(channels=[str(c) for c in data.getall("channels", [])], ai_used=bool(data.get("ai_used")),
                triangular=bool(data.get("triangular")), sponsor_sees=str(data.get("sponsor_sees", "attendance")),
                sponsor_sees_goals=bool(data.get("sponsor_sees_goals")))
    for n in range(1, MAX_GOALS + 1):
        for part in ("id", "title", "indicators", "score"):
            form[f"goal{n}_{part}"] = str(data.get(f"goal{n}_{part}", ""))
    return form
