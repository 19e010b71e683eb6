// Reads .ics files as Thunderbird's calendar does, with ical.js, knowing no time zone but
// UTC and the VTIMEZONEs in each file. Prints one JSON line per file:
// {path, method, events: [{uid, sequence, status, start, end, dtstamp, organizer, attendees}]}
// where start/end are {local (wall time as written), zone (the zone ical.js resolved:
// "UTC", a TZID, or "floating" when it found none), utc (the instant, ISO 8601)}.
// Run with TZ=UTC: ical.js reads a floating time in the process's own zone.
import fs from "node:fs";
import ICAL from "ical.js";

function time(value) {
  return {
    local: value.toString(),
    zone: value.zone ? value.zone.tzid : "floating",
    utc: value.toJSDate().toISOString(),
  };
}

function read(path) {
  const calendar = new ICAL.Component(ICAL.parse(fs.readFileSync(path, "utf8")));
  ICAL.TimezoneService.reset(); // only this file's zones
  for (const vtimezone of calendar.getAllSubcomponents("vtimezone")) {
    ICAL.TimezoneService.register(vtimezone);
  }
  const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
    const event = new ICAL.Event(vevent);
    return {
      uid: event.uid,
      sequence: event.sequence,
      status: vevent.getFirstPropertyValue("status"),
      start: time(event.startDate),
      end: time(event.endDate),
      dtstamp: time(vevent.getFirstPropertyValue("dtstamp")),
      organizer: vevent.getFirstPropertyValue("organizer"),
      attendees: vevent.getAllProperties("attendee").map((p) => p.getFirstValue()),
    };
  });
  return { path, method: calendar.getFirstPropertyValue("method"), events };
}

for (const path of process.argv.slice(2)) {
  console.log(JSON.stringify(read(path)));
}
