"""Typed settings: one schema, a documented default per key.

Sources, strongest first: ``ECOACH_*`` environment variables, files in the directory named
by ``ECOACH_SECRETS_DIR`` (one file per top-level key, named ``ecoach_<key>``, e.g. Docker's
``/run/secrets/ecoach_database_url``), the TOML file named by ``ECOACH_CONFIG`` (default
``config/ecoach.toml`` when present), then the defaults below. ``config/ecoach.example.toml``
documents every key.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ecoach.core.passkey_origin import NoRelyingParty, RelyingParty, relying_party

DEFAULT_CONFIG = Path("config/ecoach.toml")


class SettingsError(Exception):
    """A setting is invalid; the message names the key and fits on one line."""


class Mailbox(BaseModel):
    """One IMAP mailbox that coachees' mail arrives in."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("main", description="A short name for logs and the stored position")
    host: str = Field("127.0.0.1", description="IMAP server")
    port: int = Field(993, ge=1, le=65535, description="IMAP port")
    security: Literal["tls", "starttls", "none"] = Field("tls", description="Connection security")
    username: str = Field("", description="IMAP login")
    password: str = Field("", description="IMAP password")
    folder: str = Field("INBOX", description="Folder to read")
    processed_folder: str = Field(
        "ecoach-processed", description="Folder processed mail is moved to (created if missing)"
    )
    idle_seconds: int = Field(
        1500, ge=10, le=1740, description="Re-issue IMAP IDLE after this long (under 29 minutes)"
    )
    poll_seconds: int = Field(60, ge=1, description="Polling interval when the server has no IDLE")
    coach_email: str = Field(
        "", description="Coach who sees this mailbox's unplaceable mail; empty: the only coach"
    )

    @field_validator("processed_folder")
    @classmethod
    def _not_the_folder(cls, value: str, info) -> str:  # type: ignore[no-untyped-def]
        # Moving mail into the folder it is read from would read it again for ever.
        if value.strip().lower() == str(info.data.get("folder", "")).strip().lower():
            raise ValueError("must differ from folder")
        return value


class MailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(False, description="Run the mail channel (IMAP in, SMTP out)")
    domain: str = Field("localhost", description="Domain for Message-IDs and reply addresses")
    reply_local: str = Field("coach", description="Local part of the reply address")
    reply_form: str = Field(
        "{local}+{token}@{domain}", description="Form of the per-engagement reply address"
    )
    from_address: str = Field("", description="Sender address; empty means reply_local@domain")
    max_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Largest mail kept whole, bytes")
    max_text_chars: int = Field(
        100_000, ge=1000, description="Longest mail text shown in the logbook, characters (about 40 pages); a "
        "longer text is cut there with a note, and the whole mail stays downloadable"
    )
    notify_coach: Literal["immediate", "digest", "off"] = Field(
        "immediate", description="Mail the coach when a coachee writes"
    )
    digest_hour: int = Field(
        7, ge=0, le=23, description="With notify_coach = digest: hour of the daily digest (coach's time zone)"
    )
    notify_coachee_chat: bool = Field(
        True, description="Mail an offline coachee (with an address) when the coach chats"
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP relay host")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP relay port")
    smtp_security: Literal["none", "starttls", "tls"] = Field("none", description="SMTP security")
    smtp_username: str = Field("", description="SMTP login; empty means no authentication")
    smtp_password: str = Field("", description="SMTP password")
    smtp_timeout: float = Field(30.0, gt=0, description="Seconds before an SMTP attempt gives up")
    retry_base_seconds: float = Field(30.0, gt=0, description="First retry delay after a 4xx")
    retry_max_seconds: float = Field(3600.0, gt=0, description="Longest delay between retries")
    retry_max_attempts: int = Field(12, ge=1, description="Attempts before a mail is failed")
    mailboxes: list[Mailbox] = Field(
        default_factory=list, description="IMAP mailboxes to read ([[mail.mailboxes]] tables)"
    )
    reader_lease_seconds: float = Field(
        30.0, ge=1, description="One process at a time reads each IMAP mailbox; when it dies, another takes "
        "over within about 1.3 times this many seconds"
    )
    lmtp_enabled: bool = Field(False, description="Accept mail over LMTP from your own MTA")
    lmtp_process: str = Field(
        "", description="With several server processes: the process_name of the one that listens for LMTP "
        "(the others do not); empty: the process without a name"
    )
    lmtp_host: str = Field("127.0.0.1", description="LMTP listen address")
    lmtp_port: int = Field(8024, ge=1, le=65535, description="LMTP listen port")
    lmtp_coach_email: str = Field(
        "", description="Coach who sees LMTP mail no engagement claims; empty: the only coach"
    )

    @field_validator("reply_form")
    @classmethod
    def _reply_form(cls, value: str) -> str:
        if "{token}" not in value or "@" not in value:
            raise ValueError("must contain {token} and an @, e.g. {local}+{token}@{domain}")
        try:
            value.format(local="a", token="b", domain="c")
        except (KeyError, IndexError, ValueError):
            raise ValueError("may only use {local}, {token} and {domain}") from None
        return value

    @property
    def sender(self) -> str:
        return self.from_address or f"{self.reply_local}@{self.domain}"


class EventSettings(BaseModel):
    """Realtime events (chat, inbox updates, revocations) between server processes."""

    model_config = ConfigDict(extra="forbid")

    fanout: Literal["auto", "local"] = Field(
        "auto", description="auto: on PostgreSQL every process gets every event (LISTEN/NOTIFY); "
        "local: only the process that caused it (one process)"
    )
    ping_seconds: float = Field(
        10.0, gt=0, description="How often the connection that receives other processes' events is checked; "
        "after it drops, every open page resyncs"
    )
    reconnect_max_seconds: float = Field(30.0, gt=0, description="Longest wait between reconnection attempts")


class SchedulerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Run due tasks (reminders, nudges, digests) in this process")
    poll_seconds: float = Field(5.0, gt=0, description="Seconds between looks for due tasks")
    batch_size: int = Field(50, ge=1, le=10000, description="Tasks claimed at a time")
    concurrency: int = Field(
        4, ge=1, le=100, description="Tasks run at once on PostgreSQL (SQLite runs one at a time)"
    )
    lease_seconds: float = Field(
        300.0, ge=1, description="How long a claimed task is reserved; another process retries it after"
    )
    max_attempts: int = Field(8, ge=1, description="Attempts before a failing task is parked")
    retry_base_seconds: float = Field(30.0, gt=0, description="Delay before the first retry")
    retry_max_seconds: float = Field(3600.0, gt=0, description="Longest delay between retries")
    keep_done_days: int = Field(7, ge=1, description="Days finished tasks are kept for inspection")
    task_modules: str = Field(
        "", description="Extra modules (comma-separated) whose register_tasks(registry) adds handlers"
    )

    @field_validator("task_modules")
    @classmethod
    def _importable(cls, value: str) -> str:
        for name in (part.strip() for part in value.split(",")):
            if not name:
                continue
            try:
                found = importlib.util.find_spec(name) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                raise ValueError(f"module {name!r} cannot be imported")
        return value

    @property
    def module_names(self) -> list[str]:
        return [name.strip() for name in self.task_modules.split(",") if name.strip()]


class BookingSettings(BaseModel):
    """Booked video and phone sessions."""

    model_config = ConfigDict(extra="forbid")

    video_url_template: str = Field(
        "https://meet.jit.si/{room}",
        description="Video meeting link; {room} becomes an unguessable room name per session",
    )
    slot_step_minutes: int = Field(30, ge=5, le=240, description="Free slots start every this many minutes")
    change_cutoff_hours: int = Field(
        24, ge=0, description="A coachee can reschedule or cancel until this many hours before a session"
    )
    reminders: str = Field(
        "24h, 1h", description="Reminders before a session: durations like 24h, 1h, 30m; empty for none"
    )
    reminder_channel: Literal["mail", "chat"] = Field(
        "mail", description="Reminders go by mail (by chat when there is no address) or always by chat"
    )
    link_days: int = Field(0, ge=0, description="Days a new booking link stays valid; 0 means until replaced")
    days_per_page: int = Field(7, ge=1, le=31, description="Days of free slots shown on one booking page")

    @field_validator("video_url_template")
    @classmethod
    def _template(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")) or "{room}" not in value:
            raise ValueError("must be an http(s) URL containing {room}")
        return value

    @field_validator("reminders")
    @classmethod
    def _reminders(cls, value: str) -> str:
        parse_durations(value)
        return value

    @property
    def reminder_offsets(self) -> list[int]:
        """Minutes before a session, largest first."""
        return parse_durations(self.reminders)


class BillingSettings(BaseModel):
    """Bundles, time spent and invoices (each coach sets their practice details in ecoach)."""

    model_config = ConfigDict(extra="forbid")

    refuse_booking_when_used_up: bool = Field(
        False, description="Default for new practices: refuse a coachee's booking when their bundle's sessions "
        "are used up (each coach can change it on the practice page)"
    )
    warn_coachee: bool = Field(
        False, description="Default for new practices: also tell the coachee in the chat when their bundle "
        "runs low or is used up"
    )
    low_sessions: int = Field(1, ge=0, le=100, description="A bundle is low with this many sessions left (or fewer)")
    low_minutes: int = Field(
        30, ge=0, le=6000, description="A bundle is low with this many minutes of written coaching left (or fewer)"
    )
    low_days: int = Field(14, ge=0, le=365, description="A subscription is low this many days before it ends")
    words_per_minute: int = Field(
        20, ge=1, le=500, description="Reply time estimate: words a coach writes per minute (the coach confirms it)"
    )
    minimum_reply_minutes: int = Field(5, ge=0, le=600, description="Reply time estimate: at least this many minutes")
    payment_days: int = Field(14, ge=0, le=120, description="Default for new practices: days until an invoice is due")


_UNITS = {"d": 1440, "h": 60, "m": 1}


def parse_durations(text: str) -> list[int]:
    """"24h, 1h, 30m" -> [1440, 60, 30] (minutes, largest first, no repeats)."""
    found: set[int] = set()
    for part in filter(None, (p.strip().lower() for p in text.split(","))):
        number, unit = part[:-1].strip(), part[-1:]
        if unit not in _UNITS or not number.isdigit() or int(number) == 0:
            raise ValueError(f"not a duration: {part!r} (use e.g. 24h, 1h, 30m, 2d)")
        found.add(int(number) * _UNITS[unit])
    return sorted(found, reverse=True)


class NudgeSettings(BaseModel):
    """Encouragement nudges: plans, action-step follow-ups and re-engagement check-ins."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Send nudges (plans, action-step follow-ups, check-ins)")
    quiet_start: str = Field("21:00", description="Start of the night in the coachee's time zone: no nudges")
    quiet_end: str = Field("08:00", description="End of the night; a nudge due at night goes out then")
    default_time: str = Field("09:00", description="Time of day for new plans and action-step follow-ups")
    silence_days: int = Field(
        14, ge=0, le=365, description="Days without contact before a check-in (new engagements); 0: none"
    )
    upcoming: int = Field(3, ge=1, le=20, description="Planned nudges kept ahead (and shown to the coach)")
    pause_link_days: int = Field(
        180, ge=0, description="Days the pause link in a nudge keeps working; 0 means always"
    )
    checkin_batch: int = Field(500, ge=1, description="Check-ins planned per run of the re-engagement check")

    @field_validator("quiet_start", "quiet_end", "default_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        hours, sep, minutes = value.partition(":")
        if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2
                and int(hours) < 24 and int(minutes) < 60):
            raise ValueError("must be a time of day like 09:00")
        return f"{int(hours):02d}:{minutes}"


class SessionSettings(BaseModel):
    """The structure of booked sessions: check-in before, close and feedback after, reviews
    every few sessions; links to the coachee's forms (check-in, feedback, evaluation)."""

    model_config = ConfigDict(extra="forbid")

    checkin_before: str = Field(
        "2d", description="The check-in form goes to the coachee this long before a session (e.g. 2d, 24h); "
        "a session booked later gets it at once"
    )
    feedback_after_minutes: int = Field(
        30, ge=0, le=7 * 24 * 60, description="Minutes after a session's end that the feedback form goes out"
    )
    review_every: int = Field(
        4, ge=0, le=100, description="After every this many sessions the coach is asked to review the goals; 0: never"
    )
    form_link_days: int = Field(
        14, ge=1, le=365, description="Days a feedback, evaluation or questionnaire link keeps working (a "
        "check-in link works until its session ends)"
    )

    @field_validator("checkin_before")
    @classmethod
    def _before(cls, value: str) -> str:
        if len(parse_durations(value)) != 1:
            raise ValueError("must be one duration like 2d, 24h or 90m")
        return value

    @property
    def checkin_minutes(self) -> int:
        return parse_durations(self.checkin_before)[0]


class AgreementSettings(BaseModel):
    """Availability agreements and response-time commitments (coaches set their own
    windows and promises on the availability page)."""

    model_config = ConfigDict(extra="forbid")

    remind_by_mail: bool = Field(
        True, description="Mail the coach before an answer is due (with mail enabled); the inbox shows it always"
    )
    ics_max_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest .ics file accepted when importing absences, bytes"
    )
    report_months: int = Field(12, ge=1, le=60, description="Months shown on the commitments report")


class ContractSettings(BaseModel):
    """Coaching contracts: the personal links through which the coachee and the sponsor
    read and accept a contract (the sponsor's also shows what the contract lets them see)."""

    model_config = ConfigDict(extra="forbid")

    coachee_link_days: int = Field(
        90, ge=0, description="Days a coachee's contract link stays valid; 0 means until replaced"
    )
    sponsor_link_days: int = Field(
        365, ge=0, description="Days a sponsor's link stays valid; 0 means until replaced"
    )


class AccountSettings(BaseModel):
    """Coach accounts: sessions, two-factor authentication, password reset, login limits."""

    model_config = ConfigDict(extra="forbid")

    session_idle_minutes: int = Field(
        60, ge=1, description="Minutes without activity after which a login ends"
    )
    require_2fa: bool = Field(
        False, description="Every coach must set up two-factor authentication before using ecoach"
    )
    account_login_attempts: int = Field(
        20, ge=1, description="Failed logins for one account (from any client) before it slows down"
    )
    account_login_interval_seconds: int = Field(
        30, ge=1, le=3600,
        description="Once slowed down: one password check per this many seconds for the account",
    )
    password_hash_workers: int = Field(
        2, ge=1, le=64, description="Password checks run at once (threads, off the event loop)"
    )
    password_hash_queue: int = Field(
        32, ge=1, description="Password checks that may wait for a worker; more are refused (429)"
    )
    reset_token_minutes: int = Field(
        30, ge=5, le=24 * 60, description="Minutes a password-reset link keeps working"
    )
    invite_days: int = Field(7, ge=1, le=60, description="Days an invitation to a new coach keeps working")
    passkeys: bool = Field(
        True, description="Offer passkeys (WebAuthn) as a second factor; they need public_url to be https with a "
        "host name (or http://localhost)"
    )
    passkey_rp_id: str = Field(
        "", description="The passkeys' RP ID: empty means public_url's host name; or a domain that host belongs "
        "to (coach.example.org -> example.org). Changing it later makes the passkeys made before unusable"
    )


class LimitSettings(BaseModel):
    """Limits on connections and slow clients."""

    model_config = ConfigDict(extra="forbid")

    sockets_per_link: int = Field(
        10, ge=1, description="Open chat sockets per coachee chat link (and per coach), per server process"
    )
    sockets_per_client: int = Field(
        50, ge=1, description="Open websockets per client address, per server process"
    )
    handshakes_per_minute: int = Field(
        120, ge=1, description="Websocket handshakes one client address may start per minute"
    )
    body_timeout_seconds: float = Field(
        30.0, gt=0, description="Seconds a request body may take to arrive (slow clients get 408)"
    )
    idle_connection_seconds: float = Field(
        30.0, gt=0, description="Seconds an idle HTTP connection (or one that sends no request) stays open"
    )
    json_max_depth: int = Field(32, ge=2, le=200, description="Deepest nesting accepted in JSON bodies and frames")
    connections_per_client: int = Field(
        200, ge=1, description="Open TCP connections one client address may hold (not for trusted_proxies)"
    )
    connections_per_second: float = Field(
        20.0, gt=0, description="New TCP connections per second one client address may open (bursts of twice that)"
    )

class MetricsSettings(BaseModel):
    """``GET /metrics`` in Prometheus' text format (counts and states, never a coach's or
    a coachee's data)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(False, description="Serve /metrics (Prometheus text format); off: 404")
    allowed_networks: str = Field(
        "127.0.0.1/32, ::1/128", description="Client addresses or networks (comma-separated) that may read "
        "/metrics without a token (the client as trusted_proxies tell it); empty: only with the token"
    )
    token_file: str = Field(
        "", description="File holding a bearer token: a request with 'Authorization: Bearer <token>' may "
        "read /metrics from anywhere; empty: no token"
    )

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"not an address or network: {part!r}") from None
        return value

    @field_validator("token_file")
    @classmethod
    def _readable(cls, value: str) -> str:
        if value and not Path(value).is_file():
            raise ValueError(f"file {value!r} does not exist")
        return value

    @property
    def networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(p.strip(), strict=False)
                     for p in self.allowed_networks.split(",") if p.strip())

    def token(self) -> str | None:
        """The bearer token (read when the server starts), or None without token_file."""
        if not self.token_file:
            return None
        token = Path(self.token_file).read_text().strip()
        if len(token) < 16:
            raise SettingsError(f"setting 'metrics.token_file': the token in {self.token_file!r} is shorter "
                                "than 16 characters")
        return token


class WebhookSettings(BaseModel):
    """Outgoing webhooks: each coach's integrations get signed HTTP POSTs of chosen events."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Coaches may add webhook endpoints and deliveries are sent")
    allow_private_addresses: bool = Field(
        False, description="Allow endpoints on private, loopback and link-local addresses (only for "
        "integrations inside your own network; off protects the internal network from coaches' URLs)"
    )
    timeout_seconds: float = Field(10.0, gt=0, le=60, description="Seconds one delivery may take")
    max_attempts: int = Field(8, ge=1, le=50, description="Attempts before a delivery is parked as failed")
    retry_base_seconds: float = Field(30.0, gt=0, description="Delay before the first retry (doubling after)")
    retry_max_seconds: float = Field(3600.0, gt=0, description="Longest delay between retries")
    disable_after_hours: float = Field(
        72.0, gt=0, description="An endpoint whose deliveries have all failed for this long is turned off "
        "(the coach is told)"
    )
    endpoints_per_coach: int = Field(10, ge=1, le=100, description="Endpoints one coach may have")
    keep_days: int = Field(30, ge=1, description="Days delivered and failed deliveries stay listed")


class ExportSettings(BaseModel):
    """The coachee's data package (right of access and portability)."""

    model_config = ConfigDict(extra="forbid")

    link_hours: int = Field(
        168, ge=1, le=24 * 90, description="Hours the coachee's download link for an approved data package works"
    )
    include_private_notes: bool = Field(
        False, description="Put the coach's private notes and internal entries (e.g. a missed deadline) in the "
        "coachee's data package; off: they are the coach's personal working notes and stay out"
    )


class RetentionSettings(BaseModel):
    """How long a closed engagement's logbook is kept before it is erased."""

    model_config = ConfigDict(extra="forbid")

    erase_after_months: int = Field(
        0, ge=0, le=1200, description="Erase an engagement this many months after it was closed (each engagement "
        "can choose otherwise); 0: never erase automatically"
    )
    warn_days: int = Field(
        14, ge=1, le=90, description="Days before an erasure the coach is warned (inbox, and mail when on) and can "
        "extend; an erasure never comes sooner than this after its warning"
    )


class FilesSettings(BaseModel):
    """Files sent in the chat and kept in the resource library."""

    model_config = ConfigDict(extra="forbid")

    max_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Largest file accepted (chat and library), bytes")
    allowed_types: str = Field(
        "pdf, png, jpg, jpeg, gif, webp, docx, xlsx, pptx, odt, ods, odp, txt, csv",
        description="Accepted file extensions, comma-separated; each file's content must match its "
        "extension (known: pdf, png, jpg, jpeg, gif, webp, docx, xlsx, pptx, odt, ods, odp, txt, csv, md)",
    )
    max_unpacked_bytes: int = Field(
        100 * 1024 * 1024, ge=1024, description="Office files (ZIP inside): the most they may unpack to, bytes"
    )
    max_ratio: int = Field(250, ge=2, description="Office files: the highest compression ratio of any part")
    max_image_pixels: int = Field(40_000_000, ge=10_000, description="Largest image accepted, in pixels")
    preview_size: int = Field(480, ge=64, le=2048, description="Image previews fit in a square this many pixels wide")
    upload_timeout_seconds: float = Field(
        300.0, gt=0, description="Seconds a file upload may take to arrive (slow phones get this long)"
    )
    mail_attach_max_bytes: int = Field(
        5 * 1024 * 1024, ge=0, description="A file shared by mail goes as an attachment up to this size, bytes; "
        "larger ones as a link to the coachee's chat"
    )

    @field_validator("allowed_types")
    @classmethod
    def _known_types(cls, value: str) -> str:
        from ecoach.core.files import KNOWN

        for part in filter(None, (p.strip().lower().lstrip(".") for p in value.split(","))):
            if part not in KNOWN:
                raise ValueError(f"unknown file type {part!r} (known: {', '.join(KNOWN)})")
        return value

    @property
    def rules(self):  # type: ignore[no-untyped-def]
        """The limits as ``ecoach.core.files.FileRules``."""
        from ecoach.core.files import FileRules

        allowed = tuple(p.strip().lower().lstrip(".") for p in self.allowed_types.split(",") if p.strip())
        return FileRules(max_bytes=self.max_bytes, allowed=allowed, max_unpacked_bytes=self.max_unpacked_bytes,
                         max_ratio=self.max_ratio, max_image_pixels=self.max_image_pixels,
                         preview_size=self.preview_size)


class ClockSettings(BaseModel):
    """For tests and demonstrations only: run as if it were another moment."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(
        "", description="Run as if it were this instant (ISO 8601 with its offset, e.g. 2026-03-29T01:30:00+01:00); "
        "empty: the real time. For tests and demonstrations only"
    )
    runs: bool = Field(
        False, description="With start set: time runs on from it at the real pace; false: it stands still"
    )

    @field_validator("start")
    @classmethod
    def _instant(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO 8601 instant like 2026-03-29T01:30:00+01:00") from None
        if moment.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-03-29T01:30:00+01:00 or ...Z")
        return value

    @property
    def start_at(self) -> datetime | None:
        return datetime.fromisoformat(self.start) if self.start else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ECOACH_", extra="forbid", env_nested_delimiter="__"
    )

    database_url: str = Field(
        "sqlite+aiosqlite:///./ecoach.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db",
    )
    host: str = Field("127.0.0.1", description="Address the web server listens on")
    process_name: str = Field(
        "", description="This server process's name (also: ecoach serve --name), e.g. to choose the one that "
        "listens for LMTP; empty: none"
    )
    port: int = Field(8080, ge=1, le=65535, description="Port the web server listens on")
    public_url: str = Field(
        "", description="Base URL used in links sent to coachees; empty means http://host:port"
    )
    secret_key: str = Field(
        "", description="Key for session cookies; empty means read or create secret_key_file"
    )
    secret_key_file: str = Field(
        "./ecoach-secret.key", description="File that holds the secret key (created 0600)"
    )
    master_key_file: str = Field(
        "", description="File with the master keys that protect personal data at rest: one id:key a line "
        "(ecoach keys new makes one), the first wraps new data keys; read again when a data key needs a "
        "master key this process has not read yet. Keep it apart from the database and its backups"
    )
    master_keys: str = Field(
        "", description="The master keys themselves (id:key, comma-separated, the first current) instead of "
        "master_key_file; used together with it, these come first"
    )
    allow_plaintext: bool = Field(
        False, description="Without a master key, start anyway and store personal data readable (development "
        "and tests of plaintext mode only); without it and without a key, the server refuses to start"
    )
    key_cache_size: int = Field(
        10000, ge=100, description="Unwrapped data keys kept in memory per process (one per engagement, coachee "
        "and coach in use)"
    )
    auto_migrate: bool = Field(True, description="Apply database migrations at start-up")
    default_language: Literal["nl", "en"] = Field("nl", description="Language for new coaches")
    default_time_zone: str = Field("Europe/Amsterdam", description="IANA time zone for new coaches")
    max_message_chars: int = Field(
        20000, ge=1, le=1_000_000, description="Longest chat or reply message accepted"
    )
    chat_link_days: int = Field(
        0, ge=0, description="Days a new chat link stays valid; 0 means until revoked"
    )
    login_attempts: int = Field(
        5, ge=1, description="Failed logins allowed per window for one account from one client"
    )
    login_window_seconds: int = Field(300, ge=1, description="Window for counting failed logins")
    session_max_age_hours: int = Field(
        12, ge=1, description="Hours a coach login lasts at most, active or not (absolute lifetime)"
    )
    trusted_proxies: str = Field(
        "127.0.0.1, ::1", description="Reverse proxies (addresses or networks, comma-separated) whose "
        "X-Forwarded-For names the client (the default: a proxy on this machine, as deploy/nginx.conf); "
        "empty: always the connection's address",
    )
    secure_cookies: bool = Field(
        False, description="Mark cookies Secure (set true behind HTTPS)"
    )
    inbox_page_size: int = Field(50, ge=1, le=500, description="Engagements per inbox page")
    timeline_page_size: int = Field(100, ge=1, le=1000, description="Exchanges per timeline page")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Logging level"
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines on stderr: text, or json (one object a line: time, level, logger, "
        "message, exception)"
    )
    mail: MailSettings = Field(default_factory=MailSettings, description="The mail channel")
    scheduler: SchedulerSettings = Field(
        default_factory=SchedulerSettings, description="The durable task runner"
    )
    booking: BookingSettings = Field(
        default_factory=BookingSettings, description="Booked video and phone sessions"
    )
    nudges: NudgeSettings = Field(
        default_factory=NudgeSettings, description="Encouragement nudges and re-engagement check-ins"
    )
    sessions: SessionSettings = Field(
        default_factory=SessionSettings, description="Session structure: check-ins, feedback, goal reviews"
    )
    agreements: AgreementSettings = Field(
        default_factory=AgreementSettings, description="Availability agreements and response-time commitments"
    )
    contract: ContractSettings = Field(
        default_factory=ContractSettings, description="Coaching contracts: the coachee's and sponsor's links"
    )
    accounts: AccountSettings = Field(
        default_factory=AccountSettings, description="Coach accounts: sessions, 2FA, password reset, login limits"
    )
    limits: LimitSettings = Field(default_factory=LimitSettings, description="Limits on connections and slow clients")
    clock: ClockSettings = Field(
        default_factory=ClockSettings, description="Tests and demonstrations only: run at another moment"
    )
    events: EventSettings = Field(
        default_factory=EventSettings, description="Realtime events between server processes"
    )
    metrics: MetricsSettings = Field(
        default_factory=MetricsSettings, description="Prometheus metrics at /metrics"
    )
    webhooks: WebhookSettings = Field(
        default_factory=WebhookSettings, description="Outgoing webhooks for coaches' integrations"
    )
    export: ExportSettings = Field(
        default_factory=ExportSettings, description="The coachee's data package (right of access and portability)"
    )
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings, description="Erasing closed engagements after a while"
    )
    billing: BillingSettings = Field(
        default_factory=BillingSettings, description="Bundles, time spent and invoices"
    )
    files: FilesSettings = Field(
        default_factory=FilesSettings, description="Files in the chat and the resource library: sizes and types"
    )

    _secret: str | None = PrivateAttr(None)

    @field_validator("default_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"not an address or network: {part!r}") from None
        return value

    @property
    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in self.trusted_proxies.split(",") if p.strip())

    @model_validator(mode="after")
    def _passkey_party(self) -> Settings:
        if self.accounts.passkey_rp_id:  # named on purpose: it must fit public_url
            try:
                relying_party(self.base_url, self.accounts.passkey_rp_id)
            except NoRelyingParty as exc:
                raise ValueError(str(exc)) from None
        return self

    @property
    def passkey_party(self) -> RelyingParty | None:
        """Who passkeys are made for, or None when this server cannot offer them."""
        if not self.accounts.passkeys:
            return None
        try:
            return relying_party(self.base_url, self.accounts.passkey_rp_id)
        except NoRelyingParty:
            return None

    @field_validator("database_url")
    @classmethod
    def _supported_db(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = Path(os.environ.get("ECOACH_CONFIG", DEFAULT_CONFIG))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, file_secret_settings]
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def max_request_bytes(self) -> int:
        """The largest request body the web server reads (deploy/nginx.conf's client_max_body_size
        matches it at the defaults)."""
        return max(1024**2, self.max_message_chars * 8)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def resolved_secret(self) -> str:
        """Resolve the secret key, once (``build_app`` and the commands do it at start-up):
        ``secret_key``, else ``secret_key_file``, created on first use. Later calls, and
        ``secret``, return the key resolved then: no file is read per request."""
        if self._secret is None:
            self._secret = self.secret_key or _read_or_create(Path(self.secret_key_file))
        return self._secret

    @property
    def secret(self) -> str:
        """The secret key resolved at start-up (resolved now if nothing did yet)."""
        return self._secret if self._secret is not None else self.resolved_secret()


def _read_or_create(path: Path) -> str:
    if path.is_file():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def load_settings(**overrides: object) -> Settings:
    """Load settings or raise SettingsError with one line naming the bad key."""
    config = os.environ.get("ECOACH_CONFIG")
    if config and not Path(config).is_file():
        raise SettingsError(f"ECOACH_CONFIG: file {config!r} does not exist")
    secrets_dir = os.environ.get("ECOACH_SECRETS_DIR")
    if secrets_dir:
        if not Path(secrets_dir).is_dir():
            raise SettingsError(f"ECOACH_SECRETS_DIR: directory {secrets_dir!r} does not exist")
        overrides.setdefault("_secrets_dir", secrets_dir)
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first["loc"]:  # a check across keys: its message names them
            raise SettingsError(str(first["msg"]).removeprefix("Value error, ")) from None
        key = ".".join(str(part) for part in first["loc"]) or "?"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise SettingsError(
            f"setting {key!r} (env ECOACH_{key.upper().replace('.', '__')}): {first['msg']}{more}"
        ) from None
    except (ValueError, OSError) as exc:  # e.g. a TOML syntax error
        raise SettingsError(f"configuration file: {exc}") from None


def example_toml() -> str:
    """The documented example configuration: every key, its default, what it means."""
    lines = [
        "# ecoach configuration. Copy to config/ecoach.toml (or point ECOACH_CONFIG at a file)",
        "# and change what you need; every key below shows its default. Each key can also be",
        "# set with an environment variable: ECOACH_<KEY IN CAPITALS>, e.g. ECOACH_PORT=9000;",
        "# keys in a [section] use a double underscore: ECOACH_MAIL__SMTP_HOST=relay.example.org.",
        "# Secrets can come from files instead: with ECOACH_SECRETS_DIR=/run/secrets, the file",
        "# /run/secrets/ecoach_database_url sets database_url (any top-level key: ecoach_<key>).",
        "",
    ]
    _describe(Settings, lines, env="ECOACH_", section="")
    return "\n".join(lines)


def _describe(model: type[BaseModel], lines: list[str], *, env: str, section: str) -> None:
    nested = []
    for name, field in model.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            nested.append((name, type(default)))
            continue
        if isinstance(default, list):
            item = field.annotation.__args__[0]  # type: ignore[union-attr]
            nested.append((name, item))
            continue
        lines.append(f"# {field.description}")
        lines.append(f"# env: {env}{name.upper()}")
        lines.append(f"{name} = {_toml_value(default)}")
        lines.append("")
    for name, sub in nested:
        field = model.model_fields[name]
        header = f"{section}.{name}" if section else name
        if isinstance(field.get_default(call_default_factory=True), list):
            lines.append(f"# {field.description}; one table per mailbox, for example:")
            sub_lines: list[str] = []
            _describe(sub, sub_lines, env="(list) ", section=header)
            lines.append(f"# [[{header}]]")
            lines.extend(("# " + line if line and not line.startswith("#") else line)
                         for line in sub_lines if not line.startswith("# env:"))
            continue
        lines.append(f"[{header}]")
        lines.append(f"# {field.description}")
        lines.append("")
        _describe(sub, lines, env=f"{env}{name.upper()}__", section=header)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
