"""Per-engagement reply addresses: ``coach+<token>@domain``.

The token is the engagement id with an HMAC-SHA256 tag under the server's secret key,
so a reply finds its engagement without a lookup table, and a made-up or altered token
is refused. Base32 in lower case survives mail systems that fold the local part's case.
Knowing one token tells nothing about another engagement's (the tag is 80 bits).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from email.utils import getaddresses

TAG_BYTES = 10
ID_BYTES = 6
_PURPOSE = b"ecoach reply-token v1"


def _key(secret: str) -> bytes:
    return hashlib.sha256(_PURPOSE + b"\0" + secret.encode("utf-8")).digest()


def _tag(secret: str, payload: bytes) -> bytes:
    return hmac.new(_key(secret), payload, hashlib.sha256).digest()[:TAG_BYTES]


def make_token(secret: str, engagement_id: int) -> str:
    payload = engagement_id.to_bytes(ID_BYTES, "big")
    raw = payload + _tag(secret, payload)
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


def read_token(secret: str, token: str) -> int | None:
    """The engagement id a genuine token carries, else None (never raises)."""
    text = token.strip().upper()
    if not text or len(text) > 64 or not re.fullmatch(r"[A-Z2-7]+", text):
        return None
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (ValueError, TypeError):
        return None
    # The last character holds spare bits: only the canonical spelling is accepted.
    if len(raw) != ID_BYTES + TAG_BYTES or base64.b32encode(raw).decode().rstrip("=") != text:
        return None
    payload, tag = raw[:ID_BYTES], raw[ID_BYTES:]
    if not hmac.compare_digest(tag, _tag(secret, payload)):
        return None
    return int.from_bytes(payload, "big")


def reply_address(token: str, *, local: str, domain: str, form: str) -> str:
    return form.format(local=local, token=token, domain=domain)


def _pattern(local: str, domain: str, form: str) -> re.Pattern[str]:
    parts = re.split(r"(\{local\}|\{token\}|\{domain\})", form)
    values = {"{local}": re.escape(local), "{domain}": re.escape(domain), "{token}": "([A-Za-z2-7]{8,64})"}
    return re.compile("".join(values.get(p, re.escape(p)) for p in parts), re.IGNORECASE)


def find_tokens(addresses: list[str], *, local: str, domain: str, form: str) -> list[str]:
    """Tokens in reply addresses among ``addresses`` (bare or "Name <addr>"), in order,
    without repeats. Addresses of other forms are ignored."""
    pattern = _pattern(local, domain, form)
    found: list[str] = []
    for _name, address in getaddresses([a for a in addresses if a]):
        match = pattern.fullmatch(address.strip())
        if match and match.group(1).lower() not in found:
            found.append(match.group(1).lower())
    return found
