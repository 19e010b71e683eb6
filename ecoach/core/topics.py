"""Every event topic, in one place.

A topic names who is listening: a coach's open pages, an engagement's coachee chat, the
chat link of an engagement. Actions register events on these topics (``ecoach.actions.unit
.emit``); they are delivered after the commit, to every server process.

Local topics stay inside the process that committed the event (they wake in-process
machinery, e.g. the mail outbox) and are never sent to other processes.
"""

from __future__ import annotations

# Local: a mail was queued in the outbox; the outbox dispatcher of this process wakes up.
OUTBOX = "local:outbox"

# Local: what happened that no page shows as such, for whatever counts or forwards it
# (``/metrics``, webhooks): ``{"type": "booking.created" | "booking.rescheduled" |
# "booking.cancelled", "coach_id", "engagement_id", "booking_id"}``, ``{"type":
# "commitment.breached", "coach_id", "engagement_id", "commitment_id", "channel"}``,
# ``{"type": "mail.delivery", "state", "count"}``, ``{"type": "webhook.delivery", "outcome"}``.
FACTS = "local:facts"

# Every process's keyring: data keys destroyed by an erasure (``key_ids``) are forgotten.
KEYS = "keys"

# Every process's cache of commitment policies and working calendars
# (``ecoach.logbook.agreement_cache``): a coach's availability, agreements or time zone
# changed, ``{"type": "changed", "topic": "agreements"}`` (``ecoach.logbook.watched``);
# the caches forget what they hold.
AGREEMENTS = "agreements"

# Every process's copy of which coaches have webhook endpoints (``ecoach.logbook
# .webhook_cache``): an endpoint was added, changed or removed; the copies forget.
WEBHOOK_ENDPOINTS = "webhook_endpoints"


def coach(coach_id: int) -> str:
    """A coach's inbox and engagement pages (``/ws``): exchanges, delivery states,
    quarantine counts, commitment changes, engagement status, and ``signed_out``."""
    return f"coach:{coach_id}"


def engagement(engagement_id: int) -> str:
    """The coachee's chat (``/c/<token>/ws``): exchanges (not internal notes), status, notices."""
    return f"engagement:{engagement_id}"


def group(group_id: int) -> str:
    """A coaching group's conversation (the group pages' sockets of the coach and of every
    member): group messages, and ``member_removed`` which closes that member's sockets."""
    return f"group:{group_id}"


def chat_link(token_digest: str) -> str:
    """One chat link, by its token's digest: ``revoked`` closes every coachee socket opened
    with it when it is withdrawn or replaced. (A socket listens here before it checks the
    link, so a revocation committed meanwhile cannot slip by.)"""
    return f"chatlink:{token_digest}"


def coach_of(topic: str) -> int | None:
    """The coach id of a ``coach(...)`` topic; None for any other topic."""
    if topic.startswith("coach:"):
        number = topic[6:]
        return int(number) if number.isdigit() else None
    return None


def is_local(topic: str) -> bool:
    return topic.startswith("local:")
