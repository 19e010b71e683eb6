"""Pure rules for encouragement nudges: when a plan falls due, when a nudge may go out
(quiet hours, one a day), the pause link's token and the template language.

Times are aware datetimes; every rule works in the coachee's (the engagement's) zone, so a
nudge planned for "Monday 09:00" stays at 09:00 on both sides of a DST switch.
Imports nothing of ours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment

WEEKLY, INTERVAL = "weekly", "interval"
VARIABLES = ("coachee", "coach", "goal", "action_step", "next_session")
MAX_TEMPLATE_CHARS = 4000


# --- cadence ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cadence:
    """Weekly on chosen weekdays (Monday = 0), or every ``every_days`` days from ``start``,
    always at the wall-clock time ``at`` in the coachee's zone."""

    kind: str = WEEKLY
    weekdays: tuple[int, ...] = (0,)
    at: time = time(9, 0)
    every_days: int = 7
    start: date | None = None

    def falls_on(self, day: date) -> bool:
        if self.kind == INTERVAL:
            start = self.start or day
            return day >= start and (day - start).days % max(self.every_days, 1) == 0
        return day.weekday() in self.weekdays


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time. A time that does not exist (the hour skipped
    when DST starts) comes out that much later; an ambiguous one is its first occurrence."""
    naive = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    return naive.replace(tzinfo=zone).astimezone(timezone.utc)


def occurrences(cadence: Cadence, zone: ZoneInfo, after: datetime, count: int) -> list[tuple[date, datetime]]:
    """The next ``count`` (local date, UTC instant) of the cadence strictly after ``after``."""
    if count <= 0 or (cadence.kind == WEEKLY and not cadence.weekdays):
        return []
    found: list[tuple[date, datetime]] = []
    day = after.astimezone(zone).date()
    # Bounded walk: ``count`` occurrences lie within count periods (plus a week's slack).
    for _ in range(count * max(cadence.every_days if cadence.kind == INTERVAL else 7, 7) + 8):
        if cadence.falls_on(day):
            at = local_instant(day, cadence.at, zone)
            if at > after:
                found.append((day, at))
                if len(found) == count:
                    break
        day += timedelta(days=1)
    return found


# --- when a nudge may go out -----------------------------------------------------------


@dataclass(frozen=True)
class QuietHours:
    """Night in the coachee's zone: ``start`` until ``end`` (may span midnight). Equal
    times mean no quiet hours."""

    start: time = time(21, 0)
    end: time = time(8, 0)

    def contains(self, at: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end


def out_of_quiet_hours(at: datetime, zone: ZoneInfo, quiet: QuietHours) -> datetime:
    """``at`` itself, or the end of the quiet hours it falls in."""
    local = at.astimezone(zone)
    wall = local.time().replace(tzinfo=None)
    if not quiet.contains(wall):
        return at
    day = local.date()
    if quiet.start > quiet.end and wall >= quiet.start:
        day += timedelta(days=1)  # the evening part: quiet ends tomorrow morning
    return local_instant(day, quiet.end, zone)


def same_local_day(a: datetime | None, b: datetime, zone: ZoneInfo) -> bool:
    return a is not None and a.astimezone(zone).date() == b.astimezone(zone).date()


def next_day(at: datetime, zone: ZoneInfo, quiet: QuietHours) -> datetime:
    """The same wall-clock time a day later (outside the quiet hours): where a nudge goes
    when the coachee had one today already."""
    local = at.astimezone(zone)
    later = local_instant(local.date() + timedelta(days=1), local.time().replace(tzinfo=None), zone)
    return out_of_quiet_hours(later, zone, quiet)


def parse_hhmm(value: str) -> time:
    """"09:00" -> time(9, 0); ValueError for anything else."""
    hours, sep, minutes = value.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"not a time of day: {value!r}")
    return time(int(hours), int(minutes))


# --- the pause link --------------------------------------------------------------------


class PauseTokenError(Exception):
    """A pause link that is not genuine (``engagement_id`` None) or has expired."""

    def __init__(self, reason: str, engagement_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason  # "invalid" or "expired"
        self.engagement_id = engagement_id


_PAUSE_PURPOSE = b"ecoach nudge-pause v1"


def _pause_tag(secret: str, payload: str) -> str:
    key = hashlib.sha256(_PAUSE_PURPOSE + b"\0" + secret.encode("utf-8")).digest()
    digest = hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def make_pause_token(secret: str, engagement_id: int, issued: datetime) -> str:
    """``<engagement>.<issued, base 36 seconds>.<HMAC-SHA256>``: unguessable, and it
    carries its own age so old links can expire without a table of links."""
    payload = f"{engagement_id}.{_base36(int(issued.timestamp()))}"
    return f"{payload}.{_pause_tag(secret, payload)}"


def read_pause_token(secret: str, token: str, now: datetime, max_days: int) -> int:
    """The engagement id of a genuine, unexpired token (``max_days`` 0: never expires)."""
    parts = token.split(".")
    if len(token) > 120 or len(parts) != 3 or not parts[0].isdigit():
        raise PauseTokenError("invalid")
    payload = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(parts[2].encode("ascii", "replace"), _pause_tag(secret, payload).encode("ascii")):
        raise PauseTokenError("invalid")
    engagement_id = int(parts[0])
    issued = datetime.fromtimestamp(int(parts[1], 36), timezone.utc)
    if max_days and now - issued > timedelta(days=max_days):
        raise PauseTokenError("expired", engagement_id)
    return engagement_id


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


# --- templates -------------------------------------------------------------------------


class TemplateProblem(ValueError):
    """A nudge template that cannot be used: ``kind`` is "syntax", "unknown" (with the
    unknown variable names in ``detail``), "too_long" or "empty"."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


# Sandboxed: a template is text from a coach, never code. Plain text out (the logbook
# escapes it when it turns it into HTML).
_ENV = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=False)


def check_template(source: str) -> str:
    """The template, normalised, or TemplateProblem. It is tried once with sample values,
    so a mistake shows up in the form, not when the nudge is due."""
    text = source.replace("\r\n", "\n").strip()
    if not text:
        raise TemplateProblem("empty")
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateProblem("too_long", str(MAX_TEMPLATE_CHARS))
    try:
        unknown = sorted(meta.find_undeclared_variables(_ENV.parse(text)) - set(VARIABLES))
    except TemplateError as exc:
        raise TemplateProblem("syntax", str(exc.message or exc)) from None
    if unknown:
        raise TemplateProblem("unknown", ", ".join(unknown))
    render_template(text, {name: name for name in VARIABLES})
    return text


def render_template(source: str, values: Mapping[str, str]) -> str:
    try:
        rendered = _ENV.from_string(source).render({name: values.get(name, "") for name in VARIABLES})
    except TemplateError as exc:  # includes the sandbox's SecurityError
        raise TemplateProblem("syntax", str(exc.message or exc)) from None
    lines = [line.rstrip() for line in rendered.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip()
