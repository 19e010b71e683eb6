"""Coach login and logout."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from ecoach.actions.coaches import do_login, do_set_coach_language
from ecoach.actions.unit import unit_of_work
from ecoach.actions.errors import ActionError
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.web.render import gettext_for, render
from ecoach.web.security import (
    client_address,
    current_coach,
    get_coach,
    login_session,
    logout_session,
    require_coach,
    safe_next,
)


async def login_form(request: web.Request) -> web.StreamResponse:
    if await current_coach(request) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    return await render(request, "login.html", {"next": safe_next(request.query.get("next")), "email": ""})


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    settings = request.app[SETTINGS]
    async with request.app[SESSIONS]() as session:
        try:
            coach = await do_login(
                session,
                email=email,
                password=password,
                client=client_address(request),
                now=request.app[CLOCK].now(),
                max_attempts=settings.login_attempts,
                window=timedelta(seconds=settings.login_window_seconds),
            )
        except ActionError as exc:
            context = {
                "next": safe_next(form.get("next")),
                "email": email,
                "error": exc.translated(await gettext_for(request)),
            }
            return await render(request, "login.html", context, status=exc.status)
    await login_session(request, coach)
    raise web.HTTPSeeOther(safe_next(form.get("next")))


async def logout(request: web.Request) -> web.StreamResponse:
    await logout_session(request)
    raise web.HTTPSeeOther("/login")


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
    app.router.add_post("/logout", logout, name="logout")
    app.router.add_post("/settings/language", set_language, name="language")
