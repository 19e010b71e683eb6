"""Reads .ics files with libical through libical-glib (as Evolution does), knowing no time
zone but UTC and the VTIMEZONEs in each file. Prints one JSON line per file:
{path, method, errors, events: [{uid, sequence, status, start, end, dtstamp, organizer,
attendees}]}, start/end being {local, zone, utc} as in tests/js/ics_read.mjs. ``errors``
lists what libical's parser and its iTIP restriction check (RFC 5546 rules for the
file's METHOD) found.

Runs under Debian's own python3 (python3-gi, gir1.2-ical-3.0), not the project's venv:
``/usr/bin/python3 tests/libical_read.py FILE...``.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any

import gi

gi.require_version("ICalGLib", "3.0")
from gi.repository import ICalGLib as ical  # noqa: E402

Kind, Prop, Param = ical.ComponentKind, ical.PropertyKind, ical.ParameterKind


def children(component: Any, kind: Any) -> list[Any]:
    found, child = [], component.get_first_component(kind)
    while child is not None:
        found.append(child)
        child = component.get_next_component(kind)
    return found


def properties(component: Any, kind: Any) -> list[Any]:
    found, prop = [], component.get_first_property(kind)
    while prop is not None:
        found.append(prop)
        prop = component.get_next_property(kind)
    return found


def errors_in(component: Any) -> list[str]:
    found = [p.get_xlicerror() for p in properties(component, Prop.XLICERROR_PROPERTY)]
    for child in children(component, Kind.ANY_COMPONENT):
        found += errors_in(child)
    return found


def zones_of(calendar: Any) -> dict[str, Any]:
    zones = {}
    for vtimezone in children(calendar, Kind.VTIMEZONE_COMPONENT):
        zone = ical.Timezone.new()
        zone.set_component(vtimezone.clone())
        zones[zone.get_tzid()] = zone
    return zones


def moment(prop: Any, value: Any, zones: dict[str, Any]) -> dict[str, Any]:
    """The instant of a DTSTART/DTEND/DTSTAMP value, through the file's own VTIMEZONE."""
    param = prop.get_first_parameter(Param.TZID_PARAMETER)
    tzid = param.get_tzid() if param is not None else None
    local = value.as_ical_string()
    if value.is_utc():
        zone_name, stamp = "UTC", value.as_timet()
    elif tzid is not None and tzid in zones:
        zone_name, stamp = tzid, ical.Time.as_timet_with_zone(value, zones[tzid])
    else:  # a TZID without VTIMEZONE, or a floating time: read as UTC, and say so
        zone_name, stamp = "floating", ical.Time.as_timet_with_zone(value, ical.Timezone.get_utc_timezone())
    utc = datetime.fromtimestamp(stamp, timezone.utc).isoformat().replace("+00:00", "Z")
    return {"local": local, "zone": zone_name, "utc": utc}


def read(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        calendar = ical.Component.new_from_string(handle.read())
    if calendar is None:
        return {"path": path, "method": None, "errors": ["libical could not parse the file"], "events": []}
    calendar.check_restrictions()  # adds X-LIC-ERROR properties for iTIP violations
    zones = zones_of(calendar)
    events = []
    for vevent in children(calendar, Kind.VEVENT_COMPONENT):
        times = {}
        for name, kind, getter in (("start", Prop.DTSTART_PROPERTY, "get_dtstart"),
                                   ("end", Prop.DTEND_PROPERTY, "get_dtend"),
                                   ("dtstamp", Prop.DTSTAMP_PROPERTY, "get_dtstamp")):
            prop = vevent.get_first_property(kind)
            times[name] = moment(prop, getattr(prop, getter)(), zones) if prop is not None else None
        sequence = vevent.get_first_property(Prop.SEQUENCE_PROPERTY)
        status = vevent.get_first_property(Prop.STATUS_PROPERTY)
        organizer = vevent.get_first_property(Prop.ORGANIZER_PROPERTY)
        events.append({
            "uid": vevent.get_uid(), "sequence": sequence.get_sequence() if sequence else None,
            "status": status.get_value_as_string() if status else None, **times,
            "organizer": organizer.get_organizer() if organizer else None,
            "attendees": [p.get_attendee() for p in properties(vevent, Prop.ATTENDEE_PROPERTY)],
        })
    method = calendar.get_first_property(Prop.METHOD_PROPERTY)
    return {"path": path, "method": method.get_value_as_string() if method else None,
            "errors": errors_in(calendar), "events": events}


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(json.dumps(read(name)))
