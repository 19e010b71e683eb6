"""The coachee's data package in the browser.

- ``POST /c/{token}/data``: the coachee asks for it from their chat page;
- ``POST /engagements/{id}/data-requests/{rid}/approve`` (or ``/decline``): the coach answers;
- ``GET /data/{token}``: the coachee's time-limited download link;
- ``GET /engagements/{id}/data-package``: the coach downloads it directly.

The ZIP is streamed as it is made (``ecoach.actions.data_package``): nothing of it is
kept on the server. Another coach's engagement or request is a 404.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import export_requests as requests_
from ecoach.actions.data_package import PackageSpec, file_name, package_chunks
from ecoach.actions.engagements import check_chat_token
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.unit import unit_of_work
from ecoach.keys import CLOCK, I18N, SESSIONS, SETTINGS
from ecoach.logbook import privacy_queries as pq
from ecoach.logbook import queries
from ecoach.logbook.models import Engagement
from ecoach.web import retention as retention_web
from ecoach.web.params import path_id
from ecoach.web.privacy_flash import flash, take_flash
from ecoach.web.render import set_language
from ecoach.web.security import get_coach, require_coach

log = logging.getLogger(__name__)

APPROVED = N_("The request is approved: your coachee can download their data now.")
DECLINED = N_("The request is declined; your coachee can read why in their chat.")
ASKED = N_("Your request has been sent to your coach. You will find the download link here once it is approved.")


async def _owned(request: web.Request, session: AsyncSession) -> Engagement:
    engagement = await queries.get_engagement(session, get_coach(request).id, path_id(request))
    if engagement is None:
        raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    return engagement


async def _stream(request: web.Request, spec: PackageSpec, engagement: Engagement) -> web.StreamResponse:
    """Send the ZIP as it is made. Before the first bytes an error is a normal error page;
    after them the connection is closed, so a broken package never looks complete."""
    i18n = request.app[I18N]

    def render(template: str, context: dict[str, Any]) -> str:
        return i18n.render(engagement.language, template, context)

    chunks: AsyncIterator[bytes] = package_chunks(request.app[SESSIONS], spec, render)
    first = await anext(chunks)
    response = web.StreamResponse(headers={
        "Content-Type": "application/zip",
        "Content-Disposition": f'attachment; filename="{file_name(engagement, spec.now)}"',
        "Cache-Control": "no-store",
    })
    await response.prepare(request)
    try:
        await response.write(first)
        async for chunk in chunks:
            if chunk:
                await response.write(chunk)
    except (ConnectionError, RuntimeError) as exc:  # the reader went away
        log.info("data package of engagement %s not finished: %s", engagement.id, exc)
        return response
    except Exception:  # noqa: BLE001 - the headers are out: break off instead of an error page
        log.exception("data package of engagement %s broke off", engagement.id)
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write_eof()
    return response


@require_coach
async def coach_download(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        engagement = await _owned(request, session)
    now = request.app[CLOCK].now()
    # Audit: when the audit area lands, record_audit(coach, "export", engagement) here.
    log.info("coach %s downloads the data package of engagement %s", get_coach(request).id, engagement.id)
    spec = PackageSpec(engagement.id, request.app[SETTINGS].export.include_private_notes, now)
    return await _stream(request, spec, engagement)


async def coachee_download(request: web.Request) -> web.StreamResponse:
    now = request.app[CLOCK].now()
    async with unit_of_work(request.app[SESSIONS]) as session:
        try:
            found = await requests_.check_download(session, request.match_info["token"], now)
        except ActionError as exc:
            if exc.language:
                set_language(request, exc.language)
            raise
        await requests_.do_count_download(session, found.request, now)
    # Audit: when the audit area lands, record_audit(coachee, "export", engagement) here.
    log.info("data package %s downloaded by its link", found.request.id)
    spec = PackageSpec(found.engagement.id, found.request.include_notes, now)
    return await _stream(request, spec, found.engagement)


async def coachee_request(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    settings, now = request.app[SETTINGS], request.app[CLOCK].now()
    async with unit_of_work(request.app[SESSIONS]) as session:
        try:
            _link, engagement = await check_chat_token(session, token, now)
        except ActionError as exc:
            if exc.language:
                set_language(request, exc.language)
            raise
        await requests_.do_request_export(session, engagement, settings=settings, now=now)
    await flash(request, engagement.id, ASKED)
    raise web.HTTPSeeOther(f"/c/{token}#your-data")


def _request_id(request: web.Request) -> int:
    return path_id(request, "rid", code="export_request_unknown")


@require_coach
async def approve(request: web.Request) -> web.StreamResponse:
    settings, now = request.app[SETTINGS], request.app[CLOCK].now()
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        await _check_of(session, request, engagement)
        await requests_.do_approve_export(session, get_coach(request), _request_id(request), settings=settings,
                                          now=now)
    await flash(request, engagement.id, APPROVED)
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}#your-data")


@require_coach
async def decline(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    now = request.app[CLOCK].now()
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        await _check_of(session, request, engagement)
        await requests_.do_decline_export(session, get_coach(request), _request_id(request), form.get("reason"),
                                          now=now)
    await flash(request, engagement.id, DECLINED)
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}#your-data")


async def _check_of(session: AsyncSession, request: web.Request, engagement: Engagement) -> None:
    """The request must belong to the engagement in the path."""
    found = await pq.get_export_request(session, get_coach(request).id, _request_id(request))
    if found is None or found.engagement_id != engagement.id:
        raise NotFound("export_request_unknown", N_("This request does not exist."))


async def coachee_panel(request: web.Request, session: AsyncSession, engagement: Engagement,
                        chat_token: str) -> dict[str, Any]:
    """What the chat page shows under "Your data": the form, the request, the link."""
    now, settings = request.app[CLOCK].now(), request.app[SETTINGS]
    latest = await pq.get_latest_export_request(session, engagement.id)
    token = requests_.download_token(latest, settings.secret) if latest else None
    works = latest is not None and requests_.link_works(latest, now)
    return {
        "latest": latest,
        "link": f"/data/{token}" if works and token else None,
        "waiting": latest is not None and latest.status == "requested",
        "action": f"/c/{chat_token}/data",
        "flash": await take_flash(request, engagement.id),
    }


async def engagement_panel(request: web.Request, session: AsyncSession, engagement: Engagement) -> dict[str, Any]:
    """What the engagement page shows under "Data and privacy"."""
    return {
        "requests": await pq.get_engagement_export_requests(session, engagement.id),
        "retention": await retention_web.panel(request, session, engagement),
        "flash": await take_flash(request, engagement.id),
        "now": request.app[CLOCK].now(),
    }


async def inbox_notices(request: web.Request) -> dict[str, Any]:
    """The inbox's notices: requests waiting for approval, erasures coming."""
    coach = get_coach(request)
    async with request.app[SESSIONS]() as session:
        return {"requests": await pq.get_waiting_export_requests(session, coach.id),
                "erasures": await pq.get_erasure_notices(session, coach.id)}


def register(app: web.Application) -> None:
    app.router.add_post("/c/{token}/data", coachee_request)
    app.router.add_get("/data/{token}", coachee_download)
    app.router.add_get("/engagements/{id}/data-package", coach_download)
    app.router.add_post("/engagements/{id}/data-requests/{rid}/approve", approve)
    app.router.add_post("/engagements/{id}/data-requests/{rid}/decline", decline)
