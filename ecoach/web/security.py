"""Sessions, CSRF, security headers, and the logged-in coach.

Sessions live in an encrypted cookie (aiohttp-session + Fernet from ``cryptography``).
Every unsafe request to a page carries the session's CSRF token, compared in constant
time; the JSON API authenticates with bearer tokens instead of cookies and so needs none.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from urllib.parse import quote
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet

from ecoach.core.tokens import same_secret
from ecoach.logbook import queries
from ecoach.logbook.models import Coach
from ecoach.keys import SESSIONS, SETTINGS

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
COACH = web.RequestKey("coach", Coach)
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def setup(app: web.Application, secret: str, *, max_age: int, secure: bool) -> None:
    key = base64.urlsafe_b64encode(hashlib.sha256(f"session:{secret}".encode()).digest())
    storage = EncryptedCookieStorage(
        Fernet(key),
        cookie_name="ecoach_session",
        max_age=max_age,
        httponly=True,
        secure=secure,
        samesite="Lax",
    )
    setup_session(app, storage)
    app.middlewares.append(headers_middleware)
    app.middlewares.append(csrf_middleware)


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # Chat links carry their token in the path: never leak it in a Referer.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return str(token)


class CsrfError(web.HTTPForbidden):
    pass


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in UNSAFE and not request.path.startswith("/api/"):
        session = await get_session(request)
        expected = session.get("csrf")
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            sent = (await request.post()).get(CSRF_FIELD)
        if not expected or not isinstance(sent, str) or not same_secret(sent, str(expected)):
            log.warning("CSRF check failed on %s %s", request.method, request.path)
            raise CsrfError(reason="csrf")
    return await handler(request)


async def login_session(request: web.Request, coach: Coach) -> Session:
    session = await new_session(request)  # a fresh session id: no fixation
    session["coach_id"] = coach.id
    session["csrf"] = secrets.token_urlsafe(32)
    return session


async def logout_session(request: web.Request) -> None:
    session = await get_session(request)
    session.invalidate()


async def current_coach(request: web.Request) -> Coach | None:
    if COACH in request:
        return request[COACH]
    session = await get_session(request)
    coach_id = session.get("coach_id")
    if not isinstance(coach_id, int):
        return None
    async with request.app[SESSIONS]() as db:
        coach = await queries.get_coach(db, coach_id)
    if coach is None:
        session.invalidate()
        return None
    request[COACH] = coach
    return coach


def require_coach(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        coach = await current_coach(request)
        if coach is None:
            # A form sent after the login ran out cannot be replayed: back to the inbox.
            target = request.path_qs if request.method == "GET" else "/"
            raise web.HTTPSeeOther(f"/login?next={quote(target)}")
        return await handler(request)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


def get_coach(request: web.Request) -> Coach:
    return request[COACH]


def same_origin(request: web.Request) -> bool:
    """Websockets carry no CSRF token: refuse handshakes started by another site."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser
    return origin.rstrip("/") in {f"{request.scheme}://{request.host}", request.app[SETTINGS].base_url}


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


def safe_next(value: Any) -> str:
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//"):
        return value
    return "/"
