"""Calendar invites and feeds (RFC 5545, RFC 5546 iTIP) built with ``icalendar``.

One booking is one event with a stable UID for its whole life. An invite is
``METHOD:REQUEST``; a reschedule is another REQUEST with a higher SEQUENCE; a
cancellation is ``METHOD:CANCEL`` with the same UID and a higher SEQUENCE again, so mail
programs update or remove the event they already have instead of adding a second one.

Times are written in UTC (``DTSTART:20261025T013000Z``), never as a local time with a
TZID: every calendar program shows a UTC time in its user's own zone, on both sides of
every DST switch and in any year. A local time with a VTIMEZONE was misread (found by
running the files through ical.js and libical, see tests/test_calendar_clients.py):
- the wall time of the autumn hour that happens twice (02:30 on the last Sunday of
  October in Amsterdam) names two instants, and both parsers put both sessions on one;
- icalendar writes a VTIMEZONE as dated observances (one RDATE line with many dates);
  ical.js (Thunderbird) reads only the first date of such a line, so in a feed over
  several years every summer session after the first was an hour off;
- Outlook reads only a VTIMEZONE with one STANDARD and one DAYLIGHT rule (RRULE) and
  shifts events by an hour with dated observances.
Sessions are single events (no recurrence), so nothing needs the zone's rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//ecoach//sessions//EN"
METHODS = ("REQUEST", "CANCEL", "PUBLISH")


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    sequence: int
    start: datetime  # aware
    end: datetime
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


def _utc(moment: datetime) -> datetime:
    # A naive time would be read as the server's local time: refuse it.
    if moment.tzinfo is None:
        raise ValueError("calendar times must be aware datetimes")
    return moment.astimezone(timezone.utc)


def _event(item: CalendarEvent, *, cancelled: bool) -> Event:
    event = Event()
    event.add("uid", item.uid)
    event.add("sequence", item.sequence)
    event.add("dtstamp", _utc(item.stamp))
    event.add("dtstart", _utc(item.start))
    event.add("dtend", _utc(item.end))
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


def _calendar(method: str | None, events: list[Event], name: str | None = None) -> bytes:
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
    return calendar.to_ical()


def invite(item: CalendarEvent, method: str = "REQUEST") -> bytes:
    """One event as an iTIP message: REQUEST (new or changed) or CANCEL."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unsupported method {method!r}")
    event = _event(item, cancelled=method == "CANCEL")
    return _calendar(method, [event])


def feed(items: list[CalendarEvent], name: str) -> bytes:
    """A subscription calendar (no METHOD): every current booking."""
    events = [_event(item, cancelled=False) for item in items]
    return _calendar(None, events, name=name)
