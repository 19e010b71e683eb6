"""The coach's billing set-up: ``/billing/practice`` (the practice's details as seller,
default VAT, booking and warning choices) and ``/billing/products`` (what they sell)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from ecoach.actions import billing_setup as setup
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.invoice_run import VAT_NAMES
from ecoach.actions.unit import unit_of_work
from ecoach.core.bundles import ProductKind, VatChoice, euros
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.logbook import billing_queries as bq
from ecoach.web.params import path_id
from ecoach.web.render import gettext_for, render
from ecoach.web.security import get_coach, require_coach

log = logging.getLogger(__name__)

KINDS = {ProductKind.bundle.value: N_("bundle"), ProductKind.subscription.value: N_("subscription"),
         ProductKind.per_session.value: N_("pay per session")}


def vat_options() -> list[tuple[str, str]]:
    return [(choice.value, VAT_NAMES[choice]) for choice in VatChoice]


def money_text(amount: int | None) -> str:
    value = euros(amount)
    return "" if value is None else f"{value}".replace(".", ",")


async def _practice_page(request: web.Request, *, form: dict[str, Any] | None = None, error: str | None = None,
                         status: int = 200, saved: bool = False) -> web.StreamResponse:
    coach = get_coach(request)
    if form is None:
        async with request.app[SESSIONS]() as session:
            profile = await bq.get_practice(session, coach.id)
        defaults = setup.practice_defaults(request.app[SETTINGS].billing)
        form = defaults if profile is None else {
            **{k: v or "" for k, v in profile.details.items()}, "vat": profile.vat,
            "payment_days": profile.payment_days, "refuse_when_used_up": profile.refuse_when_used_up,
            "warn_coachee": profile.warn_coachee}
    return await render(request, "billing_practice.html", {"form": form, "error": error, "saved": saved,
                                                           "vat_options": vat_options()}, status=status)


@require_coach
async def practice_page(request: web.Request) -> web.StreamResponse:
    return await _practice_page(request, saved=request.query.get("saved") == "1")


@require_coach
async def save_practice(request: web.Request) -> web.StreamResponse:
    form = {k: str(v) for k, v in (await request.post()).items()}
    try:
        checked = setup.check_practice_form(form)
        async with unit_of_work(request.app[SESSIONS]) as session:
            await setup.do_save_practice(session, get_coach(request), checked, request.app[CLOCK].now())
    except ActionError as exc:
        return await _practice_page(request, form=form, error=exc.translated(await gettext_for(request)),
                                    status=exc.status)
    raise web.HTTPSeeOther("/billing/practice?saved=1")


def product_form(product: Any) -> dict[str, Any]:
    return {"name": product.name, "kind": product.kind, "sessions": product.sessions or "",
            "minutes": product.minutes or "", "unlimited_written": product.unlimited_written,
            "months": product.months or "", "price": money_text(product.price),
            "session_price": money_text(product.session_price), "hourly_rate": money_text(product.hourly_rate),
            "vat": product.vat or ""}


async def _products_page(request: web.Request, *, form: dict[str, Any] | None = None, error: str | None = None,
                         failed: int | None = None, status: int = 200) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        products = await bq.get_products(session, get_coach(request).id)
    rows = [{"product": p, "form": form if failed == p.id and form else product_form(p)} for p in products]
    context = {"rows": rows, "new": form if failed == 0 and form else {"kind": "bundle"}, "error": error,
               "failed": failed, "vat_options": vat_options(), "kinds": KINDS}
    return await render(request, "billing_products.html", context, status=status)


@require_coach
async def products_page(request: web.Request) -> web.StreamResponse:
    return await _products_page(request)


@require_coach
async def save_product(request: web.Request) -> web.StreamResponse:
    form = {k: str(v) for k, v in (await request.post()).items()}
    product_id = path_id(request) if "id" in request.match_info else None
    try:
        values = setup.check_product_form(form)
        async with unit_of_work(request.app[SESSIONS]) as session:
            await setup.do_save_product(session, get_coach(request), values, product_id=product_id,
                                        now=request.app[CLOCK].now())
    except NotFound:
        raise
    except ActionError as exc:
        return await _products_page(request, form=form, error=exc.translated(await gettext_for(request)),
                                    failed=product_id or 0, status=exc.status)
    raise web.HTTPSeeOther("/billing/products")


@require_coach
async def set_product_active(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    async with unit_of_work(request.app[SESSIONS]) as session:
        await setup.do_set_product_active(session, get_coach(request), path_id(request), form.get("active") == "1")
    raise web.HTTPSeeOther("/billing/products")


def register(app: web.Application) -> None:
    app.router.add_get("/billing/practice", practice_page)
    app.router.add_post("/billing/practice", save_practice)
    app.router.add_get("/billing/products", products_page)
    app.router.add_post("/billing/products", save_product)
    app.router.add_post("/billing/products/{id}", save_product)
    app.router.add_post("/billing/products/{id}/active", set_product_active)
