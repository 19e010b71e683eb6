"""One contract version as a document: what the printable page and the PDF both show.

Pure data, built by ``ecoach.actions.contract_view`` from the logbook. The document is in
the contract's language whoever reads it; the sponsor's document leaves out the goals
unless the contract lets the sponsor see them (and never shows scores).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

from ecoach.core.crisis.resources import CrisisResource


def N_(message: str) -> str:
    return message


# Headings and sentences of the document (catalogue contract.po), shared by page and PDF.
TITLE = N_("Coaching contract")
VERSION = N_("Version %(version)s")
FINGERPRINT = N_("Fingerprint (SHA-256) of this version: %(fingerprint)s")
PARTIES = N_("Parties")
COACH, COACHEE, SPONSOR = N_("Coach"), N_("Coachee"), N_("Sponsor")
GOALS = N_("Goals")
GOAL = N_("Goal %(n)s")
INDICATORS = N_("How will you notice it is reached?")
SCORE = N_("Score now: %(score)s out of 10")
ASKS = N_("What we ask of each other")
ASKS_OF = {"coach": N_("Of the coach"), "coachee": N_("Of the coachee"), "sponsor": N_("Of the sponsor")}
PRACTICAL = N_("Practicalities")
SESSIONS = N_("Number of sessions: %(n)s")
RHYTHM = N_("Rhythm: %(rhythm)s")
DURATION = N_("Duration of a session: %(minutes)s minutes")
END_DATE = N_("End date: %(date)s")
CHANNELS = N_("Channels: %(channels)s")
CHANNEL_NAMES = {"chat": N_("chat"), "mail": N_("mail"), "video": N_("video"), "phone": N_("phone"),
                 "in_person": N_("in person")}
AVAILABILITY = N_("Availability and response times")
AVAILABILITY_NOTE = N_("These agreements are kept by ecoach; the chat page always shows the current ones.")
CONFIDENTIALITY = N_("Confidentiality")
SPONSOR_ATTENDANCE = N_("The sponsor learns nothing but attendance: which sessions took place.")
SPONSOR_SUMMARIES = N_("The sponsor learns attendance and the progress summaries the coachee has approved "
                       "first; nothing else.")
SPONSOR_GOALS = N_("The sponsor may read the goals of this contract (not their scores).")
NO_SPONSOR = N_("There is no sponsor: nobody else learns anything about the coaching.")
SECRECY = N_("Professional secrecy and its limits")
AI = N_("Use of AI")
AI_NONE = N_("No AI tools are used on your data.")
AI_USED = N_("Your coach uses %(tools)s for: %(purpose)s. Only with your consent, which you give by accepting "
             "this version and can withdraw at any time.")
REFERRAL = N_("When the question goes beyond coaching")
HELP_LINES = N_("Help lines")
ACCEPTANCE = N_("Acceptance")
ACCEPTED_BY = N_("Accepted by %(name)s (%(party)s) on %(when)s")
NOT_ACCEPTED = N_("Not accepted yet by: %(parties)s")
STATUS = {"draft": N_("Draft"), "offered": N_("Offered, waiting for acceptance"), "accepted": N_("In force"),
          "superseded": N_("Replaced by a newer version")}


@dataclass(frozen=True)
class DocGoal:
    position: int
    title: str
    indicators: tuple[str, ...]
    score: int | None  # None in the sponsor's document


@dataclass(frozen=True)
class DocAcceptance:
    party: str
    name: str
    accepted_at: datetime


@dataclass(frozen=True)
class ContractDocument:
    version: int
    status: str
    language: str
    zone: str  # the engagement's time zone: times are shown in it
    coach_name: str
    coachee_name: str
    terms: dict[str, Any]
    goals: tuple[DocGoal, ...]
    acceptances: tuple[DocAcceptance, ...]
    triangular: bool = False
    sponsor_organisation: str | None = None
    sponsor_name: str | None = None
    sponsor_sees: str = "attendance"
    sponsor_sees_goals: bool = False
    fingerprint: str | None = None
    offered_at: datetime | None = None
    accepted_at: datetime | None = None
    availability: tuple[str, ...] = ()  # chat hours and response times, in the contract's language
    help_lines: tuple[CrisisResource, ...] = ()
    for_sponsor: bool = False
    missing: tuple[str, ...] = field(default=())  # parties whose acceptance is still missing

    def moment(self, at: datetime | None) -> str:
        if at is None:
            return ""
        local = at.astimezone(ZoneInfo(self.zone))
        return f"{format_datetime(local, 'd MMMM y, HH:mm:ss', locale=self.language)} ({self.zone})"

    def day(self, iso: str | None) -> str:
        return format_date(date.fromisoformat(iso), "d MMMM y", locale=self.language) if iso else ""


def practical_lines(doc: ContractDocument, gettext: Any) -> list[str]:
    """The practicalities as sentences, in the document's language."""
    terms, lines = doc.terms, []
    if terms.get("sessions"):
        lines.append(gettext(SESSIONS) % {"n": terms["sessions"]})
    if terms.get("rhythm"):
        lines.append(gettext(RHYTHM) % {"rhythm": terms["rhythm"]})
    if terms.get("duration_minutes"):
        lines.append(gettext(DURATION) % {"minutes": terms["duration_minutes"]})
    if terms.get("end_date"):
        lines.append(gettext(END_DATE) % {"date": doc.day(terms["end_date"])})
    if terms.get("channels"):
        names = ", ".join(gettext(CHANNEL_NAMES[c]) for c in terms["channels"] if c in CHANNEL_NAMES)
        lines.append(gettext(CHANNELS) % {"channels": names})
    return lines


def sponsor_lines(doc: ContractDocument, gettext: Any) -> list[str]:
    """What the sponsor may learn (the confidentiality clause's fixed part)."""
    if not doc.triangular:
        return [gettext(NO_SPONSOR)]
    chosen = SPONSOR_SUMMARIES if doc.sponsor_sees == "summaries" else SPONSOR_ATTENDANCE
    lines = [gettext(chosen)]
    if doc.sponsor_sees_goals:
        lines.append(gettext(SPONSOR_GOALS))
    return lines


def ai_line(doc: ContractDocument, gettext: Any) -> str:
    if doc.terms.get("ai_used"):
        return gettext(AI_USED) % {"tools": doc.terms.get("ai_tools", ""), "purpose": doc.terms.get("ai_purpose", "")}
    return gettext(AI_NONE)
