"""Destructive actions ask first, naming the consequence (see docs/ui.md).

A page shows the action as a small GET form (``confirm`` macro in ``_ui.html``): without
JavaScript it opens a confirmation page at the action's own address (a GET beside the
POST), with JavaScript the same question opens in a ``<dialog>`` on the page. Either way
the POST only happens on the second, explicit click. The words live here, once, so the
page, the dialog and the confirmation page say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ecoach.actions.errors import N_


@dataclass(frozen=True)
class Confirmation:
    title: str  # the question, as the dialog's heading
    text: str  # the consequence
    button: str  # the action, on the button that does it
    keep: str = N_("Go back")  # the way out


CONFIRMATIONS: dict[str, Confirmation] = {
    "close": Confirmation(
        N_("Close the engagement with %(name)s?"),
        N_("%(name)s can no longer write to you by chat or mail, and nudges and session reminders stop. "
           "The logbook stays readable, and you can reopen the engagement later."),
        N_("Close engagement"), N_("Keep it open")),
    "new_chat_link": Confirmation(
        N_("Make a new chat link for %(name)s?"),
        N_("The current link stops working at once, also in a chat window %(name)s has open. Give "
           "%(name)s the new link yourself."),
        N_("Make a new link")),
    "revoke_chat_link": Confirmation(
        N_("Withdraw the chat link of %(name)s?"),
        N_("The chat closes at once for %(name)s, also in an open window. Nothing is deleted; you can "
           "make a new link later."),
        N_("Withdraw the link")),
    "new_booking_link": Confirmation(
        N_("Make a new booking link for %(name)s?"),
        N_("The current booking link stops working at once. Sessions already booked stay as they are."),
        N_("Make a new booking link")),
    "cancel_session": Confirmation(
        N_("Cancel this session?"),
        N_("%(what)s on %(when)s is cancelled and %(name)s is told. This cannot be undone: to meet after "
           "all, book a new time."),
        N_("Cancel session"), N_("Keep the session")),
    "decline_request": Confirmation(
        N_("Decline the intake request of %(name)s?"),
        N_("%(name)s is told that this time does not work. The request cannot be accepted later."),
        N_("Decline request"), N_("Keep the request")),
    "new_public_link": Confirmation(
        N_("Make a new address for your intake page?"),
        N_("The current address stops working at once, also where you published it."),
        N_("Make a new address")),
    "new_feed": Confirmation(
        N_("Make a new calendar address?"),
        N_("Calendars subscribed to the current address stop receiving your sessions; subscribe again "
           "with the new one."),
        N_("Make a new address")),
    "discard_mail": Confirmation(
        N_("Discard this mail?"),
        N_("It does not go into any logbook. It stays under “discarded”, where you can put it back."),
        N_("Discard")),
    "coachee_cancel": Confirmation(
        N_("Cancel this session?"),
        N_("%(what)s on %(when)s is cancelled and your coach is told. To meet after all, book a new time."),
        N_("Cancel session"), N_("Keep the session")),
    "remove_passkey": Confirmation(
        N_("Remove the passkey “%(name)s”?"),
        N_("It no longer works for logging in to ecoach (it stays on your device until you delete it there). "
           "Every other login ends."),
        N_("Remove passkey"), N_("Keep the passkey")),
    "coachee_withdraw": Confirmation(
        N_("Withdraw this request?"),
        N_("Your coach is told that you no longer ask for %(when)s."),
        N_("Withdraw request"), N_("Keep the request")),
}


async def confirm_page(request: web.Request, key: str, *, action: str, back: str,
                       values: Mapping[str, Any] | None = None, fields: Mapping[str, str] | None = None,
                       coachee: bool = False) -> web.StreamResponse:
    """The question as a page of its own (for browsers without JavaScript)."""
    from ecoach.web.render import render  # render's environment imports the words above

    context = {"key": key, "action": action, "back": back, "values": dict(values or {}),
               "fields": dict(fields or {}), "coachee_page": coachee}
    response = await render(request, "confirm.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response
