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
from ecoach.actions.unit import unit_of_work
from ecoach.core.devices import device_label
from ecoach.logbook import account_queries as aq
from ecoach.logbook import passkey_queries as pq
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
        passkey_count = len(await pq.get_passkeys(session, coach.id))
        codes_left = len(await aq.get_unused_recovery_codes(session, coach.id))
        hooks = await webhook_card(app, session, coach.id)
    done = request.query.get("done")
    context = {
        "sessions": open_sessions, "this_session": request[AUTH_SESSION].id, "tokens": tokens,
        "devices": {s.id: device_label(s.user_agent) for s in open_sessions},
        "has_totp": second is not None and second.confirmed_at is not None, "passkey_count": passkey_count,
        "has_2fa": (second is not None and second.confirmed_at is not None) or passkey_count > 0,
        "codes_left": codes_left,
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


async def _fresh_login(request: web.Request, target: str) -> web.HTTPException:
    """Every session ended; this browser goes on in a new one."""
    redirect = web.HTTPSeeOther(target)
    await start_login(request, redirect, get_coach(request), method="renewed")
    return redirect


@require_coach
async def change_password(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    app = request.app
    try:
        await actions.do_change_password(
            app[SESSIONS], app[PASSWORD_WORKERS], get_coach(request), current=str(form.get("current", "")),
            new=str(form.get("new", "")), repeat=str(form.get("repeat", "")), client=client_address(request),
            now=app[CLOCK].now(), limits=LoginLimits.from_settings(app[SETTINGS]))
    except ActionError as exc:
        return await _error_page(request, exc, "password")
    raise await _fresh_login(request, "/account?done=password")


@require_coach
async def end_session(request: web.Request) -> web.StreamResponse:
    coach = get_coach(request)
    async with unit_of_work(request.app[SESSIONS]) as session:
        await auth_sessions.do_end_session(session, path_id(request), coach_id=coach.id,
                                           reason="ended_by_coach", now=request.app[CLOCK].now())
    raise web.HTTPSeeOther("/account?done=ended#sessions")


@require_coach
async def end_other_sessions(request: web.Request) -> web.StreamResponse:
    """"Log out everywhere": every other session ends; this one stays."""
    coach = get_coach(request)
    async with unit_of_work(request.app[SESSIONS]) as session:
        await auth_sessions.do_end_sessions(session, coach.id, reason="everywhere",
                                            now=request.app[CLOCK].now(), keep=request[AUTH_SESSION].id)
    raise web.HTTPSeeOther("/account?done=everywhere#sessions")


@require_coach
async def create_token(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    scope = "read" if form.get("scope") == "read" else "read-write"
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            token = await do_create_api_token(session, get_coach(request).id, str(form.get("name", ""))[:300],
                                              request.app[CLOCK].now(), scope=scope)
    except ActionError as exc:
        return await _error_page(request, exc, "tokens")
    return await _page(request, new_token=token)


@require_coach
async def revoke_token(request: web.Request) -> web.StreamResponse:
    async with unit_of_work(request.app[SESSIONS]) as session:
        await actions.do_revoke_api_token(session, get_coach(request).id, path_id(request),
                                          now=request.app[CLOCK].now())
    raise web.HTTPSeeOther("/account?done=revoked#tokens")


# --- two-factor authentication ---------------------------------------------------------

async def _coach_for_2fa(request: web.Request):  # type: ignore[no-untyped-def]
    """The coach, also while the practice requires 2FA and it is not set up yet."""
    coach = await current_coach(request)
    if coach is None:
        raise web.HTTPSeeOther("/login?next=/account/2fa")
    return coach


PASSKEY_DONE = {"passkey_added", "passkey_removed"}


async def two_factor_page(request: web.Request) -> web.StreamResponse:
    coach = await _coach_for_2fa(request)
    app = request.app
    secret_key = app[SETTINGS].resolved_secret()
    async with unit_of_work(app[SESSIONS]) as session:  # the first visit stores a new secret
        row = await aq.get_totp(session, coach.id)
        secret = None
        if row is None or row.confirmed_at is None:
            secret = await totp.get_pending_secret(session, coach.id, secret_key)
            if secret is None:
                secret = await totp.do_begin_setup(session, coach.id, now=app[CLOCK].now(), secret_key=secret_key)
    done = request.query.get("done")
    return await _setup_page(request, coach, secret, done=done if done in PASSKEY_DONE else None)


async def _setup_page(request: web.Request, coach: Any, secret: str | None, error: str | None = None,
                      status: int = 200, done: str | None = None) -> web.Response:
    """The two-factor page: the authenticator app (its setup while it is off), passkeys,
    recovery codes, and turning it all off."""
    app = request.app
    async with app[SESSIONS]() as session:
        keys = await pq.get_passkeys(session, coach.id)
        left = len(await aq.get_unused_recovery_codes(session, coach.id))
    context: dict[str, Any] = {
        "totp_on": secret is None, "passkeys": keys, "codes_left": left, "error": error, "done": done,
        "enabled": secret is None or bool(keys), "require_2fa": app[SETTINGS].accounts.require_2fa,
        "passkeys_available": app[SETTINGS].passkey_party is not None,
    }
    if secret is not None:
        uri = totp.provisioning_uri(secret, coach.email)
        context.update(qr=totp.qr_data_uri(uri), secret=totp.grouped(secret))
    return await render(request, "account_2fa.html", context, status=status)


async def enable_two_factor(request: web.Request) -> web.StreamResponse:
    coach = await _coach_for_2fa(request)
    form = await request.post()
    app = request.app
    secret_key = app[SETTINGS].resolved_secret()
    try:
        async with unit_of_work(app[SESSIONS]) as session:
            codes, _ended = await actions.do_enable_2fa(session, coach, str(form.get("code", ""))[:64],
                                                        now=app[CLOCK].now(), secret_key=secret_key)
    except ActionError as exc:
        async with app[SESSIONS]() as session:
            secret = await totp.get_pending_secret(session, coach.id, secret_key)
        if secret is None:
            raise web.HTTPSeeOther("/account/2fa") from None
        return await _setup_page(request, coach, secret, exc.translated(await gettext_for(request)), exc.status)
    response = await render(request, "account_codes.html", {"codes": codes, "first": True})
    await start_login(request, response, coach, method="renewed")
    return response


@require_coach
async def new_recovery_codes(request: web.Request) -> web.StreamResponse:
    coach = get_coach(request)
    async with unit_of_work(request.app[SESSIONS]) as session:
        codes = await actions.do_renew_recovery_codes(session, coach.id, now=request.app[CLOCK].now())
    if codes is None:
        raise web.HTTPSeeOther("/account/2fa")
    return await render(request, "account_codes.html", {"codes": codes, "first": False})


@require_coach
async def disable_two_factor(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    app = request.app
    try:
        await actions.do_disable_2fa(
            app[SESSIONS], app[PASSWORD_WORKERS], get_coach(request), password=str(form.get("password", "")),
            client=client_address(request), now=app[CLOCK].now(), limits=LoginLimits.from_settings(app[SETTINGS]),
            required=app[SETTINGS].accounts.require_2fa)
    except ActionError as exc:
        return await _error_page(request, exc, "2fa")
    raise await _fresh_login(request, "/account#2fa")


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
