"""The chat's crisis check: a hook on the chat write path (``ExchangeWriter``'s
``after_record``), kept apart so the write path itself stays as it is.

It costs nothing but the detector for a batch without a coachee's new chat message, and
no query for one whose engagements the batch loaded already (the session's identity map);
only a message that matched costs the writes of ``do_flag_crisis``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.crisis import Signalled, check_crisis, do_flag_crisis
from ecoach.actions.exchanges import Recorded
from ecoach.logbook.models import Engagement
from ecoach.settings import MailSettings, Settings

AfterRecord = Callable[[AsyncSession, list[Recorded], datetime], Awaitable[object]]


async def check_chat_crisis(session: AsyncSession, recorded: list[Recorded], *, now: datetime,
                            mail: MailSettings | None, base_url: str) -> int:
    """Flag the coachee's new chat messages in ``recorded`` that speak of a crisis; returns
    how many were flagged."""
    asks = [r for r in recorded if r.created and r.exchange.direction == "in" and r.exchange.channel == "chat"
            and r.exchange.author == "coachee"]
    if not asks:
        return 0
    languages = {r.exchange.engagement_id: r.language for r in asks if r.language is not None}
    languages.update(await _languages(session, {r.exchange.engagement_id for r in asks} - languages.keys()))
    found = []
    for item in asks:
        language = languages.get(item.exchange.engagement_id, "nl")
        signals = check_crisis(item.exchange.body_text, language)
        if signals:
            found.append(Signalled(item, language, signals))
    return len(await do_flag_crisis(session, found, now=now, mail=mail, base_url=base_url, in_chat=True))


async def _languages(session: AsyncSession, engagement_ids: set[int]) -> dict[int, str]:
    """Each engagement's language: from the identity map (the batch read them), else one query."""
    found: dict[int, str] = {}
    loaded, mapper = session.sync_session.identity_map, inspect(Engagement)
    for engagement_id in engagement_ids:
        engagement = loaded.get(mapper.identity_key_from_primary_key([engagement_id]))
        if engagement is not None:
            found[engagement_id] = engagement.language
    missing = sorted(engagement_ids - found.keys())
    if missing:
        rows = await session.execute(select(Engagement.id, Engagement.language).where(Engagement.id.in_(missing)))
        found.update((engagement_id, language) for engagement_id, language in rows.all())
    return found


def with_crisis_check(settings: Settings, after_record: AfterRecord | None) -> AfterRecord:
    """The writer's ``after_record``: this check first, then ``after_record`` (the
    notifications), in the batch's transaction."""
    mail = settings.mail if settings.mail.enabled else None

    async def run(session: AsyncSession, recorded: list[Recorded], now: datetime) -> object:
        await check_chat_crisis(session, recorded, now=now, mail=mail, base_url=settings.base_url)
        return await after_record(session, recorded, now) if after_record is not None else None

    return run
