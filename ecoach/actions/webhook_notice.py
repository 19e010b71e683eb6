"""The mail that tells a coach one of their webhooks was turned off after failing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import N_
from ecoach.core.i18n import translations
from ecoach.logbook.models import Coach
from ecoach.logbook.webhook_models import WebhookEndpoint
from ecoach.settings import Settings

DISABLED_SUBJECT = N_("Your webhook has been turned off")
DISABLED_BODY = N_(
    "Deliveries to your webhook %(url)s have failed since %(since)s (last result: %(result)s), so "
    "ecoach has turned it off. Nothing more is sent to it until you turn it on again.\n\n"
    "Check it and turn it on again: %(page)s"
)


async def queue_disabled_notice(session: AsyncSession, endpoint: WebhookEndpoint, settings: Settings,
                                now: datetime) -> None:
    from ecoach.actions.mail_outbox import do_enqueue_mail
    from ecoach.core.mail.compose import compose_mail

    coach = await session.get(Coach, endpoint.coach_id)
    if coach is None or not coach.email:
        return
    t = translations(coach.language)
    since = endpoint.failing_since or now
    values = {"url": endpoint.url, "since": since.strftime("%Y-%m-%d %H:%M UTC"),
              "result": endpoint.last_result or "?", "page": f"{settings.base_url}/webhooks"}
    mail = settings.mail
    message, message_id = compose_mail(
        from_name="ecoach", from_address=mail.sender, to_address=coach.email, to_name=coach.name,
        reply_to=mail.sender, subject=t.gettext(DISABLED_SUBJECT), text=t.gettext(DISABLED_BODY) % values,
        html=None, message_id_domain=mail.domain, in_reply_to=None, references=[], auto="auto-generated", date=now,
    )
    await do_enqueue_mail(session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
                          recipient=coach.email, kind="notification", now=now)
