"""The coaching vocabulary shared by every layer."""

from __future__ import annotations

import enum


class Channel(str, enum.Enum):
    chat = "chat"
    mail = "mail"
    video = "video"
    phone = "phone"
    system = "system"
    note = "note"
    form = "form"  # answers to a check-in, feedback or evaluation form


class Direction(str, enum.Enum):
    inbound = "in"  # from the coachee (or sponsor) to the coach
    outbound = "out"  # from the coach to the coachee
    internal = "internal"  # notes and system entries only the coach sees


class Author(str, enum.Enum):
    coach = "coach"
    coachee = "coachee"
    sponsor = "sponsor"  # in a triangular contract: the sponsor's acceptance
    system = "system"


class EngagementStatus(str, enum.Enum):
    active = "active"
    paused = "paused"
    closed = "closed"


class DeliveryState(str, enum.Enum):
    stored = "stored"  # recorded; nothing to deliver (chat is delivered by being stored)
    queued = "queued"
    sent = "sent"
    retrying = "retrying"
    failed = "failed"


LANGUAGES = ("nl", "en")
