"""The words of agreements, in the reader's language and time zone: what the coachee's
chat page says, and the acknowledgement, reminder, breach and absence texts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, get_day_names

from ecoach.actions.errors import N_
from ecoach.core.agreements import Policy
from ecoach.core.i18n import translations
from ecoach.core.working_time import WorkingCalendar, weekly_in_zone

# How far ahead the chat page looks for an absence to announce.
ANNOUNCE_AHEAD = timedelta(days=14)

ACK_TEXT = N_("Thank you for your message. Your coach will answer by %(due)s.")
REMINDER_SUBJECT = N_("Answer due soon: %(name)s")
REMINDER_BODY = N_(
    "%(name)s is waiting for your answer (%(channel)s, received %(received)s).\n"
    "You agreed to answer by %(due)s.\n\nAnswer: %(url)s"
)
BREACH_TEXT = N_("The answer to the %(channel)s message of %(received)s was due %(due)s and has not been sent.")
ABSENCE_SUBJECT = N_("Automatic reply: %(subject)s")
ABSENCE_BODY = N_(
    "Thank you for your message. %(coach)s is away and back on %(back)s; your message has "
    "arrived and will be answered after that."
)
ABSENCE_SUBSTITUTE = N_("In the meantime you can contact: %(contact)s")
ABSENCE_EMERGENCY = N_("In an emergency: %(contact)s")


def format_moment(at: datetime, zone: str, language: str) -> str:
    """"Thursday 26 November, 14:00" in the reader's zone and language."""
    return format_datetime(at.astimezone(ZoneInfo(zone)), "EEEE d MMMM, HH:mm", locale=language)


def format_day(at: datetime, zone: str, language: str) -> str:
    return format_datetime(at.astimezone(ZoneInfo(zone)), "EEEE d MMMM", locale=language)


def format_within(amount: int, unit: str, language: str) -> str:
    t = translations(language)
    if unit == "days":
        return t.ngettext("%(num)s working day", "%(num)s working days", amount) % {"num": amount}
    return t.ngettext("%(num)s working hour", "%(num)s working hours", amount) % {"num": amount}


def describe_windows(calendar: WorkingCalendar, now: datetime, zone: str, language: str) -> list[str]:
    """"Tuesday 19:00-21:00" per window, in the reader's zone, Monday first."""
    days = get_day_names("wide", locale=language)
    return [f"{days[w.weekday]} {w.start:%H:%M}–{w.end:%H:%M}" for w in weekly_in_zone(calendar, now, zone)]


@dataclass
class CoacheeAgreement:
    """What the coachee's chat page shows about the agreement."""

    chat_windows: list[str] = field(default_factory=list)
    chat_open: bool = True
    back_at: str | None = None  # when the chat opens again, if it is closed now
    away_until: str | None = None  # the coach is absent (now or soon): back on this day
    away_from: str | None = None  # a coming absence starts on this day
    mail_within: str | None = None
    chat_within: str | None = None
    answer_by: str | None = None  # with acknowledgements on, the open commitment's due time

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def coachee_agreement(
    *, chat: WorkingCalendar, mail: WorkingCalendar, policy: Policy, now: datetime, zone: str,
    language: str, absences: list[tuple[datetime, datetime]], next_due_at: datetime | None,
) -> CoacheeAgreement:
    """``absences``: the coach's absence spans (UTC) that have not ended."""
    view = CoacheeAgreement(chat_windows=describe_windows(chat, now, zone, language))
    view.chat_open = chat.is_open(now)
    if not view.chat_open:
        back = chat.next_open(now)
        view.back_at = format_moment(back, zone, language) if back else None
    for start, end in sorted(absences):
        if start <= now < end or start - now <= ANNOUNCE_AHEAD:
            back = mail.next_open(max(end, now)) or end
            view.away_until = format_day(back, zone, language)
            if start > now:
                view.away_from = format_day(start, zone, language)
            break
    if (within := policy.within("mail")) is not None:
        view.mail_within = format_within(*within, language)
    if (within := policy.within("chat")) is not None:
        view.chat_within = format_within(*within, language)
    if policy.acknowledge and next_due_at is not None and next_due_at > now:
        view.answer_by = format_moment(next_due_at, zone, language)
    return view


async def get_coachee_agreement(session, engagement, now: datetime) -> CoacheeAgreement:  # type: ignore[no-untyped-def]
    """The agreement as the engagement's coachee sees it (their zone and language)."""
    from ecoach.logbook.availability_queries import get_exceptions, get_policy, get_working_calendars

    calendars = await get_working_calendars(session, [engagement.coach_id], ["chat", "mail"],
                                            since=now - timedelta(days=1))
    absences = [(x.starts_at, x.ends_at) for x in await get_exceptions(session, engagement.coach_id, ending_after=now)]
    return coachee_agreement(
        chat=calendars[(engagement.coach_id, "chat")], mail=calendars[(engagement.coach_id, "mail")],
        policy=await get_policy(session, engagement.id), now=now, zone=engagement.time_zone,
        language=engagement.language, absences=absences, next_due_at=engagement.next_due_at,
    )
