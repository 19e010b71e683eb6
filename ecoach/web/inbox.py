"""The coach's inbox, engagement pages, replies, search and engagement management."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from aiohttp_session import get_session

from ecoach.actions import engagements as eng_actions
from ecoach.actions.audit import do_note_search, do_note_view
from ecoach.actions.bundles import check_minutes
from ecoach.actions.notes import do_add_note
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.exchanges import check_client_id, check_message, do_mark_read
from ecoach.actions.replies import do_coach_reply
from ecoach.actions.unit import unit_of_work
from ecoach.core import notices
from ecoach.logbook import group_queries as gq
from ecoach.logbook import queries
from ecoach.logbook.models import Engagement
from ecoach.web import billing_engagement, booking_coach, data_export, session_panels
from ecoach.web import files as files_web
from ecoach.web import shares as shares_web
from ecoach.web import crisis as crisis_web
from ecoach.web import nudges as nudges_web
from ecoach.web import team as team_web
from ecoach.keys import CLOCK, SESSIONS, SETTINGS, reply_context
from ecoach.web.render import gettext_for, page_language, render
from ecoach.web.params import lenient_int, path_id
from ecoach.web.security import get_coach, require_coach

STATUS_TABS = {"open": ("active", "paused"), "closed": ("closed",)}
FLASH_LINK = "flash_chat_link"


def _id(request: web.Request) -> int:
    return path_id(request)


async def _owned(request: web.Request, session) -> Engagement:  # type: ignore[no-untyped-def]
    engagement = await queries.get_engagement(session, get_coach(request).id, _id(request))
    if engagement is None:
        raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    return engagement


def _page(request: web.Request) -> int:
    return lenient_int(request.query.get("page"), 0, high=10**6) or 0


async def _inbox_rows(request: web.Request) -> dict[str, Any]:
    tab = request.query.get("tab", "open")
    statuses = STATUS_TABS.get(tab, STATUS_TABS["open"])
    size = request.app[SETTINGS].inbox_page_size
    page = _page(request)
    coach = get_coach(request)
    async with request.app[SESSIONS]() as session:
        # Engagements with an open crisis signal come first, above everything, on the first page.
        crisis, top = await crisis_web.inbox_top(session, coach.id, statuses, first_page=page == 0)
        rows = await queries.get_inbox(session, coach.id, statuses=statuses, limit=size + 1, offset=page * size,
                                       exclude=crisis)
        more, rows = len(rows) > size, top + rows[:size]
        alerted = await nudges_web.inbox_alerts(session, rows)
        found = await queries.get_notices(session, [r.engagement.last_exchange_id or 0 for r in rows])
        groups = await gq.get_unread_groups(session, coach.id) if page == 0 and tab == "open" else []
    language = await page_language(request)
    notices_shown = {i: notices.first_line(n, language, coach.time_zone) for i, n in found.items()}
    return {"rows": rows, "tab": tab, "page": page, "more": more, "alerted": alerted,
            "notices": notices_shown, "crisis": crisis, "unread_groups": groups}


@require_coach
async def inbox(request: web.Request) -> web.StreamResponse:
    context = await _inbox_rows(request)
    context["data_notices"] = await data_export.inbox_notices(request)
    return await render(request, "inbox.html", context)


@require_coach
async def inbox_rows(request: web.Request) -> web.StreamResponse:
    """The inbox list alone, for the live refresh."""
    return await render(request, "_inbox_rows.html", await _inbox_rows(request))


@require_coach
async def new_engagement_form(request: web.Request) -> web.StreamResponse:
    return await render(request, "engagement_new.html", {"form": {}, "error": None})


@require_coach
async def create_engagement(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    fields = {k: str(form.get(k, "")) for k in (
        "coachee_name", "coachee_email", "language", "time_zone", "sponsor_name", "sponsor_email"
    )}
    coach = get_coach(request)
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            created = await eng_actions.do_create_engagement(
                session,
                coach,
                coachee_name=fields["coachee_name"],
                coachee_email=fields["coachee_email"],
                language=fields["language"] or None,
                time_zone=fields["time_zone"] or None,
                sponsor_name=fields["sponsor_name"],
                sponsor_email=fields["sponsor_email"],
                now=request.app[CLOCK].now(),
                link_days=request.app[SETTINGS].chat_link_days,
                secret=request.app[SETTINGS].secret,
            )
    except ActionError as exc:
        error = exc.translated(await gettext_for(request))
        return await render(
            request, "engagement_new.html", {"form": fields, "error": error}, status=exc.status
        )
    await _flash_link(request, created.engagement.id, created.chat_token)
    raise web.HTTPSeeOther(f"/engagements/{created.engagement.id}")


async def _flash_link(request: web.Request, engagement_id: int, token: str) -> None:
    session = await get_session(request)
    session[FLASH_LINK] = {"engagement_id": engagement_id, "url": chat_url(request, token)}


def chat_url(request: web.Request, token: str) -> str:
    return f"{request.app[SETTINGS].base_url}/c/{token}"


@require_coach
async def engagement_page(request: web.Request) -> web.StreamResponse:
    before = request.query.get("before")
    # Reading the page marks it read, clears the re-engagement badge and is noted in the
    # audit trail: a unit of work.
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        coachee = await queries.get_coachee(session, engagement.coachee_id)
        size = request.app[SETTINGS].timeline_page_size
        timeline = await queries.get_timeline(
            session,
            engagement.id,
            before_id=lenient_int(before),
            limit=size + 1,
        )
        link = await queries.get_active_chat_link(session, engagement.id, request.app[CLOCK].now())
        attachments = await queries.get_attachment_infos(session, [x.id for x in timeline])
        await do_mark_read(session, engagement)
        await do_note_view(session, "engagement_viewed", engagement.coach_id, engagement_id=engagement.id)
        nudge_panel = await nudges_web.panel(request, session, engagement, coachee)
        sessions_panel = await booking_coach.engagement_panel(request, session, engagement)
        coaching = await session_panels.coaching_panel(request, session, engagement, get_coach(request).time_zone,
                                                       await page_language(request))
        data_rights = await data_export.engagement_panel(request, session, engagement)
        billing_panel = await billing_engagement.panel(request, session, engagement)
        resources_panel = await shares_web.panel(request, session, engagement)
        crisis_flags = await crisis_web.engagement_panel(session, get_coach(request).id, engagement)
        team = await team_web.panel(request, session, engagement)
    older = len(timeline) > size
    timeline = timeline[-size:]
    web_session = await get_session(request)
    flash = web_session.pop(FLASH_LINK, None)
    if flash and flash.get("engagement_id") != engagement.id:
        flash = None
    token = eng_actions.chat_token_of(link, request.app[SETTINGS].secret) if link else None
    context = {
        "engagement": engagement,
        "coachee": coachee,
        "timeline": timeline,
        "older_than": timeline[0].id if older and timeline else None,
        "chat_link": link,
        "attachments": attachments,
        "new_link": flash["url"] if flash else None,
        "chat_url": chat_url(request, token) if token else None,
        "client_id": uuid.uuid4().hex,
        "reply_channel": _default_channel(request, engagement, coachee),
        "can_mail": request.app[SETTINGS].mail.enabled and bool(coachee and coachee.email),
        "max_chars": request.app[SETTINGS].max_message_chars,
        "nudges": nudge_panel,
        "sessions_panel": sessions_panel,
        "mode": "note" if request.query.get("mode") == "note" else "reply",
        "note_shared": request.query.get("shared") == "1",  # the Note tab with its "share" box ticked
        "changed": request.query.get("changed"),
        "coaching": coaching,
        "data_rights": data_rights,
        "billing_panel": billing_panel,
        "resources_panel": resources_panel,
        "team": team,
        **files_web.attach_context(request, upload=f"/engagements/{engagement.id}/files/",
                                   download=f"/engagements/{engagement.id}/exchanges/", direction="out"),
        "crisis_flags": crisis_flags,
    }
    return await render(request, "engagement.html", context)


def _default_channel(request: web.Request, engagement: Engagement, coachee) -> str:  # type: ignore[no-untyped-def]
    """Answer on the channel the coachee last used, when that channel is available."""
    if engagement.last_inbound_channel == "mail" and request.app[SETTINGS].mail.enabled and coachee.email:
        return "mail"
    return "chat"


@require_coach
async def post_reply(request: web.Request) -> web.StreamResponse:
    """The reply box without JavaScript; with JavaScript replies go over the websocket."""
    form = await request.post()
    engagement_id = _id(request)
    client_id = check_client_id(form.get("client_id"))
    text = check_message(form.get("text", ""), request.app[SETTINGS].max_message_chars)
    if form.get("mode") == "note" and form.get("shared"):
        # A note the coachee reads on their chat page (the Note tab's "share" box).
        await do_add_note(reply_context(request.app), get_coach(request), engagement_id, text=text, shared=True,
                          client_id=client_id)
        raise web.HTTPSeeOther(f"/engagements/{engagement_id}#latest")
    channel = "note" if form.get("mode") == "note" else str(form.get("channel", "chat"))
    await do_coach_reply(
        reply_context(request.app), get_coach(request), engagement_id,
        channel=channel, text=text, client_id=client_id,
        minutes=check_minutes(form.get("minutes")),
    )
    # Back to the reply tab after a note, as after a reply.
    raise web.HTTPSeeOther(f"/engagements/{engagement_id}#latest")


@require_coach
async def change_status(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        await eng_actions.do_change_status(
            session, engagement, str(form.get("action", "")), now=request.app[CLOCK].now()
        )
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}?changed={engagement.status}")


@require_coach
async def new_chat_link(request: web.Request) -> web.StreamResponse:
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        token = await eng_actions.do_new_chat_link(
            session, engagement, now=request.app[CLOCK].now(), days=request.app[SETTINGS].chat_link_days,
            secret=request.app[SETTINGS].secret,
        )
    await _flash_link(request, engagement.id, token)
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}")


@require_coach
async def revoke_chat_link(request: web.Request) -> web.StreamResponse:
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        await eng_actions.do_revoke_chat_links(session, engagement, now=request.app[CLOCK].now())
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}")


@require_coach
async def search(request: web.Request) -> web.StreamResponse:
    query = request.query.get("q", "").strip()[:200]
    hits = []
    if query:
        async with unit_of_work(request.app[SESSIONS]) as session:  # the trail notes it (never the words)
            hits = await queries.search_logbook(session, get_coach(request).id, query)
            await do_note_search(session, get_coach(request).id, results=len(hits))
    return await render(request, "search.html", {"query": query, "hits": hits})


def register(app: web.Application) -> None:
    app.router.add_get("/", inbox, name="inbox")
    app.router.add_get("/inbox/rows", inbox_rows)
    app.router.add_get("/engagements/new", new_engagement_form)
    app.router.add_post("/engagements", create_engagement)
    app.router.add_get("/engagements/{id}", engagement_page, name="engagement")
    app.router.add_post("/engagements/{id}/messages", post_reply)
    app.router.add_post("/engagements/{id}/status", change_status)
    app.router.add_post("/engagements/{id}/chat-link", new_chat_link)
    app.router.add_post("/engagements/{id}/chat-link/revoke", revoke_chat_link)
    app.router.add_get("/search", search)
