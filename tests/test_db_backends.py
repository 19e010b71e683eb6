"""Both backends come up migrated, and the logbook refuses edits."""

from __future__ import annotations

import asyncpg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from ecoach.actions.exchange_writer import ExchangeWriter
from ecoach.logbook import db
from ecoach.logbook.db import alembic_config
from ecoach.logbook.pg_events import asyncpg_dsn
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


PG_ONLY = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


async def _cut_connections(db_url: str) -> int:
    """What a PostgreSQL restart does to the pool: every backend of this database ends."""
    conn = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        return await conn.fetchval("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    finally:
        await conn.close()


async def _backend_pid(engine) -> int:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()


@PG_ONLY
async def test_a_pooled_connection_cut_while_idle_is_replaced_before_use(  # type: ignore[no-untyped-def]
    db_url, engine, monkeypatch
) -> None:
    """No ping on every checkout (a round trip per chat batch), but one before reusing a
    connection that sat idle: the caller never sees the cut."""
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    before = await _backend_pid(engine)
    assert await _cut_connections(db_url) >= 1
    assert await _backend_pid(engine) != before


@PG_ONLY
async def test_a_connection_cut_while_busy_loses_no_chat_message(  # type: ignore[no-untyped-def]
    db_url, engine, sessions, clock, make_coach, make_engagement, monkeypatch
) -> None:
    """Cut without the idle ping (the pool had no reason to doubt the connection): the
    batch fails once, the writer retries it on a new connection, and the message is
    stored once and acknowledged after that commit."""
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", float("inf"))
    engagement_id = (await make_engagement(await make_coach())).engagement.id
    await _backend_pid(engine)  # a connection waits in the pool
    await _cut_connections(db_url)
    writer = ExchangeWriter(sessions, clock)
    writer.start()
    try:
        recorded = await writer.submit(NewExchange(engagement_id, "chat", "in", "coachee", "P", "hallo",
                                                   "chat:cut-while-busy"))
    finally:
        await writer.stop()
    assert recorded.created
    async with sessions() as session:
        stored = (await session.execute(select(Exchange.id).where(Exchange.external_id == "chat:cut-while-busy"))).all()
    assert [row.id for row in stored] == [recorded.exchange.id]
