"""Login sessions, CSRF, the logged-in coach, client addresses and safe redirects.

A coach's login is a server-side session (``actions.auth_sessions``): the ``ecoach_auth``
cookie holds a random id whose digest is looked up on every request, so logging out (or
any other end) stops a copied cookie at once. The small encrypted cookie of
aiohttp-session (Fernet from ``cryptography``) only carries what is not a login: the
CSRF token of forms (also before login) and one-time notices.

Every unsafe request to a page carries the CSRF token, compared in constant time; the
JSON API authenticates with bearer tokens instead of cookies and so needs none.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web
from aiohttp_session import get_session, new_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet

from ecoach.actions import auth_sessions
from ecoach.actions.audit import set_actor
from ecoach.actions.auth_sessions import FULL, SessionPolicy
from ecoach.actions.unit import unit_of_work
from ecoach.actions.errors import Forbidden, N_
from ecoach.core.tokens import same_secret
from ecoach.logbook.account_models import AuthSession
from ecoach.logbook.models import Coach
from ecoach.keys import CLOCK, SESSIONS, SETTINGS

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
COACH = web.RequestKey("coach", Coach)
AUTH_SESSION = web.RequestKey("auth_session", AuthSession)
# Set when the password was right but a second factor is still due (the 2FA page reads it).
PENDING_SECOND_FACTOR = web.RequestKey("pending_second_factor", AuthSession)
# Set when the practice requires 2FA and this coach has not set it up yet.
NEEDS_ENROLMENT = web.RequestKey("needs_enrolment", bool)
AUTH_COOKIE = "ecoach_auth"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Reachable while 2FA setup is required but not done.
ENROLMENT_PATHS = ("/account/2fa", "/logout")


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


async def csrf_token(request: web.Request) -> str:
    """The form token, masked afresh for every page: compressed pages never repeat it
    (BREACH; see web/compression.py)."""
    session = await get_session(request)
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return mask_token(str(token))


def mask_token(token: str) -> str:
    raw = token.encode()
    pad = secrets.token_bytes(len(raw))
    return base64.urlsafe_b64encode(pad + bytes(a ^ b for a, b in zip(raw, pad))).decode().rstrip("=")


def csrf_matches(sent: str, expected: str) -> bool:
    """A masked token from a page, or the plain one (the X-CSRF-Token header of scripts)."""
    if len(sent) > 4 * len(expected):
        return False
    try:
        data = base64.urlsafe_b64decode(sent + "=" * (-len(sent) % 4))
    except ValueError:
        data = b""
    if len(data) == 2 * len(expected.encode()):
        half = len(data) // 2
        sent = bytes(a ^ b for a, b in zip(data[half:], data[:half])).decode("latin-1")
    return same_secret(sent, expected)


class CsrfError(web.HTTPForbidden):
    pass


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    unrouted = request.match_info.http_exception is not None  # 404/405: nothing to protect
    if request.method in UNSAFE and not request.path.startswith("/api/") and not unrouted:
        session = await get_session(request)
        expected = session.get("csrf")
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            sent = (await request.post()).get(CSRF_FIELD)
        if not expected or not isinstance(sent, str) or not csrf_matches(sent, str(expected)):
            log.warning("CSRF check failed on %s %s", request.method, request.path)
            raise CsrfError(reason="csrf")
    return await handler(request)


def policy(request: web.Request) -> SessionPolicy:
    return SessionPolicy.from_settings(request.app[SETTINGS])


async def start_login(request: web.Request, response: web.StreamResponse, coach: Coach, *,
                      stage: str = FULL, method: str = "password") -> AuthSession:
    """A new server-side session for the coach, its id set as a cookie on ``response``
    (``method``: how the coach proved who they are, for the audit trail)."""
    async with unit_of_work(request.app[SESSIONS]) as db:
        row, token = await auth_sessions.do_start_session(
            db, coach, stage=stage, now=request.app[CLOCK].now(), policy=policy(request),
            client=client_address(request), user_agent=request.headers.get("User-Agent", ""), method=method)
    settings = request.app[SETTINGS]
    response.set_cookie(AUTH_COOKIE, token, max_age=settings.session_max_age_hours * 3600, httponly=True,
                        secure=settings.secure_cookies, samesite="Lax", path="/")
    cookie_session = await new_session(request)  # fresh CSRF token: no fixation
    cookie_session["csrf"] = secrets.token_urlsafe(32)
    return row


async def end_login(request: web.Request, response: web.StreamResponse, *, reason: str) -> None:
    """End this browser's session (whatever its stage) and forget its cookies."""
    row = request.get(AUTH_SESSION) or request.get(PENDING_SECOND_FACTOR)
    if row is not None:
        async with unit_of_work(request.app[SESSIONS]) as db:
            await auth_sessions.do_end_session(db, row.id, coach_id=row.coach_id, reason=reason,
                                               now=request.app[CLOCK].now())
    response.del_cookie(AUTH_COOKIE, path="/")
    (await get_session(request)).invalidate()


async def _live(request: web.Request):  # type: ignore[no-untyped-def]
    token = request.cookies.get(AUTH_COOKIE)
    if not token:
        return None
    now = request.app[CLOCK].now()
    async with unit_of_work(request.app[SESSIONS]) as db:  # it may mark the session active
        live = await auth_sessions.get_session_for(db, token, now, policy(request))
        if live is not None and live.row.stage == FULL:
            await auth_sessions.do_touch(db, live.row, now)
    return live


async def current_coach(request: web.Request) -> Coach | None:
    """The logged-in coach (full login, and 2FA set up when the practice requires it)."""
    if COACH in request:
        return request[COACH]
    if PENDING_SECOND_FACTOR in request or NEEDS_ENROLMENT in request:
        return None
    live = await _live(request)
    if live is None:
        return None
    if live.row.stage != FULL:
        request[PENDING_SECOND_FACTOR] = live.row
        return None
    if (request.app[SETTINGS].accounts.require_2fa and not live.has_2fa
            and not request.path.startswith(ENROLMENT_PATHS)):
        request[NEEDS_ENROLMENT] = True
        request[AUTH_SESSION] = live.row
        return None
    request[COACH] = live.coach
    request[AUTH_SESSION] = live.row
    set_actor(live.coach.id)  # the audit trail's "who" for the rest of this request
    return live.coach


async def pending_second_factor(request: web.Request) -> AuthSession | None:
    await current_coach(request)
    return request.get(PENDING_SECOND_FACTOR)


def require_coach(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        coach = await current_coach(request)
        if coach is None:
            if request.get(NEEDS_ENROLMENT):
                raise web.HTTPSeeOther("/account/2fa")
            # A form sent after the login ran out cannot be replayed: back to the inbox.
            target = request.path_qs if request.method == "GET" else "/"
            raise web.HTTPSeeOther(f"/login?next={quote(target)}")
        return await handler(request)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


def require_admin(handler: Handler) -> Handler:
    async def admin_only(request: web.Request) -> web.StreamResponse:
        if get_coach(request).role != "admin":
            raise Forbidden("admin_only", N_("Only an administrator can do this."))
        return await handler(request)

    wrapped = require_coach(admin_only)
    wrapped.__name__ = handler.__name__
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
    """The client's address. Behind a reverse proxy named in ``trusted_proxies``, the
    right-most X-Forwarded-For entry that is not itself a trusted proxy (entries to its
    left are whatever the client chose to send)."""
    remote = request.remote or "unknown"
    proxies = request.app[SETTINGS].proxy_networks
    if not proxies or not _within(remote, proxies):
        return remote[:64]
    hops = [h.strip() for v in request.headers.getall("X-Forwarded-For", []) for h in v.split(",")]
    for hop in reversed(hops):
        if not _within(hop, proxies):
            return hop[:64] if _is_address(hop) else remote[:64]
    return remote[:64]


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _within(value: str, networks: Any) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return any(address in network for network in networks)


def safe_next(value: Any) -> str:
    """A local path to go to after a form, or "/". Browsers drop TAB, CR and LF from URLs
    and read a backslash as a slash, so ``/\\t/evil.example`` would leave the site: any
    control character or backslash refuses the value outright."""
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 2000:
        return "/"
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in value) or value.startswith("//"):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value
