"""Demo data: one coach, three engagements with some history. Safe to run again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.coaches import do_add_coach
from ecoach.actions.engagements import chat_token_of, do_create_engagement, do_new_chat_link
from ecoach.actions.exchanges import NewExchange, record_exchanges
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


async def ensure_demo(session: AsyncSession, secret: str, now: datetime) -> DemoInfo:
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
    await session.commit()
    return DemoInfo(DEMO_EMAIL, DEMO_PASSWORD, links)


async def _engagement_for(session: AsyncSession, coach: Coach, name: str) -> Engagement | None:
    stmt = (
        select(Engagement)
        .join(Coachee, Coachee.id == Engagement.coachee_id)
        .where(Engagement.coach_id == coach.id, Coachee.name == name)
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
