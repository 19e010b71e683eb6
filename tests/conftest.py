"""Shared fixtures: a real database per test, on SQLite and on PostgreSQL.

``db_url`` is parametrized over both backends; each test gets a fresh, fully migrated
database (PostgreSQL: a copy of a template migrated once per session).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ecoach.core.clock import FixedClock
from ecoach.core.hub import Hub
from ecoach.logbook.db import create_engine, migrate, session_factory
from tests.pg import start_cluster

START = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
TEMPLATE = "ecoach_template"


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def _with_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server whose 'postgres' database we may CREATE DATABASE from."""
    given = os.environ.get("ECOACH_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    cluster = start_cluster()
    if cluster is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (./run-tests installs it)")
        pytest.skip("PostgreSQL is not installed; run ./run-tests to install it")
    try:
        yield cluster.url
    finally:
        cluster.stop()  # type: ignore[operator]


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> str:
    async def build() -> None:
        admin = await asyncpg.connect(_plain(postgres_server))
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
            await admin.execute(f"CREATE DATABASE {TEMPLATE}")
        finally:
            await admin.close()
        engine = create_engine(_with_db(postgres_server, TEMPLATE))
        await migrate(engine)
        await engine.dispose()

    asyncio.run(build())
    return postgres_server


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'ecoach.db'}"
        asyncio.run(_migrate(url))
        yield url
        return
    server = request.getfixturevalue("postgres_template")
    name = "t_" + uuid.uuid4().hex[:12]
    asyncio.run(_admin(server, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    try:
        yield _with_db(server, name)
    finally:
        asyncio.run(_admin(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    await migrate(engine)
    await engine.dispose()


async def _admin(server: str, sql: str) -> None:
    admin = await asyncpg.connect(_plain(server))
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def hub() -> Hub:
    return Hub()
