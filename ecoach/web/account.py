"""The coach's own account: password, active sessions ("log out everywhere"), two-factor
authentication and API tokens."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ecoach.actions import account as actions
from ecoach.actions import auth_sessions, totp
from ecoach.actions.coaches import do_create_api_token
from ecoach.actions.errors import ActionError
from ecoach.actions.login_limits import LoginLimits
from ecoach.core.devices import device_label
from ecoach.logbook import account_queries as aq
from ecoach.keys import CLOCK, PASSWORD_WORKERS, SESSIONS, SETTINGS
from ecoach.web.params import path_id
from ecoach.web.webhooks import webhook_card
from ecoach.web.render import gettext_for, render
from ecoach.web.security import (
    AUTH_SESSION, client_address, current_coach, get_coach, require_coach, start_login,
)

DONE = {"password", "ended", "everywhere", "revoked"}


async def _page(request: web.Request, **extra: Any) -> web.Response:
    coach = get_coach(request)
    app = request.app
    now = app[CLOCK].now()
    policy = auth_sessions.SessionPolicy.from_settings(app[SETTINGS])
    async with app[SESSIONS]() as session:
        open_sessions = await aq.get_open_sessions(session, coach.id, now, now - policy.idle)
        tokens = await aq.get_api_tokens(session, coach.id)
        second = await aq.get_totp(session, coach.id)
        codes_left = len(await aq.get_unused_recovery_codes(session, coach.id))
        hooks = await webhook_card(app, session, coach.id)
    done = request.query.get("done")
    context = {
        "sessions": open_sessions, "this_session": request[AUTH_SESSION].id, "tokens": tokens,
        "devices": {s.id: device_label(s.user_agent) for s in open_sessions},
        "has_2fa": second is not None and second.confirmed_at is not None, "codes_left": codes_left,
        "done": done if done in DONE else None, "error": None, "error_at": None, "new_token": None,
        "require_2fa": app[SETTINGS].accounts.require_2fa, **hooks,
    }
    context.update(extra)
    return await render(request, "account.html", context, status=context.pop("status", 200))


async def _error_page(request: web.Request, exc: ActionError, where: str) -> web.Response:
    return await _page(request, error=exc.translated(await gettext_for(request)), error_at=where,
                       status=exc.status)


@require_coach
async def account_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


async def _fresh_login(request: web.Request, target: str, ended: list[int]) -> web.HTTPException:
    """Every session ended; this browser goes on in a new one."""
    redirect = web.HTTPSeeOther(target)
    await start_login(request, redirect, get_coach(request))
    return redirect


@require_coach
async def change_password(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    app = request.app
    try:
        ended = await actions.do_change_password(
            app[SESSIONS], app[PASSWORD_WORKERS], get_coach(request), current=str(form.get("current", "")),
            new=str(form.get("new", "")), repeat=str(form.get("repeat", "")), client=client_address(request),
            now=app[CLOCK].now(), limits=LoginLimits.from_settings(app[SETTINGS]))
    except ActionError as exc:
        return await _error_page(request, exc, "password")
    raise await _fresh_login(request, "/account?done=password", ended)


@require_coach
async def end_session(request: web.Request) -> web.StreamResponse:
    coach = get_coach(request)
    async with request.app[SESSIONS]() as session:
        await auth_sessions.do_end_session(session, path_id(request), coach_id=coach.id,
                                                   reason="ended_by_coach", now=request.app[CLOCK].now())
        await session.commit()
    raise web.HTTPSeeOther("/account?done=ended#sessions")


@require_coach
async def end_other_sessions(request: web.Request) -> web.StreamResponse:
    """"Log out everywhere": every other session ends; this one stays."""
    coach = get_coach(request)
    async with request.app[SESSIONS]() as session:
        await auth_sessions.do_end_sessions(session, coach.id, reason="everywhere",
                                                    now=request.app[CLOCK].now(), keep=request[AUTH_SESSION].id)
        await session.commit()
    raise web.HTTPSeeOther("/account?done=everywhere#sessions")


@require_coach
async def create_token(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    scope = "read" if form.get("scope") == "read" else "read-write"
    async with request.app[SESSIONS]() as session:
        try:
            token = await do_create_api_token(session, get_coach(request).id, str(form.get("name", ""))[:300],
                                              request.app[CLOCK].now(), scope=scope)
        except ActionError as exc:
            return await _error_page(request, exc, "tokens")
        await session.commit()
    return await _page(request, new_token=token)


@require_coach
async def revoke_token(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        await actions.do_revoke_api_token(session, get_coach(request).id, path_id(request),
                                          now=request.app[CLOCK].now())
        await session.commit()
    raise web.HTTPSeeOther("/account?done=revoked#tokens")


# --- two-factor authentication ---------------------------------------------------------

async def _coach_for_2fa(request: web.Request):  # type: ignore[no-untyped-def]
    """The coach, also while the practice requires 2FA and it is not set up yet."""
    coach = await current_coach(request)
    if coach is None:
        raise web.HTTPSeeOther("/login?next=/account/2fa")
    return coach


async def two_factor_page(request: web.Request) -> web.StreamResponse:
    coach = await _coach_for_2fa(request)
    app = request.app
    secret_key = app[SETTINGS].resolved_secret()
    async with app[SESSIONS]() as session:
        row = await aq.get_totp(session, coach.id)
        if row is not None and row.confirmed_at is not None:
            left = len(await aq.get_unused_recovery_codes(session, coach.id))
            return await render(request, "account_2fa.html", {"enabled": True, "codes_left": left,
                                                              "require_2fa": app[SETTINGS].accounts.require_2fa})
        secret = await totp.get_pending_secret(session, coach.id, secret_key)
        if secret is None:
            secret = await totp.do_begin_setup(session, coach.id, now=app[CLOCK].now(), secret_key=secret_key)
            await session.commit()
    return await _setup_page(request, coach, secret)


async def _setup_page(request: web.Request, coach: Any, secret: str, error: str | None = None,
                      status: int = 200) -> web.Response:
    uri = totp.provisioning_uri(secret, coach.email)
    return await render(request, "account_2fa.html", {
        "enabled": False, "qr": totp.qr_data_uri(uri), "secret": totp.grouped(secret), "error": error,
        "required": request.app[SETTINGS].accounts.require_2fa,
    }, status=status)


async def enable_two_factor(request: web.Request) -> web.StreamResponse:
    coach = await _coach_for_2fa(request)
    form = await request.post()
    app = request.app
    secret_key = app[SETTINGS].resolved_secret()
    async with app[SESSIONS]() as session:
        try:
            codes, ended = await actions.do_enable_2fa(session, coach, str(form.get("code", ""))[:64],
                                                       now=app[CLOCK].now(), secret_key=secret_key)
        except ActionError as exc:
            secret = await totp.get_pending_secret(session, coach.id, secret_key)
            if secret is None:
                raise web.HTTPSeeOther("/account/2fa") from None
            return await _setup_page(request, coach, secret, exc.translated(await gettext_for(request)), exc.status)
        await session.commit()
    response = await render(request, "account_codes.html", {"codes": codes, "first": True})
    await start_login(request, response, coach)
    return response


@require_coach
async def new_recovery_codes(request: web.Request) -> web.StreamResponse:
    coach = get_coach(request)
    async with request.app[SESSIONS]() as session:
        if (await aq.get_totp(session, coach.id)) is None:
            raise web.HTTPSeeOther("/account/2fa")
        codes = await totp.do_new_recovery_codes(session, coach.id, now=request.app[CLOCK].now())
        await session.commit()
    return await render(request, "account_codes.html", {"codes": codes, "first": False})


@require_coach
async def disable_two_factor(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    app = request.app
    try:
        ended = await actions.do_disable_2fa(
            app[SESSIONS], app[PASSWORD_WORKERS], get_coach(request), password=str(form.get("password", "")),
            client=client_address(request), now=app[CLOCK].now(), limits=LoginLimits.from_settings(app[SETTINGS]),
            required=app[SETTINGS].accounts.require_2fa)
    except ActionError as exc:
        return await _error_page(request, exc, "2fa")
    raise await _fresh_login(request, "/account#2fa", ended)


def register(app: web.Application) -> None:
    app.router.add_get("/account", account_page)
    app.router.add_post("/account/password", change_password)
    app.router.add_post("/account/sessions/{id}/end", end_session)
    app.router.add_post("/account/sessions/end-others", end_other_sessions)
    app.router.add_post("/account/tokens", create_token)
    app.router.add_post("/account/tokens/{id}/revoke", revoke_token)
    app.router.add_get("/account/2fa", two_factor_page)
    app.router.add_post("/account/2fa", enable_two_factor)
    app.router.add_post("/account/2fa/recovery-codes", new_recovery_codes)
    app.router.add_post("/account/2fa/disable", disable_two_factor)
