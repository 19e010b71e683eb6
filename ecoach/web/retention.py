"""Retention on the engagement page: how long the logbook is kept, and extending a
planned erasure (``ecoach.actions.retention``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import retention as retention_
from ecoach.actions.errors import N_, NotFound
from ecoach.actions.unit import unit_of_work
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.logbook import privacy_queries as pq
from ecoach.logbook import queries
from ecoach.logbook.models import Engagement
from ecoach.web.params import path_id
from ecoach.web.privacy_flash import flash
from ecoach.web.security import get_coach, require_coach

SAVED = N_("Saved: how long this logbook is kept.")
EXTENDED = N_("The erasure is moved: the logbook is kept longer.")


async def _owned(request: web.Request, session: AsyncSession) -> Engagement:
    engagement = await queries.get_engagement(session, get_coach(request).id, path_id(request))
    if engagement is None:
        raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    return engagement


@require_coach
async def set_keep(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    keep = retention_.check_keep(form.get("keep"), form.get("months"))
    settings, now = request.app[SETTINGS], request.app[CLOCK].now()
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        await retention_.do_set_keep(session, engagement, keep, settings=settings, now=now)
    await flash(request, engagement.id, SAVED)
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}#retention")


@require_coach
async def extend(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    months = retention_.check_extension(form.get("months"))
    settings, now = request.app[SETTINGS], request.app[CLOCK].now()
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        await retention_.do_extend(session, engagement, months, settings=settings, now=now)
    await flash(request, engagement.id, EXTENDED)
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}#retention")


async def panel(request: web.Request, session: AsyncSession, engagement: Engagement) -> dict[str, Any]:
    """What the engagement page shows about retention."""
    settings = request.app[SETTINGS]
    plan = await pq.get_retention_plan(session, engagement.id)
    planned = plan.erase_at if plan is not None else None
    due = planned or await retention_.due_of(session, engagement, plan, settings)
    return {
        "plan": plan,
        "keep": "policy" if plan is None or plan.keep_months is None else "never" if plan.keep_months == 0 else "months",
        "months": plan.keep_months if plan is not None and plan.keep_months else "",
        "policy": settings.retention.erase_after_months,
        "erase_at": due,
        "warned": plan is not None and plan.warned_at is not None,
        "extensions": retention_.EXTENSIONS,
    }


def register(app: web.Application) -> None:
    app.router.add_post("/engagements/{id}/retention", set_keep)
    app.router.add_post("/engagements/{id}/retention/extend", extend)
