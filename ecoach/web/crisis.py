"""Crisis signals in the coach's pages: the red rows on top of the inbox, the panel on the
engagement page (what was recognised; mark handled or a false alarm), and the settings
page for the coach's crisis resources (``/settings/crisis``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import crisis as crisis_
from ecoach.actions import crisis_resources as resources_
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.unit import unit_of_work
from ecoach.core.crisis import Category
from ecoach.keys import CLOCK, SESSIONS
from ecoach.logbook import crisis_queries as cq
from ecoach.logbook import queries
from ecoach.logbook.models import Engagement
from ecoach.logbook.queries import InboxRow
from ecoach.web.params import path_id
from ecoach.web.render import gettext_for, render
from ecoach.web.security import get_coach, require_coach

SAVED = N_("Saved: your coachees see these crisis resources.")
RESET = N_("The standard crisis resources are shown again.")
_KNOWN = frozenset(c.value for c in Category)


async def inbox_top(session: AsyncSession, coach_id: int, statuses: tuple[str, ...], *, first_page: bool
                    ) -> tuple[dict[int, int], list[InboxRow]]:
    """The engagements with an open crisis signal (id -> open signals), and their inbox
    rows for the top of the first page."""
    crisis = await cq.get_crisis_engagements(session, coach_id)
    if not crisis or not first_page:
        return crisis, []
    return crisis, await queries.get_inbox(session, coach_id, statuses=statuses, only=crisis, limit=len(crisis))


async def engagement_panel(session: AsyncSession, coach_id: int, engagement: Engagement) -> list[dict[str, Any]]:
    """The open signals of an engagement, for its page."""
    return [{"id": flag.id, "exchange_id": flag.exchange_id, "created_at": flag.created_at, "channel": flag.channel,
             "categories": [crisis_.CATEGORY_LABELS[Category(c)] for c in flag.categories.split() if c in _KNOWN],
             "excerpts": list(dict.fromkeys(flag.excerpts or []))[:10]}
            for flag in await cq.get_open_flags(session, coach_id, engagement.id)]


@require_coach
async def resolve(request: web.Request) -> web.StreamResponse:
    """Mark an open signal handled or a false alarm (not destructive: both stay in the logbook)."""
    engagement_id, flag_id = path_id(request), path_id(request, "flag")
    form = await request.post()
    async with unit_of_work(request.app[SESSIONS]) as session:
        await crisis_.do_resolve_crisis(session, get_coach(request), engagement_id, flag_id,
                                        str(form.get("resolution", ""))[:40], now=request.app[CLOCK].now())
    raise web.HTTPSeeOther(f"/engagements/{engagement_id}#crisis")


def _language(request: web.Request) -> str:
    """The language asked for, else the coach's own."""
    for language in (request.query.get("language", ""), get_coach(request).language):
        if language in resources_.LANGUAGES:
            return language
    return "nl"


async def _page(request: web.Request, language: str, *, slots: list[dict[str, str]] | None = None,
                error: str | None = None, status: int = 200) -> web.StreamResponse:
    coach = get_coach(request)
    async with request.app[SESSIONS]() as session:
        custom = await cq.has_custom_resources(session, coach.id, language)
        if slots is None:
            slots = resources_.form_slots(await cq.get_resources(session, coach.id, language))
    done = request.query.get("done")
    return await render(request, "crisis_settings.html", {
        "language": language, "languages": resources_.LANGUAGES, "slots": slots, "custom": custom,
        "error": error, "done": {"saved": SAVED, "reset": RESET}.get(done or "")}, status=status)


@require_coach
async def settings_page(request: web.Request) -> web.StreamResponse:
    return await _page(request, _language(request))


@require_coach
async def save(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    language = str(form.get("language", ""))
    if language not in resources_.LANGUAGES:
        raise NotFound("crisis_language_unknown", N_("There are crisis resources for Dutch and English only."))
    slots = resources_.read_slots(form)
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            if form.get("action") == "reset":
                await resources_.do_reset_resources(session, get_coach(request).id, language,
                                                    now=request.app[CLOCK].now())
                done = "reset"
            else:
                await resources_.do_save_resources(session, get_coach(request).id, language,
                                                   resources_.check_slots(slots), now=request.app[CLOCK].now())
                done = "saved"
    except ActionError as exc:
        error = exc.translated(await gettext_for(request))
        return await _page(request, language, slots=resources_.padded(slots), error=error, status=exc.status)
    raise web.HTTPSeeOther(f"/settings/crisis?language={language}&done={done}")


def register(app: web.Application) -> None:
    app.router.add_post("/engagements/{id}/crisis/{flag}", resolve)
    app.router.add_get("/settings/crisis", settings_page)
    app.router.add_post("/settings/crisis", save)
