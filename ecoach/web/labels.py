"""Display names of stored vocabulary values, marked for translation."""

from __future__ import annotations

from typing import Any

from ecoach.actions.errors import N_

CHANNELS = {
    "chat": N_("chat"),
    "mail": N_("mail"),
    "video": N_("video"),
    "phone": N_("phone"),
    "system": N_("system"),
    "note": N_("note"),
    "form": N_("form"),
}
STATUSES = {"active": N_("active"), "paused": N_("paused"), "closed": N_("closed")}
DELIVERY = {
    "stored": N_("stored"),
    "queued": N_("queued"),
    "sent": N_("sent"),
    "retrying": N_("retrying"),
    "failed": N_("failed"),
}
PRIVATE_NOTE = N_("Private note")


def channel_labels(gettext: Any) -> dict[str, str]:
    """Labels the timeline script needs: channels, and delivery states as state_*."""
    labels = {key: gettext(label) for key, label in CHANNELS.items()}
    labels.update({f"state_{key}": gettext(label) for key, label in DELIVERY.items()})
    labels["private_note"] = gettext(PRIVATE_NOTE)
    return labels
