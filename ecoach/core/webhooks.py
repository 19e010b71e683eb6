"""Outgoing webhooks, the pure part: which committed events a coach's endpoint can choose,
how a delivery is signed, and which addresses an endpoint may point at.

A coach's endpoint subscribes to some of ``CHOICES``. Each committed event of the event
bus (``ecoach.core.events``) that stands for one of them becomes an ``Occurrence`` (the
coach, the type and the ids it concerns, nothing else); ``ecoach.actions.webhooks`` turns
occurrences into delivery rows inside the committing transaction.

Signature (as Stripe's and GitHub's): the header ``Ecoach-Signature: t=<unix time>,v1=<hex>``
where ``<hex>`` is HMAC-SHA256 over ``"<t>.<raw body>"`` with the endpoint's secret. A
receiver recomputes it over the raw bytes it received, compares in constant time, and
refuses a ``t`` too far from its own clock (a replayed old delivery).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ecoach.core.events import Event
from ecoach.core.topics import coach_of

EXCHANGE_IN = "exchange.created:in"
EXCHANGE_OUT = "exchange.created:out"
STATUS = "engagement.status_changed"
BOOKING_TYPES = {"booked": "booking.created", "rescheduled": "booking.rescheduled",
                 "cancelled": "booking.cancelled"}
BREACH = "commitment.breached"
TEST = "webhook.test"

# What an endpoint can subscribe to, in the order the page lists them. An exchange is one
# event type (``exchange.created``) chosen per direction.
CHOICES: tuple[str, ...] = (EXCHANGE_IN, EXCHANGE_OUT, STATUS, *BOOKING_TYPES.values(), BREACH)

SIGNATURE_HEADER = "Ecoach-Signature"
EVENT_HEADER = "Ecoach-Event"
DELIVERY_HEADER = "Ecoach-Delivery"
TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class Occurrence:
    """One webhook event a committed event stands for: whose, what, which ids."""

    coach_id: int
    type: str  # the payload's type, e.g. "exchange.created"
    choice: str  # what an endpoint subscribes to, e.g. "exchange.created:in"
    engagement_id: int | None
    object_id: int | None  # the exchange, booking or commitment
    detail: str | None = None  # the status an engagement moved to


def occurrences(events: Sequence[Event]) -> list[Occurrence]:
    """The webhook events among a transaction's committed events, in order."""
    found: list[Occurrence] = []
    for event in events:
        data = event.data
        kind = data.get("type")
        if kind == "exchange":
            found.extend(_exchange(event))
        elif kind == "status":
            found.extend(_status(event))
        elif kind in BOOKING_TYPES.values() or kind == BREACH:
            found.append(_fact(data))
    return found


def _coaches(topics: Iterable[str]) -> list[int]:
    return [coach for coach in map(coach_of, topics) if coach is not None]


def _exchange(event: Event) -> list[Occurrence]:
    exchange = event.data.get("exchange") or {}
    direction = exchange.get("direction")
    if direction not in ("in", "out"):
        return []  # internal notes stay with the coach
    choice = EXCHANGE_IN if direction == "in" else EXCHANGE_OUT
    return [Occurrence(coach, "exchange.created", choice, exchange.get("engagement_id"), exchange.get("id"))
            for coach in _coaches(event.topics)]


def _status(event: Event) -> list[Occurrence]:
    data = event.data
    return [Occurrence(coach, STATUS, STATUS, data.get("engagement_id"), data.get("engagement_id"),
                       str(data.get("status"))[:16]) for coach in _coaches(event.topics)]


def _fact(data: dict) -> Occurrence:  # type: ignore[type-arg]
    kind = str(data["type"])
    object_id = data.get("commitment_id") if kind == BREACH else data.get("booking_id")
    return Occurrence(int(data["coach_id"]), kind, kind, data.get("engagement_id"), object_id)


def choices_of(text: str) -> set[str]:
    """An endpoint's stored choices (comma-separated) as a set of known choices."""
    return {part for part in text.split(",") if part in CHOICES}


# --- signatures ------------------------------------------------------------------------


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Ecoach-Signature`` header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: float = TOLERANCE_SECONDS) -> bool:
    """What a receiver does: True when ``header`` signs ``body`` with ``secret`` and its
    time is within ``tolerance`` seconds of ``now``."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).rpartition("v1=")[2]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# --- where an endpoint may point --------------------------------------------------------

MAX_URL = 2000


class UrlRefused(ValueError):
    """The URL cannot be an endpoint; ``code`` says why (see ``check_url``)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code if not detail else f"{code}: {detail}")
        self.code = code
        self.detail = detail


def check_url(url: str, *, allow_private: bool) -> str:
    """The URL, stripped, if it can be an endpoint; else UrlRefused with a code:
    ``url_invalid`` (not an http(s) URL with a host), ``url_credentials`` (user:password@),
    ``url_too_long``, ``address_private`` (a literal address that is not public). Host
    names are resolved and checked again at every send (``address_allowed``)."""
    url = url.strip()
    if len(url) > MAX_URL:
        raise UrlRefused("url_too_long")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("url_invalid") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise UrlRefused("url_invalid")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("url_credentials")
    if port == 0:
        raise UrlRefused("url_invalid")
    literal = _literal(parts.hostname)
    if literal is not None and not address_allowed(literal, allow_private=allow_private):
        raise UrlRefused("address_private", str(literal))
    return url


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def address_allowed(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_private: bool) -> bool:
    """Whether a delivery may connect to ``address``: a public (global unicast) address, or
    any unicast address with ``allow_private``. Never multicast or unspecified ("0.0.0.0"
    reaches the local host on Linux)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip.is_multicast or ip.is_unspecified:
        return False
    return allow_private or ip.is_global
