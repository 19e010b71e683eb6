"""The commitments report for the logged-in coach: per engagement and month, the share of
answers given within the commitment and the median answer time, with a bar chart in
inline SVG (no script, no external resources)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.dates import format_date, format_timedelta

from ecoach.core.agreements import Tally, tally
from ecoach.logbook import availability_queries as aq
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.web.render import page_language, render
from ecoach.web.security import get_coach, require_coach


def first_of_month(now: datetime, zone: str, months_back: int) -> datetime:
    local = now.astimezone(ZoneInfo(zone))
    year, month = local.year, local.month - months_back + 1
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 1, tzinfo=ZoneInfo(zone))


def _fmt(t: Tally, language: str) -> dict[str, Any]:
    share = t.share
    return {"due": t.due, "within": t.within, "pending": t.pending,
            "share": None if share is None else round(share * 100),
            "median": format_timedelta(t.median, locale=language, threshold=1.1) if t.median is not None else None}


@require_coach
async def report_page(request: web.Request) -> web.StreamResponse:
    coach = get_coach(request)
    now = request.app[CLOCK].now()
    months_back = request.app[SETTINGS].agreements.report_months
    since = first_of_month(now, coach.time_zone, months_back)
    async with request.app[SESSIONS]() as session:
        rows, names = await aq.get_report_rows(session, coach.id, since, coach.time_zone)
    per, months = tally(rows, now)
    language = await page_language(request)

    def month_label(key: str) -> str:
        year, month = map(int, key.split("-"))
        return format_date(datetime(year, month, 1), "LLLL y", locale=language)

    month_keys = sorted(months, reverse=True)
    table = [
        {"name": names.get(eid, "?"), "engagement_id": eid, "month": month_label(m), **_fmt(t, language)}
        for (eid, m), t in sorted(per.items(), key=lambda kv: (kv[0][1], names.get(kv[0][0], "")), reverse=True)
    ]
    chart = [{"month": month_label(m), **_fmt(months[m], language)} for m in sorted(months)]
    return await render(request, "report.html", {"table": table, "chart": chart, "months": len(month_keys),
                                                 "since": since, "report_months": months_back})


def register(app: web.Application) -> None:
    app.router.add_get("/report", report_page, name="report")


