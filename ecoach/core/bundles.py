"""What a coach sells and how it is used up (pure rules: no database, no web).

A **product** is a bundle (N sessions and/or M minutes of written coaching), a period
subscription (e.g. three months of unlimited mail coaching, optionally with sessions), or
pay per session. An engagement holds a copy of a product's terms (a **plan**), so editing
the product later changes no plan already sold. Every session held and every written
reply is one entry in the usage ledger; this module says how much of an entry the plan
covers, what is left, when that is low, and when a new session cannot be booked.

Amounts are whole euro cents (int): no float ever touches money.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal


class ProductKind(str, enum.Enum):
    bundle = "bundle"
    subscription = "subscription"
    per_session = "per_session"


class VatChoice(str, enum.Enum):
    """The VAT a practice charges by default (a product may choose another)."""

    standard_21 = "standard_21"
    standard_9 = "standard_9"
    exempt_crkbo = "exempt_crkbo"  # education by a CRKBO-registered teacher: art. 11-1-o Wet OB
    exempt_kor = "exempt_kor"  # the small-business scheme (kleineondernemersregeling)


@dataclass(frozen=True)
class Terms:
    """A plan's terms (copied from its product when sold)."""

    kind: ProductKind
    sessions: int = 0  # sessions included (0: none)
    minutes: int = 0  # minutes of written coaching included (0: none)
    unlimited_written: bool = False  # a subscription's unlimited written coaching
    starts_on: date | None = None
    ends_on: date | None = None  # a subscription's last day
    session_price: int | None = None  # cents per session beyond what is included
    hourly_rate: int | None = None  # cents per hour of written coaching beyond what is included

    def active_on(self, day: date) -> bool:
        return self.ends_on is None or day <= self.ends_on


@dataclass(frozen=True)
class Used:
    """What the ledger holds for one plan, and the sessions booked but not yet held."""

    sessions: int = 0
    minutes: int = 0
    booked: int = 0


@dataclass(frozen=True)
class Coverage:
    """How much of one usage entry the plan covers, and what is billed beyond it."""

    covered: int
    extra: int  # units beyond the plan (sessions or minutes)
    price: int | None  # cents per session, or per hour for minutes; None: not billed

    @property
    def billable(self) -> int:
        return self.extra if self.price else 0


def cover_session(terms: Terms, used: Used, day: date) -> Coverage:
    """One session held on ``day``."""
    included = terms.sessions if terms.active_on(day) else 0
    if terms.kind is not ProductKind.per_session and used.sessions < included:
        return Coverage(1, 0, None)
    return Coverage(0, 1, terms.session_price)


def cover_minutes(terms: Terms, used: Used, minutes: int, day: date) -> Coverage:
    """A written reply of ``minutes`` on ``day``; a part may be covered, the rest extra."""
    if minutes <= 0:
        return Coverage(0, 0, None)
    if not terms.active_on(day) or terms.kind is ProductKind.per_session:
        return Coverage(0, minutes, terms.hourly_rate)
    if terms.unlimited_written:
        return Coverage(minutes, 0, None)
    covered = min(minutes, max(0, terms.minutes - used.minutes))
    return Coverage(covered, minutes - covered, terms.hourly_rate)


@dataclass(frozen=True)
class Thresholds:
    sessions: int = 1
    minutes: int = 30
    days: int = 14


@dataclass(frozen=True)
class Balance:
    """What is left of a plan on a day, as the coach and the booking page see it."""

    terms: Terms
    used: Used
    today: date
    thresholds: Thresholds

    @property
    def counts_sessions(self) -> bool:
        return self.terms.kind is not ProductKind.per_session and self.terms.sessions > 0

    @property
    def counts_minutes(self) -> bool:
        return (self.terms.kind is not ProductKind.per_session and not self.terms.unlimited_written
                and self.terms.minutes > 0)

    @property
    def sessions_left(self) -> int:
        """Sessions not yet held (may be negative when more were held than included)."""
        return self.terms.sessions - self.used.sessions

    @property
    def sessions_bookable(self) -> int:
        """Sessions left that are not booked already."""
        return self.sessions_left - self.used.booked

    @property
    def minutes_left(self) -> int:
        return self.terms.minutes - self.used.minutes

    @property
    def days_left(self) -> int | None:
        return None if self.terms.ends_on is None else (self.terms.ends_on - self.today).days

    @property
    def expired(self) -> bool:
        return not self.terms.active_on(self.today)

    @property
    def sessions_used_up(self) -> bool:
        return self.counts_sessions and self.sessions_bookable <= 0

    @property
    def used_up(self) -> bool:
        return (self.expired or self.sessions_used_up
                or (self.counts_minutes and self.minutes_left <= 0))

    @property
    def low(self) -> bool:
        """Close to used up (and not used up yet): time to warn."""
        if self.used_up:
            return False
        days = self.days_left
        return ((self.counts_sessions and self.sessions_bookable <= self.thresholds.sessions)
                or (self.counts_minutes and self.minutes_left <= self.thresholds.minutes)
                or (days is not None and days <= self.thresholds.days))

    @property
    def booking_refused(self) -> bool:
        """A new session cannot be paid for: the plan's sessions are all held or booked and
        no price is set for more, or the subscription has ended. (Whether booking is then
        actually refused is the coach's setting.)"""
        if self.terms.kind is ProductKind.per_session:
            return False
        if self.expired:
            return True
        return self.sessions_used_up and not self.terms.session_price


_WORD = re.compile(r"\w+")


def estimate_minutes(text: str, *, words_per_minute: int, minimum: int) -> int:
    """A default for the minutes a written reply took, from its length (the coach
    confirms or changes it): the words at ``words_per_minute``, rounded up, at least
    ``minimum``. ``reply_minutes.js`` computes the same in the browser."""
    words = len(_WORD.findall(text))
    return max(minimum, math.ceil(words / max(1, words_per_minute)))


def cents(value: str | int | Decimal | None) -> int | None:
    """Euro text ("95", "95.50", "95,50") to cents; None for empty; ValueError otherwise."""
    if value is None:
        return None
    text = str(value).strip().replace(" ", "").replace("€", "")
    if not text:
        return None
    if "," in text:
        text = text.replace(".", "").replace(",", ".")  # Dutch: 1.234,50
    if not re.fullmatch(r"[0-9]{1,7}(\.[0-9]{1,2})?", text):
        raise ValueError(text)
    return int(Decimal(text) * 100)


def euros(amount: int | None) -> Decimal | None:
    return None if amount is None else (Decimal(amount) / 100).quantize(Decimal("0.01"))
