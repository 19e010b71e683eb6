"""Two-factor authentication: TOTP (RFC 6238, pyotp) and ten single-use recovery codes.

The TOTP secret is stored encrypted (Fernet, key derived from the server's secret key);
an accepted code's time step is remembered so the same code never works twice. The QR
code is drawn here as SVG (segno): the secret never goes to an outside service.
Recovery codes carry ~50 random bits and are stored as SHA-256 digests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import ActionError, Conflict, N_
from ecoach.logbook import account_queries as aq
from ecoach.logbook.account_models import CoachTotp, RecoveryCode

ISSUER = "ecoach"
RECOVERY_CODES = 10
_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i
_CODE_CHARS = 10


def _fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"totp:{secret_key}".encode()).digest()))


def _secret_of(row: CoachTotp, secret_key: str) -> str | None:
    try:
        return _fernet(secret_key).decrypt(row.secret.encode()).decode()
    except InvalidToken:
        return None  # the server's secret key changed: the coach sets 2FA up again


def provisioning_uri(secret: str, email: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_data_uri(uri: str) -> str:
    """The otpauth:// URI as an SVG QR code in a data: URI (allowed by the CSP)."""
    return segno.make(uri, error="m").svg_data_uri(scale=4, border=2)


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


async def do_begin_setup(session: AsyncSession, coach_id: int, *, now: datetime, secret_key: str) -> str:
    """A new, unconfirmed secret (replacing an earlier unconfirmed one); returns it."""
    row = await aq.get_totp(session, coach_id)
    if row is not None and row.confirmed_at is not None:
        raise Conflict("totp_exists", N_("Two-factor authentication is already set up."))
    secret = pyotp.random_base32()
    encrypted = _fernet(secret_key).encrypt(secret.encode()).decode()
    if row is None:
        session.add(CoachTotp(coach_id=coach_id, secret=encrypted, created_at=now))
    else:
        row.secret, row.created_at, row.last_step = encrypted, now, None
    await session.flush()
    return secret


async def get_pending_secret(session: AsyncSession, coach_id: int, secret_key: str) -> str | None:
    row = await aq.get_totp(session, coach_id)
    if row is None or row.confirmed_at is not None:
        return None
    return _secret_of(row, secret_key)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step (the current one or a neighbour, for clock drift) this code is for."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _digits(code: str) -> str | None:
    compact = "".join(code.split())
    return compact if len(compact) == 6 and compact.isascii() and compact.isdigit() else None


async def do_confirm_setup(session: AsyncSession, coach_id: int, code: str, *, now: datetime,
                           secret_key: str) -> list[str]:
    """Turn 2FA on with a first code from the app; returns the new recovery codes."""
    row = await aq.get_totp(session, coach_id)
    secret = _secret_of(row, secret_key) if row is not None and row.confirmed_at is None else None
    digits = _digits(code)
    step = _matching_step(secret, digits, now) if secret and digits else None
    if row is None or step is None:
        raise ActionError("code_wrong", N_("This code is not right. Check the time on your phone and "
                                           "type the newest code."))
    row.confirmed_at, row.last_step = now, step
    return await do_new_recovery_codes(session, coach_id, now=now)


async def do_new_recovery_codes(session: AsyncSession, coach_id: int, *, now: datetime) -> list[str]:
    """Ten fresh recovery codes; earlier ones stop working."""
    await session.execute(delete(RecoveryCode).where(RecoveryCode.coach_id == coach_id))
    codes = ["".join(secrets.choice(_ALPHABET) for _ in range(_CODE_CHARS)) for _ in range(RECOVERY_CODES)]
    session.add_all(RecoveryCode(coach_id=coach_id, code_hash=_code_hash(c), created_at=now) for c in codes)
    await session.flush()
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def _code_hash(code: str) -> str:
    return hashlib.sha256(f"recovery:{code}".encode()).hexdigest()


def _normal_recovery(code: str) -> str:
    return "".join(c for c in code.lower() if c.isalnum())


async def do_verify_second_factor(session: AsyncSession, coach_id: int, code: str, *, now: datetime,
                                  secret_key: str) -> str | None:
    """"totp" or "recovery" when the code is accepted (and used up), else None. Recovery
    codes also work for a coach whose second factors are passkeys only."""
    row = await aq.get_totp(session, coach_id)
    digits = _digits(code)
    if digits is not None and row is not None and row.confirmed_at is not None:
        secret = _secret_of(row, secret_key)
        step = _matching_step(secret, digits, now) if secret else None
        if step is None or (row.last_step is not None and step <= row.last_step):
            return None
        result = await session.execute(
            update(CoachTotp).where(CoachTotp.coach_id == coach_id,
                                    (CoachTotp.last_step.is_(None)) | (CoachTotp.last_step < step))
            .values(last_step=step))
        return "totp" if result.rowcount else None  # type: ignore[attr-defined]
    wanted = _code_hash(_normal_recovery(code)[:64])
    result = await session.execute(
        update(RecoveryCode).where(RecoveryCode.coach_id == coach_id, RecoveryCode.code_hash == wanted,
                                   RecoveryCode.used_at.is_(None)).values(used_at=now))
    return "recovery" if result.rowcount else None  # type: ignore[attr-defined]


async def do_disable(session: AsyncSession, coach_id: int) -> None:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.coach_id == coach_id))
    await session.execute(delete(CoachTotp).where(CoachTotp.coach_id == coach_id))
