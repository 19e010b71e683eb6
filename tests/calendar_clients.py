"""Calendar files as the programs people use read them, not as the library that wrote them
does: ical.js (Thunderbird's calendar; ``tests/js``, run with node), libical (Evolution and
others; ``tests/libical_read.py``, run with Debian's python3 and libical-glib), and the
structural rules Outlook and Google Calendar are known to need (``problems``).

``./run-tests`` installs all of it (npm ci in tests/js, Debian's gir1.2-ical-3.0).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import available_timezones

import pytest
from icalendar import Calendar

HERE = Path(__file__).parent
JS = HERE / "js"
ICAL_JS = JS / "node_modules" / "ical.js"
SYSTEM_PYTHON = "/usr/bin/python3"
ITIP = ("REQUEST", "CANCEL")


@dataclass(frozen=True)
class Seen:
    """One event as a calendar program read it."""

    uid: str
    sequence: int | None
    status: str | None
    start: datetime  # the instant, aware
    end: datetime
    start_zone: str  # "UTC", the TZID it resolved, or "floating" (none found)
    organizer: str | None
    attendees: tuple[str, ...]


@dataclass(frozen=True)
class Reading:
    """One file as a calendar program read it."""

    method: str | None
    events: list[Seen]
    errors: list[str]


def _missing(what: str) -> None:
    message = f"{what} is not installed (./run-tests installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _readings(lines: str) -> dict[str, Reading]:
    found = {}
    for line in lines.splitlines():
        data = json.loads(line)
        events = [Seen(e["uid"], e["sequence"], e["status"], _instant(e["start"]["utc"]), _instant(e["end"]["utc"]),
                       e["start"]["zone"], e["organizer"], tuple(e["attendees"])) for e in data["events"]]
        found[data["path"]] = Reading(data["method"], events, data.get("errors", []))
    return found


def _run(command: list[str], files: Iterable[Path]) -> dict[Path, Reading]:
    paths = [str(path) for path in files]
    done = subprocess.run([*command, *paths], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TZ": "UTC"})
    assert done.returncode == 0, done.stderr
    readings = _readings(done.stdout)
    return {Path(path): readings[path] for path in paths}


def read_with_icaljs(files: Iterable[Path]) -> dict[Path, Reading]:
    """Every file as Thunderbird's parser reads it (one node process for all)."""
    if not ICAL_JS.is_dir():
        _missing("ical.js (npm ci in tests/js)")
    return _run(["node", str(JS / "ics_read.mjs")], files)


def read_with_libical(files: Iterable[Path]) -> dict[Path, Reading]:
    """Every file as libical reads it, with its iTIP restriction check."""
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('ICalGLib', '3.0')"],
                           capture_output=True)
    if probe.returncode != 0:
        _missing("libical-glib for Debian's python3 (gir1.2-ical-3.0, python3-gi)")
    return _run([SYSTEM_PYTHON, str(HERE / "libical_read.py")], files)


def problems(ics: bytes, *, method: str | None) -> list[str]:
    """What Outlook, Google Calendar or RFC 5545/5546 would refuse or misread in a file."""
    found = _line_problems(ics)
    calendar = Calendar.from_ical(ics)
    if str(calendar.get("VERSION", "")) != "2.0" or not calendar.get("PRODID"):
        found.append("VERSION:2.0 and PRODID are required")
    if (str(calendar["METHOD"]) if "METHOD" in calendar else None) != method:
        found.append(f"METHOD is {calendar.get('METHOD')!r}, the mail says {method!r}")
    zones = {str(tz["TZID"]): tz for tz in calendar.walk("VTIMEZONE")}
    for tz in zones.values():
        found += _outlook_zone_problems(tz)
    for event in calendar.walk("VEVENT"):
        found += _event_problems(event, zones, method)
    return found


def _line_problems(ics: bytes) -> list[str]:
    found = []
    if re.search(rb"(?<!\r)\n|\r(?!\n)", ics) or not ics.endswith(b"\r\n"):
        found.append("lines must end with CRLF")
    for number, line in enumerate(ics.split(b"\r\n"), 1):
        if len(line) > 75:
            found.append(f"line {number} is {len(line)} octets (at most 75, folded)")
    ics.decode("utf-8")  # raises when it is not UTF-8
    return found


def _outlook_zone_problems(tz) -> list[str]:  # type: ignore[no-untyped-def]
    """Outlook reads one STANDARD and at most one DAYLIGHT, each a yearly RRULE; dated
    observances (RDATE) shift events by an hour."""
    name, standard, daylight = tz["TZID"], tz.walk("STANDARD"), tz.walk("DAYLIGHT")
    found = []
    if len(standard) != 1 or len(daylight) > 1:
        found.append(f"VTIMEZONE {name}: Outlook needs one STANDARD and at most one DAYLIGHT, "
                     f"not {len(standard)} and {len(daylight)}")
    for part in standard + daylight:
        if "RDATE" in part or (daylight and "RRULE" not in part):
            found.append(f"VTIMEZONE {name}: Outlook misreads observances without a yearly RRULE")
            break
    return found


def _event_problems(event, zones: dict, method: str | None) -> list[str]:  # type: ignore[no-untyped-def]
    uid = str(event.get("UID", "?"))
    found = [f"{uid}: {name} is required" for name in ("UID", "DTSTAMP", "DTSTART", "DTEND") if name not in event]
    if "DTSTAMP" in event and not event["DTSTAMP"].to_ical().endswith(b"Z"):
        found.append(f"{uid}: DTSTAMP must be UTC")
    for name in ("DTSTART", "DTEND"):
        if name not in event:
            continue
        value, tzid = event[name], event[name].params.get("TZID")
        if tzid is None and not value.to_ical().endswith(b"Z"):
            found.append(f"{uid}: {name} is a floating time (Outlook: all-day events only)")
        if tzid is not None and tzid not in zones:
            found.append(f"{uid}: {name} uses TZID {tzid} without a VTIMEZONE (Outlook)")
        if tzid is not None and tzid not in available_timezones():
            found.append(f"{uid}: {name} TZID {tzid} is no IANA zone (Google reads the name, not the VTIMEZONE)")
    if method in ITIP:
        if "SEQUENCE" not in event:
            found.append(f"{uid}: SEQUENCE is required in an iTIP {method}")
        if not str(event.get("ORGANIZER", "")).lower().startswith("mailto:"):
            found.append(f"{uid}: ORGANIZER (mailto:) is required in an iTIP {method}")
        attendees = event.get("ATTENDEE", [])
        if not isinstance(attendees, list):
            attendees = [attendees]
        if not attendees or not all(str(a).lower().startswith("mailto:") for a in attendees):
            found.append(f"{uid}: ATTENDEE (mailto:) is required in an iTIP {method}")
    if method == "CANCEL" and str(event.get("STATUS", "")) != "CANCELLED":
        found.append(f"{uid}: a CANCEL carries STATUS:CANCELLED")
    return found
