"""Turns errors into clear pages (or JSON under /api): never a traceback to the user."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy.exc import DBAPIError

from ecoach.actions.errors import ActionError
from ecoach.keys import I18N, OPEN_SOCKET
from ecoach.web.render import page_language, render
from ecoach.web.security import CsrfError, Handler

log = logging.getLogger(__name__)


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ActionError as exc:
        if (socket := request.get(OPEN_SOCKET)) is not None:
            return await _close_socket(request, socket, exc)
        gettext = request.app[I18N].gettext(await page_language(request))
        response = await _error(request, exc.status, exc.code, exc.translated(gettext))
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="ecoach"'
        if retry_after := getattr(exc, "retry_after", None):
            response.headers["Retry-After"] = str(retry_after)
        return response
    except CsrfError:
        gettext = request.app[I18N].gettext(await page_language(request))
        message = gettext(
            "This form has expired or did not come from this site. Reload the page and try again."
        )
        return await _error(request, 403, "csrf_failed", message)
    except web.HTTPNotFound:
        gettext = request.app[I18N].gettext(await page_language(request))
        return await _error(request, 404, "not_found", gettext("This page does not exist."))
    except web.HTTPException as exc:
        if exc.status < 400 or not _wants_json(request):
            raise
        response = web.json_response({"error": {"code": exc.reason, "message": exc.text}}, status=exc.status)
        if "Allow" in exc.headers:  # 405 says what is allowed, in JSON too
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:  # the last line of defence: log it, show a calm page
        log.exception("unhandled error on %s %s", request.method, request.path)
        if (socket := request.get(OPEN_SOCKET)) is not None:
            return await _close_socket(request, socket, exc)
        gettext = request.app[I18N].gettext(await page_language(request))
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            # The database went away under this request (a restart): the pool reconnects, so
            # trying again works; nothing of this request was committed.
            return await _error(request, 503, "database_interrupted", gettext(
                "The connection to the database was interrupted. Please try again."))
        return await _error(request, 500, "internal", gettext("Something went wrong on our side. Please try again."))


async def _close_socket(request: web.Request, socket: web.WebSocketResponse,
                        exc: Exception) -> web.StreamResponse:
    """The handshake is done: an HTTP error page would corrupt the stream. Close the
    socket with a reason instead (1011: the server failed; 4xxx: refused)."""
    if not socket.closed:
        code = 4000 + exc.status if isinstance(exc, ActionError) else 1011
        await socket.close(code=code, message=getattr(exc, "code", "internal").encode()[:120])
    return socket


async def _error(request: web.Request, status: int, code: str, message: str) -> web.StreamResponse:
    if _wants_json(request):
        return web.json_response({"error": {"code": code, "message": message}}, status=status)
    return await render(request, "error.html", {"status": status, "message": message}, status=status)
