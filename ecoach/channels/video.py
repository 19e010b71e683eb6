"""Meeting links for booked sessions.

Video: a Jitsi-style URL template with an unguessable room name per session (the
default, ``https://meet.jit.si/{room}``), or the coach's own fixed room (a personal
Zoom, Whereby or Jitsi URL). Phone: the number to call as a ``tel:`` link. In person:
the address, no link.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

ROOM_BYTES = 15  # 120 bits: 24 characters of base32
PROVIDERS = ("template", "personal")
CHANNELS = ("video", "phone", "in_person")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]{4,30}$")


class MeetingError(ValueError):
    """A meeting setting is not usable; the message says which."""


@dataclass(frozen=True)
class Meeting:
    url: str | None  # what to click: the video room or the tel: link
    location: str  # what a calendar shows as the place


def new_room() -> str:
    """A room name nobody can guess; letters and digits only, so any provider takes it."""
    return "ecoach" + base64.b32encode(secrets.token_bytes(ROOM_BYTES)).decode().lower()


def check_room_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or any(c.isspace() for c in url):
        raise MeetingError("a meeting room must be an http(s) address")
    return url


def check_phone(number: str) -> str:
    number = " ".join(number.split())
    if not _PHONE.match(number):
        raise MeetingError("a phone number has digits, optionally a leading + and spaces")
    return number


def tel_link(number: str) -> str:
    """``tel:`` URI (RFC 3966) of a number as people write it: only + and digits kept."""
    digits = re.sub(r"[^0-9+]", "", number)
    return "tel:" + quote(digits, safe="+")


def template_url(template: str, room: str) -> str:
    return template.replace("{room}", quote(room, safe=""))


def meeting_for(
    channel: str,
    *,
    provider: str,
    template: str,
    personal_room_url: str | None,
    phone_number: str | None,
    address: str | None,
    room: str,
) -> Meeting:
    """Where a new session takes place, by its channel and the coach's settings."""
    if channel == "video":
        if provider == "personal":
            if not personal_room_url:
                raise MeetingError("choose your personal meeting room first")
            url = check_room_url(personal_room_url)
        else:
            url = template_url(template, room)
        return Meeting(url=url, location=url)
    if channel == "phone":
        if not phone_number:
            raise MeetingError("add the number coachees call first")
        return Meeting(url=tel_link(phone_number), location=phone_number)
    if channel == "in_person":
        return Meeting(url=None, location=address or "")
    raise MeetingError(f"unknown session channel {channel!r}")
