"""Alembic environment. ``ecoach migrate`` hands over a live connection; the plain
``alembic`` command (developers, autogenerate) builds one from ECOACH settings."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from ecoach.logbook.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_from_settings() -> None:
    from ecoach.logbook.db import create_engine
    from ecoach.settings import load_settings

    url = context.config.get_main_option("sqlalchemy.url") or load_settings().database_url

    async def go() -> None:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(_run)
        await engine.dispose()

    asyncio.run(go())


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    _run_from_settings()
