"""Unguessable tokens for chat links and API access.

A token is 32 random bytes (256 bits) from ``secrets``; only its SHA-256 digest is stored,
so a database leak does not reveal working links. A plain digest is enough here because
the token itself carries full entropy (no password-style stretching needed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def looks_like_token(value: str) -> bool:
    """Cheap shape check before touching the database."""
    return 20 <= len(value) <= 128 and all(c.isalnum() or c in "-_" for c in value)


def new_salt() -> str:
    return secrets.token_hex(16)


def derived_token(secret: str, salt: str) -> str:
    """A link token the server can show again: HMAC of a stored salt under the secret key."""
    digest = hmac.new(secret.encode("utf-8"), f"chat-link:{salt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
