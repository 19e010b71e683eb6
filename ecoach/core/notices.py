"""Logbook notices written by ecoach itself (a session booked, an answer overdue, an action
step noted) are stored as message keys with parameters, and rendered when shown: in the
reader's language and time zone, so the coach reads "Video session booked for Wednesday 3
March 2027, 14:00–15:00" while the coachee reads the Dutch line in their own zone.

A notice lives in ``exchange.meta["notice"]``: ``{"lines": [line, ...]}``, a line being
``{"k": msgid, "p": {name: value}}`` or ``{"raw": text}`` (words a person wrote). A value
is a string or number, or one of ``{"span": [start, end]}``, ``{"at": instant}``,
``{"day": "2027-03-03"}`` (ISO texts), ``{"msg": msgid}`` (a translated word) and
``{"url": href, "text": label}`` (a link). The exchange's ``body_text`` keeps one rendering
(for search, the API and mail); pages and live frames render the notice instead.
"""

from __future__ import annotations

import html
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from ecoach.core import formats
from ecoach.core.i18n import gettext_for

Notice = dict[str, Any]


def line(key: str, **params: Any) -> dict[str, Any]:
    return {"k": key, "p": params}


def raw(text: str) -> dict[str, Any]:
    return {"raw": text}


def span(start: datetime, end: datetime) -> dict[str, Any]:
    return {"span": [start.isoformat(), end.isoformat()]}


def at(moment: datetime) -> dict[str, Any]:
    return {"at": moment.isoformat()}


def day(value: date) -> dict[str, Any]:
    return {"day": value.isoformat()}


def msg(key: str) -> dict[str, Any]:
    return {"msg": key}


def url(href: str, text: str | None = None) -> dict[str, Any]:
    return {"url": href, "text": text or href}


def notice(*lines: dict[str, Any] | None) -> Notice:
    return {"lines": [x for x in lines if x]}


def _value(value: Any, language: str, zone: str, markup: bool) -> str:
    if isinstance(value, dict):
        if "span" in value:
            start, end = (datetime.fromisoformat(v) for v in value["span"])
            text = formats.span(start, end, zone, language)
        elif "at" in value:
            text = formats.moment(datetime.fromisoformat(value["at"]), zone, language)
        elif "day" in value:
            text = formats.day(date.fromisoformat(value["day"]), None, language, year=False)
        elif "msg" in value:
            text = gettext_for(language)(value["msg"])
        elif "url" in value:
            label = str(value.get("text") or value["url"])
            if markup:
                return f'<a href="{html.escape(str(value["url"]))}">{html.escape(label)}</a>'
            text = label
        else:
            text = ""
    else:
        text = str(value)
    return html.escape(text) if markup else text


def _line(item: dict[str, Any], language: str, zone: str, markup: bool) -> str:
    if "raw" in item:
        text = str(item["raw"])
        return html.escape(text) if markup else text
    template = gettext_for(language)(item["k"])
    if markup:
        template = html.escape(template, quote=False)
    values = {name: _value(v, language, zone, markup) for name, v in (item.get("p") or {}).items()}
    try:
        return template % values if values else template
    except (KeyError, ValueError, TypeError):  # a catalogue that lost a placeholder: the key itself
        return html.escape(item["k"]) if markup else item["k"]


def render_text(n: Notice, language: str, zone: str) -> str:
    return "\n".join(_line(item, language, zone, False) for item in n.get("lines", []))


def render_html(n: Notice, language: str, zone: str) -> str:
    """Paragraphs; a raw line keeps its own paragraphs (blank lines) and line breaks."""
    parts = []
    for item in n.get("lines", []):
        if "raw" in item:
            for para in str(item["raw"]).split("\n\n"):
                parts.append("<p>" + html.escape(para).replace("\n", "<br>") + "</p>")
        else:
            parts.append(f"<p>{_line(item, language, zone, True)}</p>")
    return "".join(parts)


def first_line(n: Notice, language: str, zone: str) -> str:
    lines = n.get("lines") or []
    return _line(lines[0], language, zone, False) if lines else ""


def of(meta: dict[str, Any] | None) -> Notice | None:
    found = (meta or {}).get("notice")
    return found if isinstance(found, dict) and isinstance(found.get("lines"), list) else None


BOOKING_EVENTS = ("requested", "booked", "rescheduled", "cancelled", "declined", "held")
# A request for the coachee's data and its answer (actions/export_requests.py).
DATA_EVENTS = ("export_asked", "export_ready", "export_declined")
# Crisis signals (actions/crisis.py): the coach's flag and its marking, the coachee's panel.
CRISIS_SHAPES = {"crisis_flag": "crisis-flag", "crisis_resolved": "crisis-flag", "crisis_resources": "crisis-panel"}


def shape(direction: str, author: str, meta: dict[str, Any] | None, viewer: str) -> str:
    """How an exchange looks to its reader: ``note`` (the coach's private note),
    ``system-line`` (what ecoach records: bookings, deadlines, action steps), or a bubble
    ``from-me`` / ``from-them`` (the reader's own side on the right); a crisis signal's
    entries have shapes of their own (``CRISIS_SHAPES``)."""
    event = (meta or {}).get("event")
    if event in CRISIS_SHAPES:
        return CRISIS_SHAPES[event]
    if direction == "internal":
        return "note" if author == "coach" else "system-line"
    if event in BOOKING_EVENTS or event in DATA_EVENTS:
        return "system-line"
    mine = "out" if viewer == "coach" else "in"
    return "from-me" if direction == mine else "from-them"


def localise(item: dict[str, Any], viewer: str, language: str, zone: str) -> dict[str, Any]:
    """An exchange as sent over a websocket (``exchange_dict``), for one reader: the
    notice rendered in their language and zone, the time as pages show it, the shape."""
    out = dict(item)
    found = item.get("notice")
    if isinstance(found, dict):
        out["text"] = render_text(found, language, zone)
        out["html"] = render_html(found, language, zone)
    if item.get("created_at"):
        out["when"] = _when(item["created_at"], zone, language)
    out["shape"] = shape(item.get("direction", ""), item.get("author", ""), {"event": item.get("event")}, viewer)
    out.pop("notice", None)
    return out


@lru_cache(maxsize=4096)
def _when(created_at: str, zone: str, language: str) -> str:
    """A time as the timeline shows it: formatted once per (instant, zone, language) while it
    is recent. A chat batch's messages share their time, and each is read by its writer (the
    ack) and its other readers: Babel's formatting was a good part of every live message."""
    return formats.moment(datetime.fromisoformat(created_at), zone, language)
