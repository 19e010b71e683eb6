"""Files in the web chat: upload (coach and coachee), download and image previews.

Uploads are ``PUT .../files/<client id>`` with the file as the raw body, its name in
``X-File-Name`` (percent-encoded UTF-8) and the CSRF token in ``X-CSRF-Token``. The client
id makes a resend (the offline outbox, a lost answer) return the first upload. The body is
read here, within ``files.max_bytes`` and ``files.upload_timeout_seconds`` (the guard leaves
it to this handler), and checked completely before anything is stored.

Downloads are always attachments (``Content-Disposition: attachment``) of the type the
content was verified to be, never rendered in our origin; previews are images we
re-encoded ourselves.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from ecoach.actions.chat_files import FileError, ReadyFile, check_upload, do_send_file, file_exchange, too_large
from ecoach.actions.engagements import check_chat_token
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.exchanges import Recorded, check_can_write, check_client_id, exchange_dict
from ecoach.actions.unit import unit_of_work
from ecoach.core.files import FileRules
from ecoach.keys import CLOCK, SESSIONS, SETTINGS, WRITER
from ecoach.logbook import queries, resource_queries
from ecoach.logbook.models import Engagement
from ecoach.web.guard import BodyTimeout, streams_body
from ecoach.web.mail_pages import _disposition
from ecoach.web.params import path_id
from ecoach.web.render import set_language
from ecoach.web.security import get_coach, require_coach

log = logging.getLogger(__name__)

SANDBOX = "default-src 'none'; sandbox"


def file_name_header(request: web.Request) -> str:
    raw = request.headers.get("X-File-Name", "")
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise FileError("file_name_invalid", N_("The file name could not be read.")) from None


async def read_upload(request: web.Request, rules: FileRules, seconds: float) -> bytes:
    """The body, refused as soon as it is known to be too large."""
    length = request.content_length
    if length is not None and length > rules.max_bytes:
        raise too_large(length, rules)
    body = bytearray()
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.content.iter_chunked(1 << 16):
                body += chunk
                if len(body) > rules.max_bytes:
                    raise too_large(len(body), rules)
    except TimeoutError:
        raise BodyTimeout("body_timeout", N_("The request took too long to arrive.")) from None
    return bytes(body)


async def _ready(request: web.Request) -> ReadyFile:
    files = request.app[SETTINGS].files
    name = file_name_header(request)
    data = await read_upload(request, files.rules, files.upload_timeout_seconds)
    return await check_upload(name, data, files.rules)


async def _upload(request: web.Request, engagement: Engagement, author: str, author_name: str) -> web.Response:
    client_id = check_client_id(request.match_info["client_id"])
    async with request.app[SESSIONS]() as session:  # a resend: answered without reading the file again
        existing = await queries.get_exchange_by_external_id(session, engagement.id, f"chat:{client_id}")
    if existing is not None:
        return web.json_response({"exchange": exchange_dict(existing), "duplicate": True})
    check_can_write(engagement, "in" if author == "coachee" else "out")  # before reading the file
    ready = await _ready(request)
    recorded = await store(request, engagement, ready, author, author_name, client_id)
    return web.json_response({"exchange": exchange_dict(recorded.exchange), "duplicate": not recorded.created})


async def store(request: web.Request, engagement: Engagement, ready: ReadyFile, author: str, author_name: str,
                client_id: str) -> Recorded:
    """SQLite has one writer: the file joins the chat's group commit, so a message never
    waits on the database's lock behind an upload. PostgreSQL writes concurrently: the
    file gets a transaction of its own, so a message never waits behind an upload."""
    app = request.app
    if app[SETTINGS].is_sqlite:
        return await app[WRITER].submit(
            file_exchange(engagement.id, ready, author=author, author_name=author_name, client_id=client_id))
    now = app[CLOCK].now()
    async with unit_of_work(app[SESSIONS]) as session:
        current = await queries.get_engagement_by_id(session, engagement.id)
        assert current is not None
        recorded = await do_send_file(session, current, ready, author=author, author_name=author_name,
                                      client_id=client_id, now=now)
        await app[WRITER].after_record(session, [recorded], now)
    return recorded


async def _coachee(request: web.Request) -> Engagement:
    async with request.app[SESSIONS]() as session:
        try:
            _link, engagement = await check_chat_token(session, request.match_info["token"], request.app[CLOCK].now())
        except ActionError as exc:
            if exc.language:
                set_language(request, exc.language)
            raise
    set_language(request, engagement.language)
    return engagement


async def _coachs(request: web.Request) -> Engagement:
    async with request.app[SESSIONS]() as session:
        engagement = await queries.get_engagement(session, get_coach(request).id, path_id(request))
    if engagement is None:
        raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    return engagement


@streams_body
async def coachee_upload(request: web.Request) -> web.StreamResponse:
    engagement = await _coachee(request)
    async with request.app[SESSIONS]() as session:
        coachee = await queries.get_coachee(session, engagement.coachee_id)
    assert coachee is not None
    return await _upload(request, engagement, "coachee", coachee.name)


@streams_body
@require_coach
async def coach_upload(request: web.Request) -> web.StreamResponse:
    coach = get_coach(request)
    return await _upload(request, await _coachs(request), "coach", coach.name)


async def _file(request: web.Request, engagement: Engagement, *, coachee: bool, preview: bool) -> web.StreamResponse:
    exchange_id = path_id(request, "xid")
    async with request.app[SESSIONS]() as session:
        found = await resource_queries.get_exchange_file(session, engagement.id, exchange_id, coachee=coachee)
        small = await resource_queries.get_preview(session, found.id) if found is not None and preview else None
    if found is None or (preview and small is None):
        raise NotFound("file_unknown", N_("This file does not exist."))
    if small is not None:
        response = web.Response(body=small.data, headers={"Content-Type": small.content_type})
        response.headers["Content-Disposition"] = "inline"
    else:
        # The type its content was verified to be, and always a download: a file from
        # someone else never renders in our origin.
        response = web.Response(body=found.data, headers={"Content-Type": found.content_type})
        response.headers["Content-Disposition"] = _disposition(found.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = SANDBOX
    return response


async def coachee_file(request: web.Request) -> web.StreamResponse:
    return await _file(request, await _coachee(request), coachee=True, preview=False)


async def coachee_preview(request: web.Request) -> web.StreamResponse:
    return await _file(request, await _coachee(request), coachee=True, preview=True)


@require_coach
async def coach_file(request: web.Request) -> web.StreamResponse:
    return await _file(request, await _coachs(request), coachee=False, preview=False)


@require_coach
async def coach_preview(request: web.Request) -> web.StreamResponse:
    return await _file(request, await _coachs(request), coachee=False, preview=True)


def attach_context(request: web.Request, *, upload: str, download: str, direction: str) -> dict[str, Any]:
    """What ``_chat_files.html`` needs: where files go and come from, and the limits."""
    files = request.app[SETTINGS].files
    return {"files_upload": upload, "files_download": download, "files_direction": direction,
            "files_max_bytes": files.max_bytes, "files_allowed": files.rules.allowed}


def register(app: web.Application) -> None:
    app.router.add_put("/c/{token}/files/{client_id}", coachee_upload)
    app.router.add_get("/c/{token}/exchanges/{xid}/file", coachee_file)
    app.router.add_get("/c/{token}/exchanges/{xid}/preview", coachee_preview)
    app.router.add_put("/engagements/{id}/files/{client_id}", coach_upload)
    app.router.add_get("/engagements/{id}/exchanges/{xid}/file", coach_file)
    app.router.add_get("/engagements/{id}/exchanges/{xid}/preview", coach_preview)
