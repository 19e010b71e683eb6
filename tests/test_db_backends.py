"""Both backends come up migrated, and the logbook refuses edits."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError

from ecoach.logbook.db import alembic_config
from ecoach.actions.coaches import do_add_coach
from ecoach.actions.engagements import do_create_engagement
from ecoach.actions.exchanges import NewExchange, record_exchanges
from ecoach.logbook.keyring import keyring_of
from ecoach.logbook.models import Exchange


async def test_logbook_is_append_only(sessions, clock) -> None:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        coach = await do_add_coach(session, name="C", email="c@example.org", password="x" * 12,
                                   language="nl", time_zone="Europe/Amsterdam", now=clock.now())
        created = await do_create_engagement(session, coach, coachee_name="P", now=clock.now())
        [rec] = await record_exchanges(session, [NewExchange(
            created.engagement.id, "chat", "in", "coachee", "P", "hallo", "chat:abcdefgh")], clock.now())
        await session.commit()
        exchange_id = rec.exchange.id
    async with sessions() as session:
        await session.execute(update(Exchange).where(Exchange.id == exchange_id).values(delivery_state="sent"))
        await session.commit()
    async with sessions() as session:
        key = await keyring_of(session).for_engagement(session, created.engagement.id)
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(update(Exchange).where(Exchange.id == exchange_id)
                                  .values(body_text_sealed=key.seal(Exchange.body_text, "edited")))
            await session.commit()


async def test_schema_is_at_head(engine) -> None:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        versions = set((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    assert versions == set(ScriptDirectory.from_config(alembic_config()).get_heads())
