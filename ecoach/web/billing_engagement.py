"""An engagement's package and billing: the panel on the engagement page (balance and
warnings), and ``/engagements/<id>/billing`` (sell a product, who pays, correct the
balance, the usage ledger)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import billing_setup as setup
from ecoach.actions.bundle_texts import balance_parts
from ecoach.actions.bundles import (
    Rules, day_in, do_adjust, do_assign_plan, do_end_plan, do_set_payer, get_balance,
)
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.unit import unit_of_work
from ecoach.core.inputs import parse_int
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.logbook import billing_queries as bq
from ecoach.logbook import queries
from ecoach.logbook.models import Engagement
from ecoach.web.billing import money_text
from ecoach.web.params import path_id
from ecoach.web.render import gettext_for, page_language, render
from ecoach.web.security import get_coach, require_coach


def _rules(request: web.Request) -> Rules:
    return Rules.of(request.app[SETTINGS].billing)


async def panel(request: web.Request, session: AsyncSession, engagement: Engagement) -> dict[str, Any]:
    """What ``_billing_panel.html`` (engagement page) and ``_reply_minutes.html`` show."""
    coach = get_coach(request)
    rules = _rules(request)
    today = day_in(coach.time_zone, request.app[CLOCK].now())
    found = await get_balance(session, engagement, today, rules)
    if found is None:
        return {"plan": None}
    plan, balance = found
    practice = await bq.get_practice(session, coach.id)
    refuse = practice.refuse_when_used_up if practice is not None else rules.refuse_default
    gettext = await gettext_for(request)
    return {"plan": plan, "balance": balance, "parts": balance_parts(balance, gettext, await page_language(request)),
            "booking_refused": refuse and balance.booking_refused, "words_per_minute": rules.words_per_minute,
            "minimum_minutes": rules.minimum_minutes}


async def _owned(request: web.Request, session: AsyncSession) -> Engagement:
    engagement = await queries.get_engagement(session, get_coach(request).id, path_id(request))
    if engagement is None:
        raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    return engagement


async def _page(request: web.Request, *, error: str | None = None, status: int = 200,
                form: dict[str, str] | None = None) -> web.StreamResponse:
    coach = get_coach(request)
    async with request.app[SESSIONS]() as session:
        engagement = await _owned(request, session)
        coachee = await queries.get_coachee(session, engagement.coachee_id)
        billing = await panel(request, session, engagement)
        plan = billing["plan"]
        payer = await bq.get_client(session, coach.id, plan.client_id) if plan and plan.client_id else None
        private = await bq.get_private_client(session, engagement.id)
        context = {
            "engagement": engagement, "coachee": coachee, "billing": billing, "payer": payer,
            "private": private.details if private else {"name": coachee.name if coachee else "", "country": "NL"},
            "organisations": await bq.get_organisations(session, coach.id),
            "products": await bq.get_products(session, coach.id, active_only=True),
            "ledger": await bq.get_engagement_usage(session, engagement.id, limit=50),
            "practice": await bq.get_practice(session, coach.id),
        }
    today = day_in(coach.time_zone, request.app[CLOCK].now())
    context.update(error=error, form=form or {}, today=today.isoformat(), key=uuid.uuid4().hex, money=money_text)
    return await render(request, "billing_engagement.html", context, status=status)


@require_coach
async def billing_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


async def _write(request: web.Request, work) -> web.StreamResponse:  # type: ignore[no-untyped-def]
    """One action in a transaction; a refusal shows the page again with why (and what was typed)."""
    form = {k: str(v) for k, v in (await request.post()).items()}
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            engagement = await _owned(request, session)
            await work(session, engagement, form)
    except NotFound:
        raise
    except ActionError as exc:
        return await _page(request, error=exc.translated(await gettext_for(request)), status=exc.status, form=form)
    raise web.HTTPSeeOther(f"/engagements/{path_id(request)}/billing")


def _day(value: str, today: date) -> date:
    if not value:
        return today
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ActionError("date_invalid", N_("Give the first day as a date.")) from None


@require_coach
async def sell(request: web.Request) -> web.StreamResponse:
    coach, now = get_coach(request), request.app[CLOCK].now()

    async def work(session: AsyncSession, engagement: Engagement, form: dict[str, str]) -> None:
        product_id = parse_int(form.get("product"), low=1)
        if product_id is None:
            raise ActionError("product_choose", N_("Choose a product."))
        await do_assign_plan(session, coach, engagement, product_id,
                             _day(form.get("starts_on", ""), day_in(coach.time_zone, now)), now)

    return await _write(request, work)


@require_coach
async def end_plan(request: web.Request) -> web.StreamResponse:
    async def work(session: AsyncSession, engagement: Engagement, form: dict[str, str]) -> None:
        await do_end_plan(session, engagement, request.app[CLOCK].now())

    return await _write(request, work)


@require_coach
async def set_payer(request: web.Request) -> web.StreamResponse:
    coach, now = get_coach(request), request.app[CLOCK].now()

    async def work(session: AsyncSession, engagement: Engagement, form: dict[str, str]) -> None:
        organisation = form.get("payer") == "organisation"
        client_id = parse_int(form.get("client"), low=1) if form.get("client") else None
        if organisation and client_id is not None and not form.get("name"):
            client = await bq.get_client(session, coach.id, client_id)
            if client is None or not client.organisation:
                raise NotFound("client_unknown", N_("This client does not exist."))
        else:
            details = setup.check_client_form(form, organisation=organisation, language=engagement.language)
            client = await setup.do_save_client(session, coach, engagement, details, organisation=organisation,
                                                client_id=client_id if organisation else None, now=now)
        await do_set_payer(session, engagement, client)

    return await _write(request, work)


@require_coach
async def adjust(request: web.Request) -> web.StreamResponse:
    coach, now = get_coach(request), request.app[CLOCK].now()

    async def work(session: AsyncSession, engagement: Engagement, form: dict[str, str]) -> None:
        def signed(name: str, label: str, limit: int) -> int:
            raw = form.get(name, "").strip() or "0"
            value = parse_int(raw[1:] if raw.startswith("-") else raw, low=0, high=limit)
            if value is None:
                raise setup.DetailsError("number_invalid",
                                         N_("%(name)s must be a whole number from %(low)s to %(high)s."),
                                         name=label, low=-limit, high=limit)
            return -value if raw.startswith("-") else value

        key = form.get("key", "")
        if not (8 <= len(key) <= 64 and key.isalnum()):
            raise ActionError("form_key", N_("This form has expired. Reload the page and try again."))
        await do_adjust(session, coach, engagement, sessions=signed("sessions", N_("Sessions"), 20),
                        minutes=signed("minutes", N_("Minutes"), 6000),
                        key=key, now=now, rules=_rules(request))

    return await _write(request, work)


def register(app: web.Application) -> None:
    app.router.add_get("/engagements/{id}/billing", billing_page)
    app.router.add_post("/engagements/{id}/billing/plan", sell)
    app.router.add_post("/engagements/{id}/billing/plan/end", end_plan)
    app.router.add_post("/engagements/{id}/billing/payer", set_payer)
    app.router.add_post("/engagements/{id}/billing/adjust", adjust)
