"""The audit trail's pure rules: what kinds of entry exist, what an entry may hold, and
how the chain of hashes is computed.

An entry is content-free by construction: besides ids (coach, actor, engagement) and the
client's address and device summary, it carries only a small ``detail`` mapping whose
values are whole numbers, booleans or short lowercase codes (``[a-z0-9_.:-]``, at most 40
characters). Message text, search words, names and e-mail addresses cannot pass that
check (a space, a capital or an ``@`` is refused), so they can never end up in the trail.

Each entry's hash is SHA-256 over a canonical JSON encoding of its fields *and the hash
of the entry before it*: changing, removing or reordering any stored entry breaks the
chain from there on (``verify_entries``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any



def N_(message: str) -> str:
    """Marks a message for extraction (pybabel -k N_); translated where it is shown."""
    return message


GENESIS = "0" * 64  # the "previous hash" of the first entry
FORMAT = 1  # part of every hash: a later encoding can tell its entries apart
VIAS = ("web", "api", "cli", "task", "system")

# Kinds, by group (the trail page filters by group). Kinds other areas record are listed
# here too, so the page can name them: export and erasure (issue 9), webhooks.
GROUPS: dict[str, tuple[str, ...]] = {
    "view": ("engagement_viewed", "timeline_viewed", "attachment_viewed", "original_viewed",
             "quarantine_viewed", "quarantine_original_viewed", "supervision_viewed"),
    "search": ("search",),
    "export": ("export", "export_anonymised"),
    "erasure": ("erasure",),
    "agreement": ("availability_changed", "absence_changed", "commitments_changed", "nudge_plan_changed",
                  "nudges_paused", "nudges_resumed", "nudge_changed", "session_type_changed",
                  "booking_profile_changed"),
    "token": ("chat_link_created", "chat_link_revoked", "booking_link_created", "calendar_feed_created",
              "api_token_created", "api_token_revoked", "webhook_changed", "reset_link_requested"),
    "login": ("login", "login_failed", "session_ended"),
    "account": ("password_changed", "password_reset", "two_factor_enabled", "two_factor_disabled",
                "recovery_codes_renewed", "passkey_added", "passkey_removed"),
    "crisis": ("crisis_flagged", "crisis_false_alarm", "crisis_handled", "crisis_resources_changed"),
    "admin": ("coach_added", "coach_invited", "coach_deactivated", "coach_reactivated", "role_changed",
              "engagements_handed_over", "quarantine_handed"),
    "team": ("co_coach_added", "co_coach_removed", "supervisor_added", "supervisor_removed", "supervision_shared",
             "supervision_withdrawn", "group_member_added", "group_member_removed"),
}
GROUP_OF = {kind: group for group, kinds in GROUPS.items() for kind in kinds}
KINDS = frozenset(GROUP_OF)

GROUP_LABELS = {
    "view": N_("Viewed"), "search": N_("Searches"), "export": N_("Exports"), "erasure": N_("Erasures"),
    "agreement": N_("Agreements"), "token": N_("Links and tokens"), "login": N_("Logins"),
    "account": N_("Password and 2FA"), "crisis": N_("Crisis signals"), "admin": N_("Administration"),
    "team": N_("Co-coaches, supervision and groups"),
}
KIND_LABELS = {
    "engagement_viewed": N_("Opened an engagement"),
    "timeline_viewed": N_("Read a timeline through the API"),
    "attachment_viewed": N_("Downloaded an attachment"),
    "original_viewed": N_("Opened an original mail"),
    "quarantine_viewed": N_("Opened the quarantine"),
    "quarantine_original_viewed": N_("Opened a quarantined mail"),
    "search": N_("Searched the logbook"),
    "export": N_("Exported an engagement"),
    "export_anonymised": N_("Made an anonymised export"),
    "erasure": N_("Erased data"),
    "availability_changed": N_("Changed working hours"),
    "absence_changed": N_("Changed days off or absence"),
    "commitments_changed": N_("Changed response times"),
    "nudge_plan_changed": N_("Changed a nudge plan"),
    "nudges_paused": N_("Nudges paused"),
    "nudges_resumed": N_("Nudges resumed"),
    "nudge_changed": N_("Changed a planned nudge"),
    "session_type_changed": N_("Changed a kind of session"),
    "booking_profile_changed": N_("Changed the meeting room or phone number"),
    "chat_link_created": N_("Made a new chat link"),
    "chat_link_revoked": N_("Withdrew a chat link"),
    "booking_link_created": N_("Made a new booking link"),
    "calendar_feed_created": N_("Made a new calendar feed address"),
    "api_token_created": N_("Created an API token"),
    "api_token_revoked": N_("Revoked an API token"),
    "webhook_changed": N_("Changed a webhook"),
    "reset_link_requested": N_("A password reset link was asked for"),
    "login": N_("Logged in"),
    "login_failed": N_("Failed login"),
    "session_ended": N_("Login ended"),
    "password_changed": N_("Changed the password"),
    "password_reset": N_("Set a password from a mailed link"),
    "two_factor_enabled": N_("Turned on two-factor authentication"),
    "two_factor_disabled": N_("Turned off two-factor authentication"),
    "recovery_codes_renewed": N_("Made new recovery codes"),
    "passkey_added": N_("Added a passkey"),
    "passkey_removed": N_("Removed a passkey"),
    "crisis_flagged": N_("A crisis signal was recognised"),
    "crisis_false_alarm": N_("Marked a crisis signal as a false alarm"),
    "crisis_handled": N_("Marked a crisis signal as handled"),
    "crisis_resources_changed": N_("Changed the crisis resources"),
    "coach_added": N_("Coach added"),
    "coach_invited": N_("Coach invited"),
    "coach_deactivated": N_("Coach deactivated"),
    "coach_reactivated": N_("Coach reactivated"),
    "role_changed": N_("Role changed"),
    "engagements_handed_over": N_("Engagements handed over"),
    "quarantine_handed": N_("Held mail handed to a coach"),
    "supervision_viewed": N_("Read what was shared for supervision"),
    "co_coach_added": N_("Added a co-coach"),
    "co_coach_removed": N_("Removed a co-coach"),
    "supervisor_added": N_("Added a supervisor"),
    "supervisor_removed": N_("Removed a supervisor"),
    "supervision_shared": N_("Shared exchanges with a supervisor"),
    "supervision_withdrawn": N_("Stopped sharing with a supervisor"),
    "group_member_added": N_("Added a coachee to a group"),
    "group_member_removed": N_("Removed a coachee from a group"),
}
VIA_LABELS = {"web": N_("browser"), "api": N_("API"), "cli": N_("command line"), "task": N_("scheduled task"),
              "system": N_("system")}

_CODE = re.compile(r"[a-z0-9_.:-]{1,40}")
_KEY = re.compile(r"[a-z][a-z0-9_]{0,23}")
MAX_DETAIL_KEYS = 8
MAX_INT = 2**63 - 1


class AuditError(ValueError):
    """A programming error: an entry that would not be content-free, or an unknown kind."""


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise AuditError(f"unknown audit kind {kind!r}")
    return kind


def check_detail(detail: Mapping[str, Any]) -> dict[str, Any]:
    """The detail as stored, or AuditError when any value could carry content."""
    if len(detail) > MAX_DETAIL_KEYS:
        raise AuditError("an audit entry holds at most %d details" % MAX_DETAIL_KEYS)
    checked: dict[str, Any] = {}
    for key, value in detail.items():
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise AuditError(f"audit detail key {key!r} is not a short lowercase name")
        if value is None:
            continue
        if isinstance(value, bool):
            checked[key] = value
        elif isinstance(value, int):
            if not -MAX_INT <= value <= MAX_INT:
                raise AuditError(f"audit detail {key} is out of range")
            checked[key] = value
        elif isinstance(value, str) and _CODE.fullmatch(value):
            checked[key] = value
        else:
            raise AuditError(f"audit detail {key} must be a number, a boolean or a short code, not {value!r:.40}")
    return checked


@dataclass(frozen=True)
class Entry:
    """One entry's fields as hashed (the stored row holds the same)."""

    seq: int
    at: datetime
    kind: str
    actor_id: int | None
    coach_id: int | None
    engagement_id: int | None
    detail: dict[str, Any]
    via: str
    client: str
    device: str


def at_text(at: datetime) -> str:
    if at.tzinfo is None:
        raise AuditError("naive datetime in an audit entry")
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(entry: Entry, prev_hash: str) -> bytes:
    """The bytes an entry's hash is computed over: a JSON array in a fixed order, sorted
    detail keys, no spaces, ASCII only (the same bytes whatever the database returns)."""
    fields = [FORMAT, entry.seq, at_text(entry.at), entry.kind, entry.actor_id, entry.coach_id,
              entry.engagement_id, entry.detail, entry.via, entry.client, entry.device, prev_hash]
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def entry_hash(entry: Entry, prev_hash: str) -> str:
    return hashlib.sha256(canonical(entry, prev_hash)).hexdigest()


@dataclass(frozen=True)
class Stored:
    """An entry as read back from the database, with the hashes stored beside it."""

    entry: Entry
    prev_hash: str
    hash: str


@dataclass
class Verdict:
    """The outcome of checking a chain: ``broken`` is None when every link holds."""

    checked: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    broken: str | None = None
    broken_at: int | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_entries(rows: Iterable[Stored], verdict: Verdict | None = None) -> Verdict:
    """Check entries in ``seq`` order, continuing ``verdict`` (for batches). Stops at the
    first broken link and says where and why."""
    verdict = verdict or Verdict()
    for row in rows:
        if verdict.broken is not None:
            break
        seq = row.entry.seq
        expected = verdict.last_seq + 1
        if seq != expected:
            _break(verdict, expected, f"entry {expected} is missing (the next entry is {seq})")
        elif row.prev_hash != verdict.last_hash:
            _break(verdict, seq, f"entry {seq} does not follow entry {seq - 1} (its previous hash differs)")
        elif entry_hash(row.entry, row.prev_hash) != row.hash:
            _break(verdict, seq, f"entry {seq} was changed after it was written (its hash does not match)")
        else:
            verdict.checked += 1
            verdict.last_seq, verdict.last_hash = seq, row.hash
    return verdict


def _break(verdict: Verdict, seq: int, reason: str) -> None:
    verdict.broken, verdict.broken_at = reason, seq
