"""The coach's resource library: ``/resources`` (list, search, add) and ``/resources/{rid}``
(edit, where it was shared and who has not answered yet, delete).

A form with a file is sent by the page's script with the CSRF header and read here as a
stream, within ``files.max_bytes``; without the script it is an ordinary form post (then
files up to the request limit, ``max_request_bytes``, fit).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import BodyPartReader, web

from ecoach.actions import resources as library
from ecoach.actions.chat_files import ReadyFile, check_upload, too_large
from ecoach.actions.errors import ActionError, N_
from ecoach.actions.unit import unit_of_work
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.logbook import resource_queries
from ecoach.logbook.resource_models import KINDS
from ecoach.web.files import SANDBOX
from ecoach.web.guard import BodyTimeout, InputError, streams_body
from ecoach.web.mail_pages import _disposition
from ecoach.web.params import path_id
from ecoach.web.render import gettext_for, render
from ecoach.web.security import CSRF_HEADER, get_coach, require_coach

FIELDS = ("kind", "title", "body", "url", "questions", "tags")
FIELD_MAX = 256 * 1024


async def _read_part(part: BodyPartReader, limit: int, on_over: Any) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(1 << 16):
        data += chunk
        if len(data) > limit:
            raise on_over(len(data))
    return bytes(data)


async def read_resource_form(request: web.Request) -> tuple[dict[str, str], tuple[str, bytes] | None]:
    """The form's fields and its file (name, bytes), if one was chosen."""
    files = request.app[SETTINGS].files
    if CSRF_HEADER not in request.headers:  # a plain form post, read and checked by the guard
        form = await request.post()
        upload = form.get("file")
        fields = {k: str(form.get(k, "")) for k in FIELDS}
        if isinstance(upload, web.FileField) and upload.filename:
            return fields, (upload.filename, upload.file.read())
        return fields, None
    fields: dict[str, str] = {}
    chosen = None
    field_too_long = lambda _n: InputError("field_too_long", N_("A field of this form is too long."))  # noqa: E731
    try:
        async with asyncio.timeout(files.upload_timeout_seconds):
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "file" and part.filename:
                    chosen = (part.filename, await _read_part(part, files.max_bytes,
                                                              lambda n: too_large(n, files.rules)))
                elif part.name in FIELDS:
                    fields[part.name] = (await _read_part(part, FIELD_MAX, field_too_long)).decode("utf-8", "replace")
    except TimeoutError:
        raise BodyTimeout("body_timeout", N_("The request took too long to arrive.")) from None
    if any("\x00" in value for value in fields.values()):
        raise InputError("text_invalid", N_("The request contains characters that cannot be stored "
                                            "(a NUL character or invalid Unicode)."))
    return fields, chosen


async def _checked(request: web.Request) -> tuple[dict[str, str], ReadyFile | None]:
    fields, chosen = await read_resource_form(request)
    ready = None
    if chosen is not None and chosen[1]:
        ready = await check_upload(chosen[0], chosen[1], request.app[SETTINGS].files.rules)
    return fields, ready


def _context(**extra: Any) -> dict[str, Any]:
    return {"kinds": KINDS, "kind_labels": library.KIND_LABELS, **extra}


async def _list_page(request: web.Request, *, form: dict[str, str] | None = None, error: str | None = None,
                     status: int = 200) -> web.Response:
    coach = get_coach(request)
    query, tag = request.query.get("q", "")[:200], request.query.get("tag", "")[:40] or None
    async with request.app[SESSIONS]() as session:
        found = await library.search_resources(session, coach.id, query, tag)
        counts = await resource_queries.count_open_exercises(session, coach.id)
    files = request.app[SETTINGS].files
    return await render(request, "resources.html", _context(
        resources=found, counts=counts, query=query, tag=tag or "", form=form or {}, error=error,
        max_bytes=files.max_bytes, allowed=files.rules.allowed), status=status)


@require_coach
async def resources_page(request: web.Request) -> web.StreamResponse:
    return await _list_page(request)


@streams_body
@require_coach
async def create_resource(request: web.Request) -> web.StreamResponse:
    coach = get_coach(request)
    fields: dict[str, str] = {}
    try:
        fields, ready = await _checked(request)
        form = library.check_resource(fields, has_file=ready is not None,
                                      max_chars=request.app[SETTINGS].max_message_chars)
        async with unit_of_work(request.app[SESSIONS]) as session:
            created = await library.do_create_resource(session, coach.id, form, ready, request.app[CLOCK].now())
    except ActionError as exc:
        if request.headers.get(CSRF_HEADER):
            raise  # the script shows the JSON error beside the form
        message = exc.translated(await gettext_for(request))
        return await _list_page(request, form=fields, error=message, status=exc.status)
    return _done(request, f"/resources/{created.id}")


def _done(request: web.Request, target: str) -> web.StreamResponse:
    if request.headers.get(CSRF_HEADER):
        return web.json_response({"location": target})
    raise web.HTTPSeeOther(target)


async def _detail(request: web.Request, *, error: str | None = None, form: dict[str, str] | None = None,
                  status: int = 200) -> web.Response:
    coach = get_coach(request)
    async with request.app[SESSIONS]() as session:
        resource = await library.get_owned_resource(session, coach.id, path_id(request, "rid"))
        shares = await resource_queries.get_shares_of_resource(session, coach.id, resource.id)
    files = request.app[SETTINGS].files
    return await render(request, "resource.html", _context(
        resource=resource, shares=shares, error=error, form=form, max_bytes=files.max_bytes,
        allowed=files.rules.allowed, waiting=[s for s in shares if s.share.answered_at is None]), status=status)


@require_coach
async def resource_page(request: web.Request) -> web.StreamResponse:
    return await _detail(request)


@streams_body
@require_coach
async def update_resource(request: web.Request) -> web.StreamResponse:
    coach = get_coach(request)
    fields: dict[str, str] = {}
    try:
        fields, ready = await _checked(request)
        async with unit_of_work(request.app[SESSIONS]) as session:
            resource = await library.get_owned_resource(session, coach.id, path_id(request, "rid"))
            form = library.check_resource(fields, has_file=ready is not None or resource.file_data is not None,
                                          max_chars=request.app[SETTINGS].max_message_chars)
            await library.do_update_resource(session, resource, form, ready, request.app[CLOCK].now())
    except ActionError as exc:
        if request.headers.get(CSRF_HEADER) or exc.status == 404:
            raise
        return await _detail(request, error=exc.translated(await gettext_for(request)), form=fields,
                             status=exc.status)
    return _done(request, f"/resources/{path_id(request, 'rid')}")


@require_coach
async def delete_resource(request: web.Request) -> web.StreamResponse:
    async with unit_of_work(request.app[SESSIONS]) as session:
        resource = await library.get_owned_resource(session, get_coach(request).id, path_id(request, "rid"))
        await library.do_delete_resource(session, resource)
    raise web.HTTPSeeOther("/resources")


@require_coach
async def resource_file(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        resource = await library.get_owned_resource(session, get_coach(request).id, path_id(request, "rid"))
    if resource.file_data is None or resource.file_name is None:
        raise library.NotFound("file_unknown", N_("This file does not exist."))
    response = web.Response(body=resource.file_data, headers={"Content-Type": resource.file_type or
                                                              "application/octet-stream"})
    response.headers["Content-Disposition"] = _disposition(resource.file_name)
    response.headers["Content-Security-Policy"] = SANDBOX
    return response


def register(app: web.Application) -> None:
    app.router.add_get("/resources", resources_page)
    app.router.add_post("/resources", create_resource)
    app.router.add_get("/resources/{rid}", resource_page)
    app.router.add_post("/resources/{rid}", update_resource)
    app.router.add_post("/resources/{rid}/delete", delete_resource)
    app.router.add_get("/resources/{rid}/file", resource_file)
