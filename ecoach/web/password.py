"""Forgotten password (reset by mail) and accepting an invitation (choose a password).

The "forgot" form answers the same page, at once, whether or not the address belongs to a
coach; the link is made and mailed after the answer.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from ecoach.actions import account_links
from ecoach.actions.account import do_reset_password
from ecoach.actions.account_links import INVITE, RESET
from ecoach.actions.coaches import check_email
from ecoach.actions.errors import ActionError
from ecoach.actions.unit import unit_of_work
from ecoach.keys import CLOCK, PASSWORD_WORKERS, SESSIONS, SETTINGS
from ecoach.web.render import gettext_for, render
from ecoach.web.security import start_login

log = logging.getLogger(__name__)
PURPOSES = {"password/reset": RESET, "invite": INVITE}


async def forgot_form(request: web.Request) -> web.StreamResponse:
    return await render(request, "password_forgot.html", {
        "sent": False, "email": "", "error": None, "mail_enabled": request.app[SETTINGS].mail.enabled})


async def forgot(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    email = str(form.get("email", ""))[:320]
    app = request.app
    try:
        check_email(email)
    except ActionError as exc:
        return await render(request, "password_forgot.html", {
            "sent": False, "email": email, "error": exc.translated(await gettext_for(request)),
            "mail_enabled": app[SETTINGS].mail.enabled}, status=exc.status)
    # The answer does not wait for the work, so its timing does not tell either.
    task = asyncio.create_task(_request_reset(app, email))
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    return await render(request, "password_forgot.html", {
        "sent": True, "email": email, "error": None, "mail_enabled": app[SETTINGS].mail.enabled})


_BACKGROUND: set[asyncio.Task[None]] = set()


async def _request_reset(app: web.Application, email: str) -> None:
    """The queued mail wakes the outbox once this unit of work commits."""
    try:
        async with unit_of_work(app[SESSIONS]) as session:
            await account_links.do_request_reset(session, app[SETTINGS], email, now=app[CLOCK].now())
    except Exception:  # noqa: BLE001 - nobody waits for this answer: log it
        log.exception("password reset mail could not be queued")


def _purpose(request: web.Request) -> str:
    return PURPOSES[request.match_info["purpose"]]


async def choose_form(request: web.Request) -> web.StreamResponse:
    purpose = _purpose(request)
    async with request.app[SESSIONS]() as session:
        _link, coach = await account_links.check_link(session, request.match_info["token"], purpose,
                                                      request.app[CLOCK].now())
    return await render(request, "password_choose.html", {"purpose": purpose, "name": coach.name, "error": None})


async def choose(request: web.Request) -> web.StreamResponse:
    purpose = _purpose(request)
    form = await request.post()
    app = request.app
    try:
        coach, _ended = await do_reset_password(
            app[SESSIONS], app[PASSWORD_WORKERS], token=request.match_info["token"], purpose=purpose,
            new=str(form.get("new", "")), repeat=str(form.get("repeat", "")), now=app[CLOCK].now())
    except ActionError as exc:
        if exc.code == "link_invalid":
            raise
        return await render(request, "password_choose.html", {
            "purpose": purpose, "name": "", "error": exc.translated(await gettext_for(request))}, status=exc.status)
    if purpose == INVITE:  # the new coach goes on to set up the second factor
        redirect = web.HTTPSeeOther("/account/2fa")
        await start_login(request, redirect, coach, method="invite")
        raise redirect
    raise web.HTTPSeeOther("/login?reset=1")


def register(app: web.Application) -> None:
    app.router.add_get("/password/forgot", forgot_form)
    app.router.add_post("/password/forgot", forgot)
    app.router.add_get("/{purpose:password/reset|invite}/{token}", choose_form)
    app.router.add_post("/{purpose:password/reset|invite}/{token}", choose)
