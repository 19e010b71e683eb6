"""The parties' pages behind their personal links, in the engagement's language:

- ``/contract/<token>``: the coachee reads the contract (the version waiting for them, or
  the one in force), accepts it, approves or declines summaries for the sponsor, and opens
  any version they were offered as a printable page or PDF;
- ``/sponsor/<token>``: the sponsor reads their part, accepts it, and sees what the
  contract allows (``ecoach.actions.sponsor.sponsor_view``): nothing of the logbook.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.contract_accept import do_accept_contract
from ecoach.actions.contract_links import check_contract_token
from ecoach.actions.contract_view import contract_document
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.sponsor import do_decide_summary, sponsor_view
from ecoach.actions.unit import unit_of_work
from ecoach.keys import CLOCK, SESSIONS
from ecoach.logbook import contract_queries as cq
from ecoach.logbook.models import Engagement
from ecoach.web.contract_pages import DONE, document_html, pdf_response
from ecoach.web.params import path_id
from ecoach.web.render import gettext_for, render, set_language

SEEN_BY_COACHEE = ("offered", "accepted", "superseded")


async def _engagement(request: web.Request, session: AsyncSession, party: str) -> Engagement:
    try:
        engagement = await check_contract_token(session, request.match_info["token"], party, request.app[CLOCK].now())
    except ActionError as exc:
        if exc.language:
            set_language(request, exc.language)
        raise
    set_language(request, engagement.language)
    return engagement


async def _party_page(request: web.Request, party: str, *, error: ActionError | None = None,
                      name: str = "") -> web.StreamResponse:
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        engagement = await _engagement(request, session, party)
        pending = await cq.get_pending(session, engagement.id)
        if party == "sponsor" and pending is not None and not pending.triangular:
            pending = None
        in_force = await cq.get_contract_in_force(session, engagement.id)
        shown = pending or in_force
        if party == "sponsor" and shown is not None and not shown.triangular:
            shown = None
        doc = await contract_document(session, engagement, shown, now=now, reader=party) if shown else None
        mine = {a.party for a in await cq.get_acceptances(session, [pending.id])} if pending else set()
        context: dict[str, Any] = {
            "engagement": engagement, "party": party, "doc": doc, "pending": pending,
            "doc_html": document_html(request, doc, viewer=party) if doc else None,
            "to_accept": pending is not None and party not in mine and engagement.status != "closed",
            "versions": [c for c in await cq.get_contracts(session, engagement.id) if c.status in SEEN_BY_COACHEE],
            "name": name, "token": request.match_info["token"],
        }
        if party == "coachee":
            context["summaries"] = await cq.get_sponsor_summaries(session, engagement.id, statuses=("waiting",))
        else:
            context["view"] = await sponsor_view(session, engagement)
    if error is not None:
        context["error"] = error.translated(await gettext_for(request))
    done = request.query.get("done")
    context["done"] = DONE.get(done) if done else None
    response = await render(request, "contract_party.html" if party == "coachee" else "sponsor.html", context,
                            status=error.status if error else 200)
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(party: str):  # type: ignore[no-untyped-def]
    async def page(request: web.Request) -> web.StreamResponse:
        return await _party_page(request, party)
    return page


def _accept(party: str):  # type: ignore[no-untyped-def]
    async def accept(request: web.Request) -> web.StreamResponse:
        data = await request.post()
        try:
            async with unit_of_work(request.app[SESSIONS]) as session:
                engagement = await _engagement(request, session, party)
                await do_accept_contract(session, engagement, party, version=data.get("version"),
                                         name=data.get("name"), agreed=bool(data.get("agree")),
                                         now=request.app[CLOCK].now())
        except ActionError as exc:
            if exc.code.startswith("contract_link"):
                raise
            return await _party_page(request, party, error=exc, name=str(data.get("name", ""))[:200])
        prefix = "contract" if party == "coachee" else "sponsor"
        raise web.HTTPSeeOther(f"/{prefix}/{request.match_info['token']}?done=accepted")
    return accept


async def decide_summary(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    decision = str(data.get("decision", ""))
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            engagement = await _engagement(request, session, "coachee")
            await do_decide_summary(session, engagement, path_id(request, "summary"), decision,
                                    now=request.app[CLOCK].now())
    except ActionError as exc:
        if exc.code.startswith("contract_link"):
            raise
        return await _party_page(request, "coachee", error=exc)
    done = "approved" if decision == "approve" else "declined"
    raise web.HTTPSeeOther(f"/contract/{request.match_info['token']}?done={done}#summaries")


async def _version_document(request: web.Request) -> tuple[Any, int]:
    async with request.app[SESSIONS]() as session:
        engagement = await _engagement(request, session, "coachee")
        version = path_id(request, "version", code="contract_unknown",
                          message=N_("This contract version does not exist."))
        contract = await cq.get_contract(session, engagement.id, version)
        if contract is None or contract.status not in SEEN_BY_COACHEE:
            raise NotFound("contract_unknown", N_("This contract version does not exist."))
        return await contract_document(session, engagement, contract, now=request.app[CLOCK].now(),
                                       reader="coachee"), engagement.id


async def version_page(request: web.Request) -> web.StreamResponse:
    doc, _ = await _version_document(request)
    token = request.match_info["token"]
    response = await render(request, "contract_print.html", {
        "doc": doc, "doc_html": document_html(request, doc, viewer="coachee"), "back": f"/contract/{token}",
        "pdf": f"{request.path}/pdf"})
    response.headers["Cache-Control"] = "no-store"
    return response


async def version_pdf(request: web.Request) -> web.StreamResponse:
    doc, _engagement_id = await _version_document(request)
    return pdf_response(doc, f"contract-v{doc.version}.pdf")


def register(app: web.Application) -> None:
    app.router.add_get("/contract/{token}", _page("coachee"))
    app.router.add_post("/contract/{token}/accept", _accept("coachee"))
    app.router.add_post("/contract/{token}/summaries/{summary}", decide_summary)
    app.router.add_get("/contract/{token}/v/{version}", version_page)
    app.router.add_get("/contract/{token}/v/{version}/pdf", version_pdf)
    app.router.add_get("/sponsor/{token}", _page("sponsor"))
    app.router.add_post("/sponsor/{token}/accept", _accept("sponsor"))
