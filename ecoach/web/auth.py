"""Coach login (password, then the second factor when set up) and logout."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from ecoach.actions import auth_sessions
from ecoach.actions.coaches import do_set_coach_language
from ecoach.actions.unit import unit_of_work
from ecoach.actions.errors import ActionError
from ecoach.actions.login import do_check_password, do_check_second_factor
from ecoach.actions.login_limits import LoginLimits
from ecoach.logbook import account_queries as aq
from ecoach.logbook import passkey_queries as pq
from ecoach.logbook import queries
from ecoach.keys import CLOCK, LOGIN_GATE, PASSWORD_WORKERS, SESSIONS, SETTINGS
from ecoach.web.render import gettext_for, render
from ecoach.web.security import (
    client_address,
    current_coach,
    end_login,
    get_coach,
    pending_second_factor,
    require_coach,
    safe_next,
    start_login,
)


async def login_form(request: web.Request) -> web.StreamResponse:
    if await current_coach(request) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    return await render(request, "login.html", {"next": safe_next(request.query.get("next")), "email": "",
                                                "reset": request.query.get("reset") == "1"})


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    target = safe_next(form.get("next"))
    app = request.app
    try:
        coach = await do_check_password(
            app[SESSIONS], app[PASSWORD_WORKERS], email=email, password=password,
            client=client_address(request), now=app[CLOCK].now(), limits=LoginLimits.from_settings(app[SETTINGS]),
            gate=app[LOGIN_GATE],
        )
    except ActionError as exc:
        context = {"next": target, "email": email[:320], "error": exc.translated(await gettext_for(request))}
        response = await render(request, "login.html", context, status=exc.status)
        if retry := getattr(exc, "retry_after", None):
            response.headers["Retry-After"] = str(retry)
        return response
    async with app[SESSIONS]() as session:
        second = await aq.has_second_factor(session, coach.id)
    if second:
        redirect = web.HTTPSeeOther(f"/login/2fa?next={_quoted(target)}")
        await start_login(request, redirect, coach, stage=auth_sessions.PASSWORD_ONLY)
    else:
        redirect = web.HTTPSeeOther(target)
        await start_login(request, redirect, coach)
    raise redirect


def _quoted(target: str) -> str:
    return quote(target, safe="/")


async def second_factor_form(request: web.Request) -> web.StreamResponse:
    pending = await pending_second_factor(request)
    if pending is None:
        raise web.HTTPSeeOther("/login")
    return await render(request, "login_2fa.html", {"next": safe_next(request.query.get("next")),
                                                    **await _factors(request, pending.coach_id)})


async def _factors(request: web.Request, coach_id: int) -> dict[str, bool]:
    """Which second factors the page offers: a code (app or recovery) and/or a passkey."""
    async with request.app[SESSIONS]() as session:
        totp = await aq.get_totp(session, coach_id)
        passkeys = await pq.has_passkeys(session, coach_id)
    return {"has_totp": totp is not None and totp.confirmed_at is not None,
            "has_passkey": passkeys and request.app[SETTINGS].passkey_party is not None}


async def second_factor(request: web.Request) -> web.StreamResponse:
    pending = await pending_second_factor(request)
    if pending is None:
        raise web.HTTPSeeOther("/login")
    form = await request.post()
    target = safe_next(form.get("next"))
    app = request.app
    async with app[SESSIONS]() as session:
        coach = await queries.get_coach(session, pending.coach_id)
    assert coach is not None
    try:
        method = await do_check_second_factor(
            app[SESSIONS], coach, code=str(form.get("code", ""))[:64], client=client_address(request),
            now=app[CLOCK].now(), limits=LoginLimits.from_settings(app[SETTINGS]),
            secret_key=app[SETTINGS].resolved_secret(), gate=app[LOGIN_GATE],
        )
    except ActionError as exc:
        context = {"next": target, "error": exc.translated(await gettext_for(request)),
                   **await _factors(request, coach.id)}
        return await render(request, "login_2fa.html", context, status=exc.status)
    async with unit_of_work(app[SESSIONS]) as session:  # the half-way session ends; a new one starts
        await auth_sessions.do_end_session(session, pending.id, coach_id=coach.id, reason="second_factor",
                                           now=app[CLOCK].now())
    redirect = web.HTTPSeeOther(target)
    await start_login(request, redirect, coach, method=method)
    raise redirect


async def logout(request: web.Request) -> web.StreamResponse:
    await current_coach(request)
    redirect = web.HTTPSeeOther("/login")
    await end_login(request, redirect, reason="logout")
    raise redirect


@require_coach
async def set_language(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    async with unit_of_work(request.app[SESSIONS]) as session:
        coach = get_coach(request)
        session.add(coach)
        await do_set_coach_language(session, coach, str(form.get("language", "")))
    raise web.HTTPSeeOther(safe_next(form.get("next")))


def register(app: web.Application) -> None:
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", login)
    app.router.add_get("/login/2fa", second_factor_form)
    app.router.add_post("/login/2fa", second_factor)
    app.router.add_post("/logout", logout, name="logout")
    app.router.add_post("/settings/language", set_language, name="language")
