"""Crisis signals in a coachee's messages: flag, alert, show where to get help.

``check_crisis`` runs the lexicon (``ecoach.core.crisis.detect``) on a coachee's own words.
``do_flag_crisis`` then, in the caller's transaction, for each message that matched:
- stores a ``CrisisFlag`` (what was recognised, sealed) and an internal logbook entry
  saying so, seen by the coach only; the engagement stays red on top of the inbox while
  a flag is open;
- shows the coachee the coach's crisis resources in the chat at once (a system message,
  for chat only: a mail gets them in its automatic replies, see ``resources_text``);
- alerts the coach in every open page (event ``crisis``) and by mail at once, whatever
  the notification settings, quiet hours or digest say;
- notes it in the audit trail.
``do_resolve_crisis`` marks a flag as a false alarm or as handled (again a logbook entry
and an audit entry). A detector failure never loses a message: it is logged and the
message is recorded unflagged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.audit import record_audit
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.exchanges import NewExchange, Recorded, record_exchanges
from ecoach.actions.unit import emit
from ecoach.core import notices, topics
from ecoach.core.crisis import Category, CrisisSignal, detect
from ecoach.core.crisis.resources import CrisisResource, relevant
from ecoach.core.i18n import gettext_for
from ecoach.logbook.crisis_models import OPEN, RESOLUTIONS, CrisisFlag
from ecoach.logbook.crisis_queries import get_flag, get_resources_for
from ecoach.logbook.models import Coach
from ecoach.settings import MailSettings

log = logging.getLogger(__name__)

CATEGORY_LABELS = {
    Category.SUICIDAL: N_("suicidal thoughts"),
    Category.SELF_HARM: N_("self-harm"),
    Category.VIOLENCE: N_("violence"),
    Category.DANGER: N_("acute danger"),
}
FLAG_TITLE = N_("Crisis signal: this message may be about %(category)s.")
FLAG_WORDS = N_("Recognised: %(words)s")
FLAG_HINT = N_("Only you see this. A word list recognised it, not a person: read the message, and mark the "
               "signal as handled or as a false alarm at the top of this page.")
MARKED = {"false_alarm": N_("%(name)s marked the crisis signal as a false alarm."),
          "handled": N_("%(name)s marked the crisis signal as handled.")}
RESOURCES_INTRO = N_("Your message may be about something serious. If you are in danger or thinking about "
                     "ending your life, please contact one of these now:")
RESOURCES_CALL = N_("Call %(phone)s")
RESOURCES_SITE = N_("Website: %(url)s")
RESOURCES_OUTRO = N_("Your coach has been alerted. This chat is not an emergency service: in acute danger, "
                     "call 112.")
MAIL_RESOURCES_INTRO = N_("If you are in danger or thinking about ending your life, you can get help right away:")
ALERT_SUBJECT = N_("Crisis signal: %(name)s")
ALERT_BODY = N_(
    "A message from %(name)s (%(channel)s) contains words that may point to a crisis: %(categories)s.\n\n"
    "Read it now: %(url)s\n\n"
    "This alert comes from a word list, not from an assessment. On the engagement page you can mark it as "
    "handled or as a false alarm."
)


def check_crisis(text: str, language: str | None) -> list[CrisisSignal]:
    """The crisis signals in ``text`` (quoted earlier mail left out); none if the detector
    fails, which is logged: the message itself must never be lost over it."""
    try:
        return detect(text, language)
    except Exception:  # noqa: BLE001 - a lexicon bug must not refuse a coachee's message
        log.exception("crisis detection failed on a text of %d characters", len(text))
        return []


@dataclass(frozen=True)
class Signalled:
    """A coachee's new message that matched: its exchange, the engagement's language."""

    recorded: Recorded
    language: str
    signals: list[CrisisSignal]


@dataclass(frozen=True)
class Flagged:
    flag: CrisisFlag
    item: Signalled
    resources: tuple[CrisisResource, ...]  # the coach's, for the engagement's language, most relevant first


def categories_of(signals: Sequence[CrisisSignal]) -> list[Category]:
    return list(dict.fromkeys(signal.category for signal in signals))


def flag_notice(signals: Sequence[CrisisSignal]) -> notices.Notice:
    """The coach's logbook entry: what the message may be about and the words recognised."""
    words = list(dict.fromkeys(excerpt for signal in signals for excerpt in signal.excerpts))[:10]
    lines = [notices.line(FLAG_TITLE, category=notices.msg(CATEGORY_LABELS[c])) for c in categories_of(signals)]
    lines.append(notices.line(FLAG_WORDS, words=", ".join(f"“{w[:200]}”" for w in words)))
    lines.append(notices.line(FLAG_HINT))
    return notices.notice(*lines)


def resources_notice(resources: Sequence[CrisisResource]) -> notices.Notice:
    """The coachee's panel in the chat: each resource with its phone links and site."""
    lines = [notices.line(RESOURCES_INTRO)]
    for resource in resources:
        lines.append(notices.raw(f"{resource.name}\n{resource.description}".strip()))
        lines += [notices.line(RESOURCES_CALL, phone=notices.url(tel, phone))
                  for phone, tel in zip(resource.phones, resource.tel_links())]
        if resource.url:
            lines.append(notices.line(RESOURCES_SITE, url=notices.url(resource.url)))
    lines.append(notices.line(RESOURCES_OUTRO))
    return notices.notice(*lines)


def resources_text(resources: Sequence[CrisisResource], language: str) -> str:
    """The resources as plain text for an automatic mail reply, in the coachee's language."""
    _ = gettext_for(language)
    parts = [_(MAIL_RESOURCES_INTRO)]
    for resource in resources:
        how = ", ".join([*resource.phones, *([resource.url] if resource.url else [])])
        parts.append(f"- {resource.name}: {how}")
    return "\n".join(parts)


async def do_flag_crisis(
    session: AsyncSession, items: Sequence[Signalled], *, now: datetime, mail: MailSettings | None,
    base_url: str, in_chat: bool,
) -> list[Flagged]:
    """See the module docstring; ``in_chat``: the messages came by chat (the coachee is
    shown the resources there), ``mail``: the mail settings when mail is on (the alert)."""
    if not items:
        return []
    chosen = await get_resources_for(session, {(i.recorded.coach_id, i.language) for i in items})
    flagged = []
    for item in items:
        ex = item.recorded.exchange
        categories = categories_of(item.signals)
        flag = CrisisFlag(
            engagement_id=ex.engagement_id, exchange_id=ex.id, coach_id=item.recorded.coach_id, channel=ex.channel,
            categories=" ".join(categories)[:200], rules=" ".join(s.rule for s in item.signals)[:1000],
            excerpts=[e[:200] for s in item.signals for e in s.excerpts][:20], status=OPEN, created_at=now)
        session.add(flag)
        flagged.append(Flagged(flag, item, relevant(chosen[(item.recorded.coach_id, item.language)], categories)))
    await session.flush()
    await record_exchanges(session, [entry for f in flagged for entry in _entries(f, in_chat)], now)
    for f in flagged:
        ex = f.item.recorded.exchange
        record_audit(session, "crisis_flagged", coach_id=f.flag.coach_id, engagement_id=ex.engagement_id,
                     actor_id=None, now=now, channel=ex.channel, category=f.flag.categories.split()[0])
        emit(session, topics.coach(f.flag.coach_id), {
            "type": "crisis", "engagement_id": ex.engagement_id, "flag_id": f.flag.id, "name": ex.author_name})
        log.info("crisis signal in engagement %s (%s, %s)", ex.engagement_id, ex.channel, f.flag.categories)
    if mail is not None and mail.enabled:
        await _alert_by_mail(session, flagged, mail=mail, base_url=base_url, now=now)
    return flagged


def _entries(f: Flagged, in_chat: bool) -> list[NewExchange]:
    ex = f.item.recorded.exchange
    flag = flag_notice(f.item.signals)
    entries = [NewExchange(
        engagement_id=ex.engagement_id, channel="system", direction="internal", author="system",
        author_name="ecoach", text=notices.render_text(flag, "en", "UTC"), external_id=f"crisis-flag:{f.flag.id}",
        force=True, meta={"event": "crisis_flag", "flag_id": f.flag.id, "exchange_id": ex.id, "notice": flag})]
    if in_chat:
        panel = resources_notice(f.resources)
        entries.append(NewExchange(
            engagement_id=ex.engagement_id, channel="chat", direction="out", author="system",
            author_name="ecoach", text=notices.render_text(panel, f.item.language, "UTC"),
            external_id=f"crisis-resources:{f.flag.id}", force=True,
            meta={"event": "crisis_resources", "flag_id": f.flag.id, "notice": panel}))
    return entries


async def _alert_by_mail(session: AsyncSession, flagged: list[Flagged], *, mail: MailSettings, base_url: str,
                         now: datetime) -> None:
    from ecoach.actions.mail_outbox import do_enqueue_mail
    from ecoach.core.mail.compose import compose_mail

    coach_ids = sorted({f.flag.coach_id for f in flagged})
    coaches = {c.id: c for c in (await session.execute(select(Coach).where(Coach.id.in_(coach_ids)))).scalars()}
    for f in flagged:
        coach, ex = coaches[f.flag.coach_id], f.item.recorded.exchange
        _ = gettext_for(coach.language)
        values = {"name": ex.author_name, "channel": _(ex.channel),
                  "categories": ", ".join(_(CATEGORY_LABELS[c]) for c in categories_of(f.item.signals)),
                  "url": f"{base_url}/engagements/{ex.engagement_id}#x{ex.id}"}
        message, message_id = compose_mail(
            from_name="ecoach", from_address=mail.sender, to_address=coach.email, to_name=coach.name,
            reply_to=mail.sender, subject=_(ALERT_SUBJECT) % values, text=_(ALERT_BODY) % values, html=None,
            message_id_domain=mail.domain, in_reply_to=None, references=[], auto="auto-generated", date=now)
        message["Importance"] = "high"
        message["X-Priority"] = "1"
        await do_enqueue_mail(session, raw=message.as_bytes(), message_id=message_id, sender=mail.sender,
                              recipient=coach.email, kind="crisis_alert", engagement_id=ex.engagement_id, now=now)


async def do_resolve_crisis(session: AsyncSession, coach: Coach, engagement_id: int, flag_id: int, resolution: str,
                            *, now: datetime) -> CrisisFlag:
    """Mark an open flag ``false_alarm`` or ``handled``; marking it again changes nothing."""
    if resolution not in RESOLUTIONS:
        raise ActionError("crisis_resolution_invalid", N_("Choose: a false alarm, or handled."))
    flag = await get_flag(session, coach.id, engagement_id, flag_id)
    if flag is None:
        raise NotFound("crisis_flag_unknown", N_("This crisis signal does not exist."))
    if flag.status != OPEN:
        return flag
    flag.status, flag.resolved_at, flag.resolved_by = resolution, now, coach.id
    note = notices.notice(notices.line(MARKED[resolution], name=coach.name))
    await record_exchanges(session, [NewExchange(
        engagement_id=engagement_id, channel="system", direction="internal", author="system", author_name="ecoach",
        text=notices.render_text(note, "en", "UTC"), external_id=f"crisis-{resolution}:{flag.id}", force=True,
        meta={"event": "crisis_resolved", "flag_id": flag.id, "resolution": resolution, "notice": note})], now)
    record_audit(session, f"crisis_{resolution}", coach_id=coach.id, engagement_id=engagement_id, now=now)
    emit(session, topics.coach(coach.id), {"type": "crisis", "engagement_id": engagement_id, "flag_id": flag.id,
                                          "resolved": resolution})
    return flag
