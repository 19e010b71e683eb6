"""Calendar invites and feeds (RFC 5545, RFC 5546 iTIP) built with ``icalendar``.

One booking is one event with a stable UID for its whole life. An invite is
``METHOD:REQUEST``; a reschedule is another REQUEST with a higher SEQUENCE; a
cancellation is ``METHOD:CANCEL`` with the same UID and a higher SEQUENCE again, so mail
programs update or remove the event they already have instead of adding a second one.
Times are written in the coach's zone with its VTIMEZONE, so calendars show the right
local time on both sides of a DST switch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//ecoach//sessions//EN"
METHODS = ("REQUEST", "CANCEL", "PUBLISH")


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    sequence: int
    start: datetime  # aware
    end: datetime
    zone: str  # IANA zone the times are written in
    title: str
    description: str
    location: str
    url: str | None
    organizer_name: str
    organizer_email: str
    attendee_name: str
    attendee_email: str | None
    stamp: datetime  # DTSTAMP: when this version was made
    status: str = "CONFIRMED"  # CONFIRMED, TENTATIVE, CANCELLED


def _address(name: str, email: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params["CN"] = vText(name)
    for key, value in params.items():
        address.params[key.replace("_", "-").upper()] = vText(value)
    return address


def _event(item: CalendarEvent, *, cancelled: bool) -> Event:
    zone = ZoneInfo(item.zone)
    event = Event()
    event.add("uid", item.uid)
    event.add("sequence", item.sequence)
    event.add("dtstamp", item.stamp.astimezone(timezone.utc))
    event.add("dtstart", item.start.astimezone(zone))
    event.add("dtend", item.end.astimezone(zone))
    event.add("summary", item.title)
    event.add("description", item.description)
    if item.location:
        event.add("location", item.location)
    if item.url:
        event.add("url", item.url)
    event.add("status", "CANCELLED" if cancelled else item.status)
    event.add("transp", "OPAQUE")
    event.add("organizer", _address(item.organizer_name, item.organizer_email))
    if item.attendee_email:
        event.add("attendee", _address(item.attendee_name, item.attendee_email, cutype="INDIVIDUAL",
                                       role="REQ-PARTICIPANT", partstat="NEEDS-ACTION", rsvp="FALSE"))
    return event


def _calendar(method: str | None, events: list[Event], spans: list[tuple[datetime, datetime]],
              name: str | None = None) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    if name:
        calendar.add("x-wr-calname", name)
    for event in events:
        calendar.add_component(event)
    if spans:
        # The zone's rules from a year before the first event to a year after the last:
        # enough for every client, without decades of history in each mail.
        first, last = _years(spans)
        calendar.add_missing_timezones(first_date=first, last_date=last)
    return calendar.to_ical()


def _years(spans: list[tuple[datetime, datetime]]) -> tuple[date, date]:
    first = min(start.date() for start, _ in spans) - timedelta(days=366)
    last = max(end.date() for _, end in spans) + timedelta(days=366)
    return first, last


def invite(item: CalendarEvent, method: str = "REQUEST") -> bytes:
    """One event as an iTIP message: REQUEST (new or changed) or CANCEL."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unsupported method {method!r}")
    event = _event(item, cancelled=method == "CANCEL")
    return _calendar(method, [event], [(item.start, item.end)])


def feed(items: list[CalendarEvent], name: str) -> bytes:
    """A subscription calendar (no METHOD): every current booking."""
    events = [_event(item, cancelled=False) for item in items]
    return _calendar(None, events, [(i.start, i.end) for i in items], name=name)
