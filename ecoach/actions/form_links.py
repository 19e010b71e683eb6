"""Sending a form to the coachee: a personal link (check-in, feedback, evaluation, the
four-supports questionnaire) in the chat and, with mail on and an address known, by
mail through the outbox, all in the caller's transaction.

The link is the key, as chat and booking links: 256 bits, only its digest stored, its
salt kept so the server can show it again (HMAC under the secret key). Sending a form of
the same kind for the same session (or round) again replaces the earlier link: opening
that one then says where to find the new one. A check-in link works until its session
ends; the others for ``sessions.form_link_days``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.exchanges import NewExchange, Recorded, record_exchanges
from ecoach.actions.mail_outbox import do_enqueue_mail
from ecoach.core.i18n import gettext_for
from ecoach.core.tokens import derived_token, looks_like_token, new_salt, token_digest
from ecoach.logbook import queries, session_queries
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.models import Coach, Coachee, Engagement
from ecoach.logbook.session_models import FormRequest
from ecoach.settings import Settings

log = logging.getLogger(__name__)

INVITES = {
    "checkin": N_("Your session with %(coach)s is on %(when)s. To get the most out of it, take a few minutes "
                  "for the check-in: %(url)s"),
    "feedback": N_("Thank you for the session of %(when)s. How was it for you? Three short questions: %(url)s"),
    "evaluation": N_("Our coaching is coming to an end. Will you look back on it with me? The evaluation: "
                     "%(url)s"),
    "supports": N_("How do you experience the support you get in our coaching? A short questionnaire of twelve "
                   "statements: %(url)s"),
}
SUBJECTS = {
    "checkin": N_("Check-in for your session on %(when)s"),
    "feedback": N_("How was your session?"),
    "evaluation": N_("Evaluation of your coaching"),
    "supports": N_("Questionnaire: the support in your coaching"),
}
TITLES = {
    "checkin": N_("Check-in"),
    "feedback": N_("Feedback on the session"),
    "evaluation": N_("Evaluation"),
    "supports": N_("Four kinds of support"),
}
VALID_UNTIL = N_("This link works until %(until)s.")


@dataclass
class SentForm:
    form: FormRequest
    token: str
    recorded: Recorded | None
    mailed: bool


def form_token(secret: str, salt: str) -> str:
    return derived_token(secret, f"form:{salt}")


def form_token_of(form: FormRequest, secret: str) -> str | None:
    return form_token(secret, form.salt) if form.salt else None


def form_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url}/f/{token}"


def moment(at: datetime, zone: str, language: str) -> str:
    """"Thursday 3 December, 10:00" in the reader's zone and language."""
    return format_datetime(at.astimezone(ZoneInfo(zone)), "EEEE d MMMM, HH:mm", locale=language)


def closes_at(form: FormRequest, booking: Booking | None) -> datetime | None:
    """When the link stops working: the check-in at its session's end."""
    if form.kind == "checkin" and booking is not None:
        return booking.ends_at
    return form.expires_at


async def check_form_token(session: AsyncSession, token: str, now: datetime
                           ) -> tuple[FormRequest, Engagement, Booking | None]:
    """The form behind a link, or a clear reason (in the coachee's language) why the
    link does not work and what to do."""
    form = await session_queries.get_form_by_token(session, token_digest(token)) if looks_like_token(token) else None
    if form is None:
        raise NotFound("form_link_unknown", N_("This link is not valid. Use the link in your most recent message "
                                               "from your coach."))
    engagement = await session.get(Engagement, form.engagement_id)
    assert engagement is not None  # foreign key
    booking = await session.get(Booking, form.booking_id) if form.booking_id else None
    error = None
    if form.replaced_at is not None:
        error = ActionError("form_link_replaced", N_("Your coach has sent you a newer link for this form. Use the "
                                                     "link in your most recent message (chat or mail)."))
    elif booking is not None and booking.status != "confirmed" and form.answered_at is None:
        error = ActionError("form_session_cancelled", N_("This session was cancelled, so its form is closed. "
                                                         "You can still write to your coach in the chat."))
    elif form.answered_at is None and (until := closes_at(form, booking)) is not None and until <= now:
        error = ActionError("form_link_expired", N_("This link has expired. Ask your coach in the chat for a new "
                                                    "one if you still want to answer."))
    if error is not None:
        error.status = 410
        error.language = engagement.language
        raise error
    return form, engagement, booking


def _check_can_send(engagement: Engagement) -> None:
    if engagement.status != "active":
        raise ActionError("form_engagement_inactive",
                          N_("Forms are not sent while the engagement is paused or closed."))


async def do_send_form(session: AsyncSession, engagement: Engagement, *, kind: str, settings: Settings,
                       now: datetime, booking: Booking | None = None, round: str | None = None) -> SentForm:
    """Replace the current form of this kind (session, round) with a new link and send it."""
    _check_can_send(engagement)
    await session.execute(
        update(FormRequest)
        .where(FormRequest.engagement_id == engagement.id, FormRequest.kind == kind,
               FormRequest.respondent == "coachee", FormRequest.replaced_at.is_(None),
               FormRequest.answered_at.is_(None),
               FormRequest.booking_id == booking.id if booking is not None else FormRequest.booking_id.is_(None),
               FormRequest.round == round if round is not None else FormRequest.round.is_(None))
        .values(replaced_at=now)
        .execution_options(synchronize_session=False)
    )
    salt = new_salt()
    token = form_token(settings.secret, salt)
    expires = None if kind == "checkin" else now + timedelta(days=settings.sessions.form_link_days)
    form = FormRequest(engagement_id=engagement.id, booking_id=booking.id if booking else None, kind=kind,
                       round=round, respondent="coachee", token_hash=token_digest(token), salt=salt,
                       created_at=now, expires_at=expires)
    session.add(form)
    await session.flush()
    coach = await queries.get_coach(session, engagement.coach_id)
    coachee = await queries.get_coachee(session, engagement.coachee_id)
    assert coach is not None and coachee is not None
    sent = SentForm(form, token, None, False)
    await _deliver(session, sent, engagement, coach, coachee, booking, settings, now)
    log.info("%s form %s sent to engagement %s", kind, form.id, engagement.id)
    return sent


def _texts(sent: SentForm, engagement: Engagement, coach: Coach, booking: Booking | None,
           settings: Settings) -> tuple[str, str]:
    _ = gettext_for(engagement.language)
    form = sent.form
    when = moment(booking.starts_at, engagement.time_zone, engagement.language) if booking else ""
    values = {"coach": coach.name, "when": when, "url": form_url(settings, sent.token)}
    until = closes_at(form, booking)
    text = _(INVITES[form.kind]) % values
    if until is not None:
        text += "\n\n" + _(VALID_UNTIL) % {"until": moment(until, engagement.time_zone, engagement.language)}
    return _(SUBJECTS[form.kind]) % values, text


async def _deliver(session: AsyncSession, sent: SentForm, engagement: Engagement, coach: Coach, coachee: Coachee,
                   booking: Booking | None, settings: Settings, now: datetime) -> None:
    subject, text = _texts(sent, engagement, coach, booking, settings)
    form = sent.form
    item = NewExchange(engagement_id=engagement.id, channel="chat", direction="out", author="system",
                       author_name=coach.name, text=text, external_id=f"form:{form.id}:invite",
                       meta={"form_id": form.id, "form": form.kind, "booking_id": form.booking_id})
    [result] = await record_exchanges(session, [item], now)
    if isinstance(result, ActionError):
        raise result
    sent.recorded = result
    if settings.mail.enabled and coachee.email:
        await _mail(session, engagement, coach, coachee, subject, text, settings, now)
        sent.mailed = True


async def _mail(session: AsyncSession, engagement: Engagement, coach: Coach, coachee: Coachee, subject: str,
                text: str, settings: Settings, now: datetime) -> None:
    from ecoach.core.mail.compose import compose_mail
    from ecoach.core.reply_tokens import make_token, reply_address

    mail = settings.mail
    assert coachee.email
    # An answer to this mail lands in the engagement's logbook, like any reply.
    token = make_token(settings.secret, engagement.id)
    message, message_id = compose_mail(
        from_name=coach.name, from_address=mail.sender, to_address=coachee.email, to_name=coachee.name,
        reply_to=reply_address(token, local=mail.reply_local, domain=mail.domain, form=mail.reply_form),
        subject=subject, text=text, html=None, message_id_domain=mail.domain, in_reply_to=None, references=[],
        auto="auto-generated", date=now)
    await do_enqueue_mail(session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
                          recipient=coachee.email, kind="form", engagement_id=engagement.id, now=now)
