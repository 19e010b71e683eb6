"""Who the relying party is for passkeys (WebAuthn): its RP ID and the origin browsers report.

Both come from the server's public address (``public_url``, else ``http://host:port``):
the origin is its scheme, host and port; the RP ID is its host name, or
``accounts.passkey_rp_id`` when set (a registrable suffix of the host, e.g. ``example.org``
for ``https://coach.example.org``, so passkeys survive a move to another subdomain).

WebAuthn refuses IP addresses as RP IDs, and browsers allow it only in a secure context
(https, or http on localhost): a server reached as ``http://127.0.0.1`` offers no passkeys
(``relying_party`` returns None and says why).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class RelyingParty:
    rp_id: str
    origin: str
    name: str = "ecoach"


class NoRelyingParty(ValueError):
    """Passkeys cannot be offered at this address; the message says why."""


def is_host_name(value: str) -> bool:
    """A DNS name in lower case (``localhost`` included), not an IP address."""
    if not value or len(value) > 253 or _is_ip(value):
        return False
    return all(_LABEL.match(label) for label in value.split("."))


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return True


def relying_party(base_url: str, rp_id: str = "") -> RelyingParty:
    """The RP for a server at ``base_url``; NoRelyingParty when there can be none."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise NoRelyingParty(f"public_url {base_url!r} is not an http(s) address")
    if not is_host_name(host):
        raise NoRelyingParty(f"passkeys need a host name, not the address {host!r}: set public_url")
    if parts.scheme == "http" and host != "localhost" and not host.endswith(".localhost"):
        raise NoRelyingParty("passkeys need https (browsers refuse them on http, except on localhost)")
    wanted = rp_id.lower() or host
    if not is_host_name(wanted) or not (host == wanted or host.endswith("." + wanted)):
        raise NoRelyingParty(f"accounts.passkey_rp_id {rp_id!r} is not {host!r} or a domain it belongs to")
    try:
        port_number = parts.port
    except ValueError:
        raise NoRelyingParty(f"public_url {base_url!r} has no valid port") from None
    default_port = {"http": 80, "https": 443}[parts.scheme]
    port = f":{port_number}" if port_number and port_number != default_port else ""
    return RelyingParty(rp_id=wanted, origin=f"{parts.scheme}://{host}{port}")
