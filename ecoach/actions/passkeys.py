"""Passkeys (WebAuthn) as a coach's second factor, with py_webauthn (Duo Labs).

Both ceremonies take two steps. The server makes a challenge (32 random bytes), stores it
bound to the asking login (its ``auth_session`` row: the half-way login after the
password, or the full login of a coach adding a passkey), for one purpose and
``CHALLENGE_SECONDS``; the browser has the authenticator sign it; the answer is checked
against the stored challenge, which is deleted first: each challenge is used at most
once, by the login it was made for. Origin and RP ID come from ``Settings.passkey_party``.

A use must show a higher signature counter than the last one (unless the authenticator
keeps none: then both stay 0); a lower or equal one means a cloned authenticator or a
replay and is refused. Adding or removing a passkey ends the coach's sessions, like any
change of the second factor, and is in the audit trail; removing the last second factor
is "turning 2FA off" (``account.do_disable_2fa``), which asks for the password.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from webauthn import (
    generate_authentication_options, generate_registration_options, options_to_json,
    verify_authentication_response, verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria, AuthenticatorTransport, PublicKeyCredentialDescriptor,
    ResidentKeyRequirement, UserVerificationRequirement,
)

from ecoach.actions.audit import record_audit
from ecoach.actions.auth_sessions import do_end_sessions
from ecoach.actions.errors import ActionError, Conflict, N_, NotFound
from ecoach.actions.login_limits import LocalGate, LoginLimits, do_settle_check, reserve_through
from ecoach.actions.unit import unit_of_work
from ecoach.core.passkey_origin import RelyingParty
from ecoach.logbook import account_queries as aq
from ecoach.logbook import passkey_queries as pq
from ecoach.logbook.models import Coach
from ecoach.logbook.passkey_models import CoachPasskey, PasskeyChallenge

log = logging.getLogger(__name__)

CHALLENGE_SECONDS = 180  # a challenge's life; the browser is asked to give up after TIMEOUT_MS
TIMEOUT_MS = 120_000
MAX_PASSKEYS = 10
NAME_CHARS = 60
_TRANSPORTS = {t.value for t in AuthenticatorTransport}


def user_handle(coach_id: int, secret_key: str) -> bytes:
    """The coach's WebAuthn user id: stable, opaque (no id or address in it), the same for
    each of the coach's passkeys so an authenticator keeps one per coach."""
    return hmac.new(secret_key.encode(), f"webauthn-user:{coach_id}".encode(), hashlib.sha256).digest()


def check_name(name: str) -> str:
    clean = " ".join("".join(c for c in name if c.isprintable()).split())
    if not clean:
        raise ActionError("passkey_name_missing", N_("Give the passkey a name, such as “MacBook Touch ID”."))
    if len(clean) > NAME_CHARS:
        raise ActionError("passkey_name_long", N_("A passkey's name can be at most %(n)s characters."), n=NAME_CHARS)
    return clean


def expired() -> ActionError:
    return ActionError("passkey_expired", N_("This passkey request has run out or was used already. "
                                             "Try again."))


async def _new_challenge(session: AsyncSession, auth_session_id: int, purpose: str, *, now: datetime,
                         name: str = "") -> bytes:
    """A fresh challenge for this login and purpose; an earlier one stops working."""
    await session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.auth_session_id == auth_session_id,
                                                         PasskeyChallenge.purpose == purpose))
    challenge = secrets.token_bytes(32)
    session.add(PasskeyChallenge(auth_session_id=auth_session_id, purpose=purpose, challenge=challenge,
                                 name=name, expires_at=now + timedelta(seconds=CHALLENGE_SECONDS)))
    await session.flush()
    return challenge


def _descriptor(passkey: CoachPasskey) -> PublicKeyCredentialDescriptor:
    transports = [AuthenticatorTransport(t) for t in passkey.transports.split(",") if t in _TRANSPORTS]
    return PublicKeyCredentialDescriptor(id=_id_bytes(passkey.credential_id), transports=transports or None)


def _id_bytes(credential_id: str) -> bytes:
    return base64url_to_bytes(credential_id)


async def do_begin_registration(session: AsyncSession, coach: Coach, auth_session_id: int, *, name: str,
                                party: RelyingParty, now: datetime, secret_key: str) -> dict[str, Any]:
    """The options for ``navigator.credentials.create`` (as JSON, base64url)."""
    name = check_name(name)
    existing = await pq.get_passkeys(session, coach.id)
    if len(existing) >= MAX_PASSKEYS:
        raise Conflict("passkey_limit", N_("You have %(n)s passkeys, the most there can be. Remove one first."),
                       n=MAX_PASSKEYS)
    challenge = await _new_challenge(session, auth_session_id, "register", now=now, name=name)
    options = generate_registration_options(
        rp_id=party.rp_id, rp_name=party.name, user_name=coach.email, user_display_name=coach.name,
        user_id=user_handle(coach.id, secret_key), challenge=challenge, timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.PREFERRED),
        exclude_credentials=[_descriptor(p) for p in existing])
    return json.loads(options_to_json(options))


def _credential_id(credential: Any) -> str:
    raw = credential.get("id") if isinstance(credential, dict) else None
    if not isinstance(raw, str) or not 1 <= len(raw) <= 1400:
        raise ActionError("passkey_invalid", N_("The browser's answer is not a passkey."))
    return raw


async def do_finish_registration(session: AsyncSession, coach: Coach, auth_session_id: int, credential: Any, *,
                                 party: RelyingParty, now: datetime) -> tuple[CoachPasskey, list[int]]:
    """Check the authenticator's answer and keep the passkey; every session of the coach
    ends (the web layer starts a new one for this browser). Returns the row and the
    ended session ids."""
    challenge = await pq.take_challenge(session, auth_session_id, "register", now)
    if challenge is None:
        raise expired()
    _credential_id(credential)
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=challenge.challenge, expected_rp_id=party.rp_id,
            expected_origin=party.origin)
    except Exception as exc:  # the library raises many kinds for malformed input: all are "not valid"
        log.info("passkey registration refused for coach %s: %s", coach.id, type(exc).__name__)
        raise ActionError("passkey_invalid", N_("The passkey could not be verified. Try again, or use "
                                                "another device.")) from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if await pq.credential_taken(session, credential_id):
        raise Conflict("passkey_exists", N_("This passkey is added already."))
    transports = credential.get("response", {}).get("transports") if isinstance(credential, dict) else None
    row = CoachPasskey(coach_id=coach.id, credential_id=credential_id, public_key=verified.credential_public_key,
                       sign_count=verified.sign_count, name=challenge.name, created_at=now,
                       transports=_transports(transports))
    session.add(row)
    await session.flush()
    ended = await do_end_sessions(session, coach.id, reason="passkey_added", now=now)
    record_audit(session, "passkey_added", coach_id=coach.id, now=now, passkey=row.id)
    return row, ended


def _transports(given: Any) -> str:
    if not isinstance(given, list):
        return ""
    return ",".join(t for t in given if isinstance(t, str) and t in _TRANSPORTS)[:200]


async def do_remove_passkey(session: AsyncSession, coach_id: int, passkey_id: int, *, now: datetime) -> list[int]:
    """Remove one passkey while another second factor remains; ends every session."""
    passkeys = await pq.get_passkeys(session, coach_id)
    if passkey_id not in {p.id for p in passkeys}:
        raise NotFound("passkey_unknown", N_("This passkey does not exist or was removed already."))
    totp = await aq.get_totp(session, coach_id)
    if len(passkeys) == 1 and (totp is None or totp.confirmed_at is None):
        raise Conflict("passkey_last", N_("This is your only second factor. To log in with your password "
                                          "alone, turn two-factor authentication off."))
    await session.execute(delete(CoachPasskey).where(CoachPasskey.id == passkey_id, CoachPasskey.coach_id == coach_id))
    ended = await do_end_sessions(session, coach_id, reason="passkey_removed", now=now)
    record_audit(session, "passkey_removed", coach_id=coach_id, now=now, passkey=passkey_id)
    return ended


async def do_remove_all(session: AsyncSession, coach_id: int) -> None:
    """Part of turning 2FA off (``account.do_reset_2fa``)."""
    await session.execute(delete(CoachPasskey).where(CoachPasskey.coach_id == coach_id))


async def do_begin_login(session: AsyncSession, coach_id: int, auth_session_id: int, *, party: RelyingParty,
                         now: datetime) -> dict[str, Any]:
    """The options for ``navigator.credentials.get``: the coach's passkeys only."""
    passkeys = await pq.get_passkeys(session, coach_id)
    if not passkeys:
        raise NotFound("passkey_none", N_("You have no passkey. Type a code instead."))
    challenge = await _new_challenge(session, auth_session_id, "login", now=now)
    options = generate_authentication_options(
        rp_id=party.rp_id, challenge=challenge, timeout=TIMEOUT_MS,
        allow_credentials=[_descriptor(p) for p in passkeys],
        user_verification=UserVerificationRequirement.PREFERRED)
    return json.loads(options_to_json(options))


async def do_check_passkey(sessions: async_sessionmaker[AsyncSession], coach: Coach, auth_session_id: int,
                           credential: Any, *, client: str, now: datetime, limits: LoginLimits,
                           party: RelyingParty, gate: LocalGate | None = None) -> str:
    """Accept the passkey's answer as the second factor (counted by the login limiter like
    a code); returns "passkey". A refusal is settled and audited before it is raised."""
    reserved = await reserve_through(gate, sessions, account=coach.email, client=client[:64], now=now,
                                     limits=limits)
    error: ActionError | None = None
    async with unit_of_work(sessions) as session:  # committed before the error below
        try:
            await _verify_use(session, coach.id, auth_session_id, credential, party=party, now=now)
        except ActionError as exc:
            error = exc
        await do_settle_check(session, reserved, ok=error is None)
        if error is not None:
            record_audit(session, "login_failed", coach_id=coach.id, actor_id=None, now=now, step="second_factor",
                         method="passkey")
    if error is not None:
        raise error
    return "passkey"


async def _verify_use(session: AsyncSession, coach_id: int, auth_session_id: int, credential: Any, *,
                      party: RelyingParty, now: datetime) -> None:
    challenge = await pq.take_challenge(session, auth_session_id, "login", now)
    if challenge is None:
        raise expired()
    passkey = await pq.get_passkey(session, coach_id, _credential_id(credential))
    if passkey is None:
        raise ActionError("passkey_unknown", N_("This passkey is not one of yours here. Use another one, or "
                                                "type a code."))
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=challenge.challenge, expected_rp_id=party.rp_id,
            expected_origin=party.origin, credential_public_key=passkey.public_key,
            credential_current_sign_count=0)  # counted below, after the signature is known to be good
    except Exception as exc:  # malformed input takes many exception types: all are "not valid"
        log.info("passkey use refused for coach %s: %s", coach_id, type(exc).__name__)
        raise ActionError("passkey_invalid", N_("The passkey could not be verified. Try again.")) from None
    count = verified.new_sign_count
    if (count > 0 or passkey.sign_count > 0) and count <= passkey.sign_count:
        log.warning("passkey %s of coach %s: counter %s after %s (cloned?)", passkey.id, coach_id, count,
                    passkey.sign_count)
        raise ActionError("passkey_counter", N_("This passkey answered with an old counter, as a copy of it "
                                                "would. Use another second factor, and remove this passkey."))
    result = await session.execute(
        update(CoachPasskey).where(CoachPasskey.id == passkey.id, CoachPasskey.sign_count == passkey.sign_count)
        .values(sign_count=count, last_used_at=now))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise expired()
