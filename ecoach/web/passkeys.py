"""Passkeys in the browser: adding and removing them on the two-factor page, and using
one after the password at login.

The ceremonies speak JSON with ``static/passkeys.js`` (CSRF token in the X-CSRF-Token
header); errors answer as JSON with a code and a message in the coach's language. Adding
and removing end the coach's other sessions; this browser goes on in a fresh one (its
new cookie comes with the answer).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ecoach.actions import passkeys as actions
from ecoach.actions.account import check_current_password
from ecoach.actions.auth_sessions import do_end_session
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.login_limits import LoginLimits
from ecoach.actions.unit import unit_of_work
from ecoach.core.inputs import InputRefused, load_json
from ecoach.core.passkey_origin import RelyingParty
from ecoach.keys import CLOCK, LOGIN_GATE, PASSWORD_WORKERS, SESSIONS, SETTINGS
from ecoach.logbook import passkey_queries as pq
from ecoach.logbook import queries
from ecoach.web.confirm import confirm_page
from ecoach.web.params import path_id
from ecoach.web.security import (
    AUTH_SESSION, client_address, current_coach, pending_second_factor, safe_next, start_login,
)

PAGE = "/account/2fa"


class LoginRequired(ActionError):
    status = 401


def _party(request: web.Request) -> RelyingParty:
    party = request.app[SETTINGS].passkey_party
    if party is None:
        raise NotFound("passkeys_unavailable", N_("Passkeys are not available on this server."))
    return party


async def _body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (nesting and characters checked), or a 400."""
    try:
        data = load_json(await request.read(), max_depth=request.app[SETTINGS].limits.json_max_depth)
    except InputRefused as exc:
        raise ActionError("invalid_request", N_("The request body must be JSON: %(reason)s."),
                          reason=str(exc)) from None
    if not isinstance(data, dict):
        raise ActionError("invalid_request", N_("The request body must be a JSON object."))
    return data


def _text(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key, "")
    return value[:limit] if isinstance(value, str) else ""


async def _coach(request: web.Request):  # type: ignore[no-untyped-def]
    """The logged-in coach, also while the practice requires 2FA that is not set up yet."""
    coach = await current_coach(request)
    if coach is None:
        raise LoginRequired("login_required", N_("Your login has ended. Log in again."))
    return coach


# --- adding and removing, on the two-factor page --------------------------------------

async def registration_options(request: web.Request) -> web.StreamResponse:
    coach = await _coach(request)
    party = _party(request)
    data = await _body(request)
    app = request.app
    actions.check_name(_text(data, "name", 300))
    await check_current_password(
        app[SESSIONS], app[PASSWORD_WORKERS], coach, _text(data, "password", 200), client=client_address(request),
        now=app[CLOCK].now(), limits=LoginLimits.from_settings(app[SETTINGS]))
    async with unit_of_work(app[SESSIONS]) as session:
        options = await actions.do_begin_registration(
            session, coach, request[AUTH_SESSION].id, name=_text(data, "name", 300), party=party,
            now=app[CLOCK].now(), secret_key=app[SETTINGS].resolved_secret())
    return web.json_response({"publicKey": options})


async def register_passkey(request: web.Request) -> web.StreamResponse:
    coach = await _coach(request)
    party = _party(request)
    data = await _body(request)
    async with unit_of_work(request.app[SESSIONS]) as session:
        await actions.do_finish_registration(session, coach, request[AUTH_SESSION].id, data.get("credential"),
                                             party=party, now=request.app[CLOCK].now())
    response = web.json_response({"next": f"{PAGE}?done=passkey_added#passkeys"})
    await start_login(request, response, coach, method="renewed")
    return response


async def remove_form(request: web.Request) -> web.StreamResponse:
    """The question, as a page (without JavaScript; with it, a dialog on the 2FA page)."""
    coach = await _page_coach(request)
    passkey_id = path_id(request)
    async with request.app[SESSIONS]() as session:
        found = [p for p in await pq.get_passkeys(session, coach.id) if p.id == passkey_id]
    if not found:
        raise NotFound("passkey_unknown", N_("This passkey does not exist or was removed already."))
    return await confirm_page(request, "remove_passkey", action=f"{PAGE}/passkeys/{passkey_id}/remove",
                              back=f"{PAGE}#passkeys", values={"name": found[0].name})


async def _page_coach(request: web.Request):  # type: ignore[no-untyped-def]
    coach = await current_coach(request)
    if coach is None:
        raise web.HTTPSeeOther(f"/login?next={PAGE}")
    return coach


async def remove_passkey(request: web.Request) -> web.StreamResponse:
    coach = await _page_coach(request)
    passkey_id = path_id(request)
    async with unit_of_work(request.app[SESSIONS]) as session:
        await actions.do_remove_passkey(session, coach.id, passkey_id, now=request.app[CLOCK].now())
    redirect = web.HTTPSeeOther(f"{PAGE}?done=passkey_removed#passkeys")
    await start_login(request, redirect, coach, method="renewed")
    raise redirect


# --- using one at login ---------------------------------------------------------------

async def _pending(request: web.Request):  # type: ignore[no-untyped-def]
    pending = await pending_second_factor(request)
    if pending is None:
        raise LoginRequired("login_required", N_("Your login has run out. Log in again with your password."))
    return pending


async def login_options(request: web.Request) -> web.StreamResponse:
    pending = await _pending(request)
    party = _party(request)
    async with unit_of_work(request.app[SESSIONS]) as session:
        options = await actions.do_begin_login(session, pending.coach_id, pending.id, party=party,
                                               now=request.app[CLOCK].now())
    return web.json_response({"publicKey": options})


async def login_with_passkey(request: web.Request) -> web.StreamResponse:
    pending = await _pending(request)
    party = _party(request)
    data = await _body(request)
    app = request.app
    async with app[SESSIONS]() as session:
        coach = await queries.get_coach(session, pending.coach_id)
    assert coach is not None  # the live session's coach exists and is active
    method = await actions.do_check_passkey(
        app[SESSIONS], coach, pending.id, data.get("credential"), client=client_address(request),
        now=app[CLOCK].now(), limits=LoginLimits.from_settings(app[SETTINGS]), party=party, gate=app[LOGIN_GATE])
    async with unit_of_work(app[SESSIONS]) as session:  # the half-way session ends; a new one starts
        await do_end_session(session, pending.id, coach_id=coach.id, reason="second_factor", now=app[CLOCK].now())
    response = web.json_response({"next": safe_next(data.get("next"))})
    await start_login(request, response, coach, method=method)
    return response


def register(app: web.Application) -> None:
    app.router.add_post(f"{PAGE}/passkeys/options", registration_options)
    app.router.add_post(f"{PAGE}/passkeys", register_passkey)
    app.router.add_get(f"{PAGE}/passkeys/{{id}}/remove", remove_form)
    app.router.add_post(f"{PAGE}/passkeys/{{id}}/remove", remove_passkey)
    app.router.add_post("/login/2fa/passkey/options", login_options)
    app.router.add_post("/login/2fa/passkey", login_with_passkey)
