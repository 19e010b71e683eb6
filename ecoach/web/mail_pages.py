"""Mail in the coach's browser: the quarantine, attachments and original messages.

Every route is for the logged-in coach only and looks things up scoped by that coach:
another coach's quarantined mail, exchange or attachment is a 404, never a 403 (which
would tell that it exists).
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from ecoach.actions.audit import do_note_view
from ecoach.actions.errors import N_, NotFound
from ecoach.actions.quarantine import do_assign, do_discard, do_restore, get_quarantine
from ecoach.logbook.mail_models import Quarantine
from ecoach.actions.unit import unit_of_work
from ecoach.logbook import mail_queries, queries
from ecoach.logbook.models import Exchange
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.web.confirm import confirm_page
from ecoach.web.render import render
from ecoach.core.inputs import parse_int
from ecoach.web.params import path_id
from ecoach.web.security import get_coach, require_coach

TABS = ("held", "assigned", "released", "discarded")
# The tabs' labels are the statuses, translated in the template (listed for extraction).
TAB_LABELS = {"held": N_("held"), "assigned": N_("assigned"), "released": N_("released"),
              "discarded": N_("discarded")}


def _int(request: web.Request, name: str) -> int:
    return path_id(request, name)


@require_coach
async def quarantine_page(request: web.Request) -> web.StreamResponse:
    status = request.query.get("status", "held")
    status = status if status in TABS else "held"
    coach = get_coach(request)
    async with unit_of_work(request.app[SESSIONS]) as session:  # the audit trail notes the visit
        entries = await get_quarantine(session, coach.id, status=status)
        engagements = await queries.get_inbox(session, coach.id, statuses=("active", "paused"), limit=500)
        await do_note_view(session, "quarantine_viewed", coach.id, count=len(entries))
    return await render(request, "quarantine.html", {
        "entries": entries, "status": status, "tabs": TABS, "engagements": engagements,
    })


async def _own_entry(request: web.Request) -> Quarantine:
    async with request.app[SESSIONS]() as session:
        entry = await mail_queries.get_quarantine_entry(session, get_coach(request).id, _int(request, "qid"))
    if entry is None:
        raise NotFound("quarantine_unknown", N_("This quarantined mail does not exist."))
    return entry


@require_coach
async def quarantine_original(request: web.Request) -> web.StreamResponse:
    coach = get_coach(request)
    async with unit_of_work(request.app[SESSIONS]) as session:
        entry = await mail_queries.get_quarantine_entry(session, coach.id, _int(request, "qid"))
        if entry is None:
            raise NotFound("quarantine_unknown", N_("This quarantined mail does not exist."))
        await do_note_view(session, "quarantine_original_viewed", coach.id, engagement_id=entry.engagement_id,
                           held=entry.id)
    return _plain(entry.raw)


@require_coach
async def quarantine_action(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    action = request.match_info["action"]
    coach = get_coach(request)
    entry_id = _int(request, "qid")
    now = request.app[CLOCK].now()
    recorded = None
    async with unit_of_work(request.app[SESSIONS]) as session:
        if action == "discard":
            await do_discard(session, coach.id, entry_id, now=now)
        elif action == "restore":
            await do_restore(session, coach.id, entry_id)
        else:
            target = None
            if action == "assign":
                target = parse_int(form.get("engagement_id"), low=1)
                if target is None:
                    raise NotFound("engagement_unknown", N_("This engagement does not exist."))
            settings = request.app[SETTINGS]
            recorded = await do_assign(session, coach.id, entry_id, target, mail=settings.mail, now=now,
                                       base_url=settings.base_url)
    if recorded is not None:
        raise web.HTTPSeeOther(f"/engagements/{recorded.exchange.engagement_id}#x{recorded.exchange.id}")
    if action in ("discard", "restore"):  # say so, with the way back (undo)
        raise web.HTTPSeeOther(f"/quarantine?done={'discarded' if action == 'discard' else 'restored'}")
    raise web.HTTPSeeOther("/quarantine")


@require_coach
async def confirm_discard(request: web.Request) -> web.StreamResponse:
    entry = await _own_entry(request)
    return await confirm_page(request, "discard_mail", action=f"/quarantine/{entry.id}/discard", back="/quarantine")


async def _owned_exchange(request: web.Request, session) -> Exchange:  # type: ignore[no-untyped-def]
    engagement = await queries.get_engagement(session, get_coach(request).id, _int(request, "id"))
    exchange = await mail_queries.get_exchange(session, engagement.id, _int(request, "xid")) if engagement else None
    if exchange is None:
        raise NotFound("exchange_unknown", N_("This exchange does not exist."))
    return exchange


@require_coach
async def exchange_original(request: web.Request) -> web.StreamResponse:
    """The whole mail as it came (what the timeline folds away is here)."""
    async with unit_of_work(request.app[SESSIONS]) as session:
        exchange = await _owned_exchange(request, session)
        source = await mail_queries.get_mail_source(session, exchange.id)
        if source is None:
            raise NotFound("original_unknown", N_("There is no original for this exchange."))
        await do_note_view(session, "original_viewed", get_coach(request).id, engagement_id=exchange.engagement_id,
                           exchange=exchange.id)
    return _plain(source.raw)


@require_coach
async def attachment(request: web.Request) -> web.StreamResponse:
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await queries.get_engagement(session, get_coach(request).id, _int(request, "id"))
        found = await mail_queries.get_attachment(session, engagement.id, _int(request, "aid")) if engagement else None
        if found is None or engagement is None:
            raise NotFound("attachment_unknown", N_("This attachment does not exist."))
        await do_note_view(session, "attachment_viewed", engagement.coach_id, engagement_id=engagement.id,
                           attachment=_int(request, "aid"))
    response = web.Response(body=found.data, content_type="application/octet-stream")
    # Always a download: an attachment from outside never renders in our origin.
    response.headers["Content-Disposition"] = _disposition(found.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _disposition(filename: str) -> str:
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _plain(raw: bytes) -> web.Response:
    # Shown as text, never as HTML, in a sandbox: a hostile mail stays inert.
    response = web.Response(text=raw.decode("utf-8", "replace"), content_type="text/plain")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def register(app: web.Application) -> None:
    app.router.add_get("/quarantine", quarantine_page)
    app.router.add_get("/quarantine/{qid}/original", quarantine_original)
    app.router.add_post("/quarantine/{qid}/{action:assign|release|discard|restore}", quarantine_action)
    app.router.add_get("/quarantine/{qid}/discard", confirm_discard)
    app.router.add_get("/engagements/{id}/exchanges/{xid}/original", exchange_original)
    app.router.add_get("/engagements/{id}/attachments/{aid}", attachment)
