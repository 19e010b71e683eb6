"""The coach's contract pages: ``/engagements/{id}/contract`` (versions, the draft, the
parties' links, the sponsor), the printable page and PDF of a version, and the coach's
template (``/contract-template``). Thin: parse, one action or query, render."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import contracts
from ecoach.actions.contract_accept import do_send_offer
from ecoach.actions.contract_checks import FieldError, check_goals, check_terms
from ecoach.actions.contract_links import contract_token_of, do_new_contract_link
from ecoach.actions.contract_template import do_reset_template, do_save_template
from ecoach.actions.contract_view import contract_document
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.unit import unit_of_work
from ecoach.core.contract_terms import merged_terms
from ecoach.core.types import LANGUAGES
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.logbook import contract_queries as cq
from ecoach.logbook import queries
from ecoach.logbook.contract_models import Contract, ContractTemplate
from ecoach.logbook.models import Engagement
from ecoach.web.contract_pages import DONE, document_html, form_of, pdf_response, posted_form
from ecoach.web.params import path_id
from ecoach.web.render import gettext_for, render
from ecoach.web.security import get_coach, require_coach


async def owned_engagement(request: web.Request, session: AsyncSession) -> Engagement:
    engagement = await queries.get_engagement(session, get_coach(request).id, path_id(request))
    if engagement is None:
        raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    return engagement


def _version(request: web.Request) -> int:
    return path_id(request, "version", code="contract_unknown", message=N_("This contract version does not exist."))


def _back(engagement_id: int, done: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/engagements/{engagement_id}/contract?done={done}")


async def _overview(request: web.Request, session: AsyncSession, engagement: Engagement) -> dict[str, Any]:
    now, settings = request.app[CLOCK].now(), request.app[SETTINGS]
    versions = await cq.get_contracts(session, engagement.id)
    draft = next((c for c in versions if c.status == "draft"), None)
    acceptances = await cq.get_acceptances(session, [c.id for c in versions])
    links = {}
    for party in ("coachee", "sponsor"):
        link = await cq.get_active_contract_link(session, engagement.id, party, now)
        links[party] = (f"{settings.base_url}/{'contract' if party == 'coachee' else 'sponsor'}/"
                        f"{contract_token_of(link, settings.secret)}" if link else None)
    return {"engagement": engagement, "coachee": await queries.get_coachee(session, engagement.coachee_id),
            "versions": versions, "draft": draft, "links": links,
            "accepted": {(a.contract_id, a.party): a for a in acceptances},
            "sponsor": await cq.get_sponsor(session, engagement.id),
            "summaries": await cq.get_sponsor_summaries(session, engagement.id),
            "form": form_of(draft, await cq.get_contract_goals(session, draft.id)) if draft else None,
            "error": None, "error_field": None, "done": None}


async def overview_page(request: web.Request, *, form: dict[str, Any] | None = None, error: ActionError | None = None
                ) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        engagement = await owned_engagement(request, session)
        context = await _overview(request, session, engagement)
    if form is not None:
        context["form"] = form
    if error is not None:
        context["error"] = error.translated(await gettext_for(request))
        context["error_field"] = getattr(error, "field", None)
    done = request.query.get("done")
    context["done"] = DONE.get(done) if done else None
    return await render(request, "contract.html", context, status=error.status if error else 200)


@require_coach
async def contract_page(request: web.Request) -> web.StreamResponse:
    return await overview_page(request)


@require_coach
async def new_version(request: web.Request) -> web.StreamResponse:
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await owned_engagement(request, session)
        await contracts.do_new_contract_version(session, engagement, now=request.app[CLOCK].now())
    raise _back(engagement.id, "drafted")


@require_coach
async def save_draft(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            engagement = await owned_engagement(request, session)
            contract = await contracts.get_owned_contract(session, engagement, _version(request))
            terms = check_terms(data, channels=[str(c) for c in data.getall("channels", [])])
            await contracts.do_save_draft(session, engagement, contract, terms, check_goals(data),
                                          now=request.app[CLOCK].now())
    except (FieldError, ActionError) as exc:
        if exc.status == 404:
            raise
        return await overview_page(request, form=posted_form(data), error=exc)
    raise _back(engagement.id, "saved")


@require_coach
async def offer(request: web.Request) -> web.StreamResponse:
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            engagement = await owned_engagement(request, session)
            contract = await contracts.get_owned_contract(session, engagement, _version(request))
            coach = get_coach(request)
            await do_send_offer(session, engagement, contract, coach, settings=request.app[SETTINGS],
                                now=request.app[CLOCK].now())
    except ActionError as exc:
        if exc.status == 404:
            raise
        return await overview_page(request, error=exc)
    raise _back(engagement.id, "offered")


@require_coach
async def discard(request: web.Request) -> web.StreamResponse:
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await owned_engagement(request, session)
        contract = await contracts.get_owned_contract(session, engagement, _version(request))
        await contracts.do_discard_draft(session, engagement, contract)
    raise _back(engagement.id, "discarded")


async def _document(request: web.Request) -> tuple[Engagement, Contract, Any]:
    async with request.app[SESSIONS]() as session:
        engagement = await owned_engagement(request, session)
        contract = await contracts.get_owned_contract(session, engagement, _version(request))
        doc = await contract_document(session, engagement, contract, now=request.app[CLOCK].now())
    return engagement, contract, doc


@require_coach
async def print_page(request: web.Request) -> web.StreamResponse:
    engagement, _contract, doc = await _document(request)
    return await render(request, "contract_print.html", {
        "doc": doc, "doc_html": document_html(request, doc, viewer="coach", engagement_id=engagement.id),
        "back": f"/engagements/{engagement.id}/contract", "pdf": f"{request.path}/pdf"})


@require_coach
async def pdf(request: web.Request) -> web.StreamResponse:
    engagement, contract, doc = await _document(request)
    return pdf_response(doc, f"contract-{engagement.id}-v{contract.version}.pdf")


@require_coach
async def new_link(request: web.Request) -> web.StreamResponse:
    party = request.match_info["party"]
    settings = request.app[SETTINGS]
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await owned_engagement(request, session)
        days = settings.contract.coachee_link_days if party == "coachee" else settings.contract.sponsor_link_days
        await do_new_contract_link(session, engagement, party, now=request.app[CLOCK].now(), days=days,
                                   secret=settings.secret)
    raise _back(engagement.id, "link")


# --- the coach's template ---------------------------------------------------------------


def _language(raw: object) -> str:
    return str(raw) if raw in LANGUAGES else "nl"


async def _template_page(request: web.Request, language: str, *, form: dict[str, Any] | None = None,
                         error: ActionError | None = None) -> web.StreamResponse:
    coach = get_coach(request)
    async with request.app[SESSIONS]() as session:
        template = await cq.get_template(session, coach.id, language)
    if form is None:
        terms = merged_terms(template.terms if template else None, language)
        shown = Contract(terms=terms, triangular=True, sponsor_sees=template.sponsor_sees if template else "attendance",
                         sponsor_sees_goals=False)
        form = form_of(shown, [])
    done = request.query.get("done")
    return await render(request, "contract_template.html", {
        "language": language, "form": form, "own": isinstance(template, ContractTemplate),
        "error": error.translated(await gettext_for(request)) if error else None,
        "error_field": getattr(error, "field", None), "done": DONE.get(done) if done else None,
    }, status=error.status if error else 200)


@require_coach
async def template_page(request: web.Request) -> web.StreamResponse:
    return await _template_page(request, _language(request.query.get("language")))


@require_coach
async def save_template(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    language = _language(data.get("language"))
    coach = get_coach(request)
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            if data.get("reset"):
                await do_reset_template(session, coach.id, language)
            else:
                terms = check_terms(data, channels=[str(c) for c in data.getall("channels", [])])
                await do_save_template(session, coach.id, language, terms, now=request.app[CLOCK].now())
    except ActionError as exc:
        return await _template_page(request, language, form=posted_form(data), error=exc)
    raise web.HTTPSeeOther(f"/contract-template?language={language}&done={'reset' if data.get('reset') else 'template'}")


def register(app: web.Application) -> None:
    app.router.add_get("/engagements/{id}/contract", contract_page)
    app.router.add_post("/engagements/{id}/contract/new", new_version)
    app.router.add_post("/engagements/{id}/contract/links/{party:coachee|sponsor}", new_link)
    app.router.add_get("/engagements/{id}/contract/{version}", print_page)
    app.router.add_get("/engagements/{id}/contract/{version}/pdf", pdf)
    app.router.add_post("/engagements/{id}/contract/{version}", save_draft)
    app.router.add_post("/engagements/{id}/contract/{version}/offer", offer)
    app.router.add_post("/engagements/{id}/contract/{version}/discard", discard)
    app.router.add_get("/contract-template", template_page)
    app.router.add_post("/contract-template", save_template)
