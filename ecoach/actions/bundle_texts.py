"""The words for a plan's balance: on the engagement page, in the coach's note and in the
coachee's chat message when it runs low or is used up (catalogue ``billing.po``)."""

from __future__ import annotations

from collections.abc import Callable

from babel.dates import format_date

from ecoach.actions.errors import N_
from ecoach.core.bundles import Balance
from ecoach.core.i18n import gettext_for

SESSIONS_LEFT = N_("%(left)s of %(total)s sessions left")
SESSIONS_BOOKED = N_("%(booked)s booked")
MINUTES_LEFT = N_("%(left)s of %(total)s minutes of written coaching left")
UNLIMITED = N_("unlimited written coaching")
UNTIL = N_("until %(date)s")
ENDED = N_("ended on %(date)s")
COACH_LOW = N_("The coaching package “%(name)s” is running low: %(balance)s.")
COACH_USED_UP = N_("The coaching package “%(name)s” is used up: %(balance)s.")
COACHEE_LOW = N_("Your coaching package is running low: %(balance)s. Your coach can tell you about continuing.")
COACHEE_USED_UP = N_("Your coaching package is used up: %(balance)s. Please contact your coach to continue.")


def balance_parts(balance: Balance, gettext: Callable[[str], str], language: str) -> list[str]:
    """What is left, one phrase per part of the plan."""
    parts = []
    if balance.counts_sessions:
        text = gettext(SESSIONS_LEFT) % {"left": max(0, balance.sessions_left), "total": balance.terms.sessions}
        if balance.used.booked:
            text += f" ({gettext(SESSIONS_BOOKED) % {'booked': balance.used.booked}})"
        parts.append(text)
    if balance.counts_minutes:
        parts.append(gettext(MINUTES_LEFT) % {"left": max(0, balance.minutes_left), "total": balance.terms.minutes})
    if balance.terms.unlimited_written:
        parts.append(gettext(UNLIMITED))
    if balance.terms.ends_on is not None:
        day = format_date(balance.terms.ends_on, "d MMMM y", locale=language)
        message = ENDED if balance.expired else UNTIL
        parts.append(gettext(message) % {"date": day})
    return parts


def coach_warning(balance: Balance, state: str, name: str, language: str) -> str:
    _ = gettext_for(language)
    message = COACH_USED_UP if state == "used_up" else COACH_LOW
    return _(message) % {"name": name, "balance": ", ".join(balance_parts(balance, _, language))}


def coachee_warning(balance: Balance, state: str, language: str) -> str:
    _ = gettext_for(language)
    message = COACHEE_USED_UP if state == "used_up" else COACHEE_LOW
    return _(message) % {"balance": ", ".join(balance_parts(balance, _, language))}
