"""Demo data: one coach, three engagements with some history, a kind of video session and
booking links. Safe to run again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.coaches import do_add_coach
from ecoach.actions.engagements import chat_token_of, do_create_engagement, do_new_chat_link
from ecoach.actions.exchanges import NewExchange, record_exchanges
from ecoach.actions.session_types import (
    booking_token_of,
    check_session_type,
    do_new_booking_link,
    do_save_session_type,
)
from ecoach.logbook import booking_queries
from ecoach.logbook import queries
from ecoach.logbook.models import Coach, Coachee, Engagement

DEMO_EMAIL = "coach@demo.ecoach"
DEMO_PASSWORD = "demo-coach-2026"

COACHEES = [
    ("Sanne de Vries", "sanne@example.org", "nl", [
        ("in", "Hoi! Ik heb deze week geoefend met het nee zeggen tegen extra werk. Spannend, maar het lukte twee keer."),
        ("out", "Wat mooi, Sanne. Wat merkte je bij jezelf op het moment dat je nee zei?"),
        ("in", "Vooral opluchting achteraf. Vooraf twijfelde ik heel erg. Hoe ga ik om met die twijfel?"),
    ]),
    ("Daan Jansen", None, "nl", [
        ("in", "Ik heb het gesprek met mijn leidinggevende gehad. Het ging beter dan verwacht."),
        ("out", "Goed om te horen! Wat heb je meegenomen uit dat gesprek voor je volgende stap?"),
    ]),
    ("Emily Carter", "emily@example.org", "en", [
        ("in", "Quick update: I blocked two mornings a week for deep work. First one went well!"),
    ]),
]


@dataclass(frozen=True)
class DemoInfo:
    email: str
    password: str
    links: list[tuple[str, str]]  # (coachee name, chat token)
    booking: list[tuple[str, str]]  # (coachee name or "" for the intake page, booking token)


DEMO_SESSION = {"name": "Videosessie", "channel": "video", "duration_minutes": "60",
                "buffer_before_minutes": "0", "buffer_after_minutes": "15", "min_notice_minutes": "720",
                "max_per_day": "4", "horizon_days": "60", "availability": "sessions", "intake": "on"}


async def ensure_demo(session: AsyncSession, secret: str, now: datetime) -> DemoInfo:
    """The demo coach, coachees, logbooks and booking links, in the caller's transaction
    (nothing twice when run again)."""
    coach = await queries.get_coach_by_email(session, DEMO_EMAIL)
    if coach is None:
        coach = await do_add_coach(
            session, name="Marieke Bos", email=DEMO_EMAIL, password=DEMO_PASSWORD,
            language="nl", time_zone="Europe/Amsterdam", now=now,
        )
    links = []
    for index, (name, email, language, messages) in enumerate(COACHEES):
        engagement = await _engagement_for(session, coach, name)
        if engagement is None:
            start = now - timedelta(days=10 - index)
            created = await do_create_engagement(
                session, coach, coachee_name=name, coachee_email=email or "",
                language=language, now=start, secret=secret,
            )
            engagement = created.engagement
            items = [
                NewExchange(
                    engagement_id=engagement.id, channel="chat", direction=direction,
                    author="coachee" if direction == "in" else "coach",
                    author_name=name if direction == "in" else coach.name,
                    text=text, external_id=f"demo:{engagement.id}:{n}",
                )
                for n, (direction, text) in enumerate(messages)
            ]
            for n, item in enumerate(items):
                await record_exchanges(session, [item], start + timedelta(hours=5 * n + 1))
        link = await queries.get_active_chat_link(session, engagement.id, now)
        token = chat_token_of(link, secret) if link else None
        if token is None:
            token = await do_new_chat_link(session, engagement, now=now, secret=secret)
        links.append((name, token))
    booking = await _sessions(session, coach, [(name, await _engagement_for(session, coach, name))
                                                for name, *_ in COACHEES[:1]], secret, now)
    return DemoInfo(DEMO_EMAIL, DEMO_PASSWORD, links, booking)


async def _sessions(session: AsyncSession, coach: Coach, owners: list[tuple[str, Engagement | None]],
                    secret: str, now: datetime) -> list[tuple[str, str]]:
    """A kind of video session, the public intake page and a private booking link."""
    if not await booking_queries.get_session_types(session, coach.id):
        await do_save_session_type(session, coach, check_session_type(DEMO_SESSION), type_id=None, now=now)
    tokens = []
    for name, engagement in [("", None), *owners]:
        engagement_id = engagement.id if engagement is not None else None
        link = await booking_queries.get_active_booking_link(session, coach.id, engagement_id, now)
        token = booking_token_of(link, secret) if link is not None else None
        if token is None:
            token = await do_new_booking_link(session, coach.id, engagement_id, now=now, days=0, secret=secret)
        tokens.append((name, token))
    return tokens


async def _engagement_for(session: AsyncSession, coach: Coach, name: str) -> Engagement | None:
    # Names are sealed: compared after opening (a demo coach has a handful of coachees).
    stmt = (
        select(Engagement, Coachee.name)
        .join(Coachee, Coachee.id == Engagement.coachee_id)
        .where(Engagement.coach_id == coach.id)
        .order_by(Engagement.id)
    )
    return next((e for e, found in (await session.execute(stmt)).all() if found == name), None)
