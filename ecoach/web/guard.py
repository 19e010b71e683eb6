"""Checks every request passes before a handler sees it, and headers every response gets.

- Paths, query values and form fields holding NUL or invalid Unicode are refused with a
  400 (PostgreSQL cannot store NUL; such text is never a real answer).
- A request body must arrive within ``limits.body_timeout_seconds``: a client that sends
  it a byte at a time gets a 408 instead of holding a handler for ever.
- Security headers go on every response through ``on_response_prepare``, so redirects,
  errors raised by the router (404, 405) and websocket handshakes carry them too.
  Responses other than static files are ``Cache-Control: no-store``: pages show a
  coach's confidential conversations and must not stay in a shared or back-button cache.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from ecoach.actions.errors import ActionError, N_
from ecoach.core.inputs import text_ok
from ecoach.keys import SETTINGS

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # Chat links carry their token in the path: never leak it in a Referer.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class InputError(ActionError):
    status = 400


class BodyTimeout(ActionError):
    status = 408


def _refuse_text() -> InputError:
    return InputError("text_invalid", N_("The request contains characters that cannot be stored "
                                         "(a NUL character or invalid Unicode)."))


@web.middleware
async def input_guard(request: web.Request, handler):  # type: ignore[no-untyped-def]
    if not text_ok(request.path) or not all(text_ok(k) and text_ok(v) for k, v in request.query.items()):
        raise _refuse_text()
    if request.body_exists and not _reads_own_body(request):
        await _read_body(request)
    return await handler(request)


def streams_body(handler):  # type: ignore[no-untyped-def]
    """Mark a handler that reads a large body itself (file uploads), within its own size
    and time limits. The guard leaves the body to it only when the request carries the
    CSRF header (a script sent it): a plain form post is read and checked as usual."""
    handler.streams_body = True
    return handler


def _reads_own_body(request: web.Request) -> bool:
    return getattr(request.match_info.handler, "streams_body", False) and "X-CSRF-Token" in request.headers


async def _read_body(request: web.Request) -> None:
    """Read the whole body now, within the time limit; aiohttp caches it for the handler."""
    seconds = request.app[SETTINGS].limits.body_timeout_seconds
    form = request.content_type in FORM_TYPES
    try:
        async with asyncio.timeout(seconds):
            data = await (request.post() if form else request.read())
    except TimeoutError:
        log.warning("request body on %s took more than %ss", request.path, seconds)
        raise BodyTimeout("body_timeout", N_("The request took too long to arrive.")) from None
    except (ValueError, LookupError, AssertionError):
        raise InputError("body_invalid", N_("The request body could not be read.")) from None
    if form:
        for key, value in data.items():  # type: ignore[union-attr]
            if not text_ok(key) or (isinstance(value, str) and not text_ok(value)):
                raise _refuse_text()


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.app[SETTINGS].secure_cookies:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


def setup(app: web.Application) -> None:
    app.middlewares.append(input_guard)
    app.on_response_prepare.append(add_headers)
