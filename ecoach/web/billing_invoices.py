"""The monthly invoice run: ``/billing/invoices?month=YYYY-MM`` (preview, issue, the
month's issued invoices with credit notes) and the downloads (CSV of a month for all
clients or one, each invoice's UBL and PDF, a month's ZIP for the bookkeeper)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import quote

from aiohttp import web

from ecoach.actions.bundles import day_in
from ecoach.actions.errors import ActionError, N_
from ecoach.actions.invoice_documents import get_issued, get_issued_invoice, invoice_pdf, month_csv, month_zip
from ecoach.actions.invoice_run import do_credit_invoice, do_issue_month, get_month_preview
from ecoach.actions.unit import unit_of_work
from ecoach.core.invoicing.labels import Words
from ecoach.keys import CLOCK, SESSIONS
from ecoach.logbook import queries
from ecoach.logbook.models import Engagement
from ecoach.web.params import path_id
from ecoach.web.render import gettext_for, page_language, render
from ecoach.web.security import get_coach, require_coach

_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
_CLIENT = re.compile(r"K[0-9]{5,18}")


class BadMonth(ActionError):
    status = 400


def parse_month(value: str | None, today: date) -> tuple[int, int]:
    if not value:
        return today.year, today.month
    found = _MONTH.fullmatch(value.strip())
    if found is None or not 2000 <= int(found.group(1)) <= 2999:
        raise BadMonth("month_invalid", N_("Choose a month, such as 2026-11."))
    return int(found.group(1)), int(found.group(2))


def _today(request: web.Request) -> date:
    return day_in(get_coach(request).time_zone, request.app[CLOCK].now())


async def _names(session: Any, coach_id: int, rows: list[Any]) -> dict[int, str]:
    """Coachee names of the engagements whose usage has no one to bill (for the links)."""
    names = {}
    for engagement_id in {r.entry.engagement_id for r in rows if r.entry.engagement_id is not None}:
        engagement: Engagement | None = await queries.get_engagement(session, coach_id, engagement_id)
        coachee = await queries.get_coachee(session, engagement.coachee_id) if engagement else None
        names[engagement_id] = coachee.name if coachee else "?"
    return names


async def _page(request: web.Request, *, error: str | None = None, status: int = 200,
                month: str | None = None) -> web.StreamResponse:
    coach, today = get_coach(request), _today(request)
    year, number = parse_month(month if month is not None else request.query.get("month"), today)
    async with request.app[SESSIONS]() as session:
        preview = await get_month_preview(session, coach, year, number, today)
        issued = await get_issued(session, coach, year, number)
        names = await _names(session, coach.id, preview.unbillable)
    gettext = await gettext_for(request)
    language = await page_language(request)
    context = {"month": f"{year:04d}-{number:02d}", "preview": preview, "issued": issued, "names": names,
               "preview_error": preview.error.translated(gettext) if preview.error else None, "error": error,
               "done": request.query.get("done", ""), "fmt": Words(language).money}
    return await render(request, "billing_invoices.html", context, status=status)


@require_coach
async def invoices_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@require_coach
async def issue(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    coach, today = get_coach(request), _today(request)
    month = str(form.get("month", ""))
    try:
        year, number = parse_month(month, today)
        async with unit_of_work(request.app[SESSIONS]) as session:
            await do_issue_month(session, coach, year, number, today=today,
                                 fingerprint=str(form.get("fingerprint", ""))[:64], now=request.app[CLOCK].now())
    except BadMonth:
        raise
    except ActionError as exc:
        return await _page(request, error=exc.translated(await gettext_for(request)), status=exc.status, month=month)
    raise web.HTTPSeeOther(f"/billing/invoices?month={year:04d}-{number:02d}&done=issued")


@require_coach
async def credit(request: web.Request) -> web.StreamResponse:
    coach = get_coach(request)
    invoice_id = path_id(request)
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            record = await do_credit_invoice(session, coach, invoice_id, today=_today(request),
                                             now=request.app[CLOCK].now())
    except ActionError as exc:
        if exc.status == 404:
            raise
        return await _page(request, error=exc.translated(await gettext_for(request)), status=exc.status)
    raise web.HTTPSeeOther(f"/billing/invoices?month={record.period_start:%Y-%m}&done=credited")


def _download(body: bytes, content_type: str, name: str) -> web.Response:
    return web.Response(body=body, content_type=content_type, headers={
        "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store"})


@require_coach
async def download_ubl(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        record = await get_issued_invoice(session, get_coach(request), path_id(request))
    return _download(record.ubl, "application/xml", f"{record.number}.xml")


@require_coach
async def download_pdf(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        record = await get_issued_invoice(session, get_coach(request), path_id(request))
    return _download(await invoice_pdf(record), "application/pdf", f"{record.number}.pdf")


@require_coach
async def download_csv(request: web.Request) -> web.StreamResponse:
    year, number = parse_month(request.match_info["month"], _today(request))
    client = request.query.get("client") or None
    if client is not None and not _CLIENT.fullmatch(client):
        raise BadMonth("client_invalid", N_("This client does not exist."))
    async with request.app[SESSIONS]() as session:
        body = await month_csv(session, get_coach(request), year, number, client, await page_language(request))
    name = f"invoices-{year:04d}-{number:02d}{'-' + client if client else ''}.csv"
    return _download(body, "text/csv", name)


@require_coach
async def download_zip(request: web.Request) -> web.StreamResponse:
    year, number = parse_month(request.match_info["month"], _today(request))
    async with request.app[SESSIONS]() as session:
        body = await month_zip(session, get_coach(request), year, number, await page_language(request))
    return _download(body, "application/zip", f"invoices-{year:04d}-{number:02d}.zip")


def register(app: web.Application) -> None:
    app.router.add_get("/billing/invoices", invoices_page)
    app.router.add_post("/billing/invoices/issue", issue)
    app.router.add_post("/billing/invoices/{id}/credit", credit)
    app.router.add_get("/billing/invoices/{id}.xml", download_ubl)
    app.router.add_get("/billing/invoices/{id}.pdf", download_pdf)
    app.router.add_get("/billing/months/{month}.csv", download_csv)
    app.router.add_get("/billing/months/{month}.zip", download_zip)
