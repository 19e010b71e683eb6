"""Shared fixtures: a real database per test, on SQLite and on PostgreSQL.

``db_url`` is parametrized over both backends; each test gets a fresh, fully migrated
database, copied from a template that is migrated once per session (SQLite: a file copied
with the backup API; PostgreSQL: ``CREATE DATABASE ... TEMPLATE``).

PostgreSQL is a throwaway cluster started for the session (see ``tests/pg.py``), or the
server named by ``ECOACH_TEST_POSTGRES_URL`` (postgresql+asyncpg://..., a role that may
CREATE DATABASE). Session-wide set-up is synchronous, and the few async admin steps run
on their own loop in a helper thread, so nothing here touches a test's event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ecoach.actions.coaches import do_add_coach
from ecoach.actions.engagements import NewEngagement, do_create_engagement
from ecoach.actions.errors import ActionError
from ecoach.actions.exchanges import NewExchange, Recorded, record_exchanges
from ecoach.core.clock import FixedClock
from ecoach.core.crypto import MasterKey, MasterKeys
from ecoach.core.events import EventBus
from ecoach.core.hub import Hub
from ecoach.logbook.db import create_engine, migrate, session_factory
from ecoach.logbook.keyring import Keyring
from ecoach.logbook.models import Coach
from tests.pg import start_cluster

# Fixtures of real servers that tests share (the ``dovecot`` mailbox).
pytest_plugins = ("tests.dovecot",)

START = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
PASSWORD = "correct horse battery"

# The suite runs with encryption on: this master key, for in-process apps (Settings read
# the environment) and for the servers and commands tests start (they inherit it).
TEST_MASTER_KEY = MasterKey("test", bytes(range(32)))
os.environ.setdefault("ECOACH_MASTER_KEYS", TEST_MASTER_KEY.line())

T = TypeVar("T")


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a fresh loop in another thread (safe from sync
    fixtures whatever loop pytest-asyncio has set up in this one)."""

    async def main() -> T:
        return await make()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _with_db(url: str, name: str) -> str:
    base, _, rest = url.rpartition("/")
    query = rest.partition("?")[2]
    return f"{base}/{name}" + (f"?{query}" if query else "")


async def _admin(server: str, *statements: str) -> None:
    conn = await asyncpg.connect(_plain(server))
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


async def _drop_database(server: str, name: str) -> None:
    """Drop a database, ending whatever connections a test left open to it."""
    conn = await asyncpg.connect(_plain(server))
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        force = " WITH (FORCE)" if conn.get_server_version().major >= 13 else ""
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"{force}')
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


# --- PostgreSQL ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server (its maintenance database) where we may CREATE DATABASE."""
    given = os.environ.get("ECOACH_TEST_POSTGRES_URL")
    if given:
        if not given.startswith("postgresql+asyncpg://"):
            pytest.fail("ECOACH_TEST_POSTGRES_URL must start with postgresql+asyncpg://")
        yield given
        return
    cluster = start_cluster()
    if cluster is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (CI is set; ./run-tests installs it)")
        pytest.skip(
            "PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql); "
            "install it, run ./run-tests, or set ECOACH_TEST_POSTGRES_URL"
        )
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> Iterator[str]:
    """Name of a database migrated to head once per session; tests get copies of it."""
    # Unique per session, so two runs against one shared server do not collide.
    name = f"ecoach_tpl_{uuid.uuid4().hex[:10]}"
    run_async(lambda: _admin(postgres_server, f'CREATE DATABASE "{name}"'))
    try:
        run_async(lambda: _migrate(_with_db(postgres_server, name)))
        yield name
    finally:
        run_async(lambda: _drop_database(postgres_server, name))


# --- SQLite --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    run_async(lambda: _migrate(f"sqlite+aiosqlite:///{path}"))
    return path


def _copy_sqlite(source: Path, target: Path) -> None:
    # The backup API copies a consistent image whatever the journal (WAL) holds.
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


# --- Per test ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with its smallest cost: the same algorithm and code paths, but a coach costs
    milliseconds to create instead of a quarter second (servers in subprocesses keep the
    real parameters)."""
    monkeypatch.setattr(
        "ecoach.actions.passwords.hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    )



@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database at the newest schema; its SQLAlchemy URL."""
    if request.param == "sqlite":
        path = tmp_path / "ecoach.db"
        _copy_sqlite(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    server = request.getfixturevalue("postgres_server")
    template = request.getfixturevalue("postgres_template")
    name = f"t_{uuid.uuid4().hex[:16]}"
    run_async(lambda: _admin(server, f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield _with_db(server, name)
    finally:
        run_async(lambda: _drop_database(server, name))


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


def fresh_keyring(clock: Any = None) -> Keyring:
    """A keyring of the test master key with an empty cache (data key ids repeat across
    the tests' databases, so a keyring never outlives its test)."""
    return Keyring(MasterKeys([TEST_MASTER_KEY]), now=(clock or FixedClock(START)).now)


@pytest.fixture
def keyring(clock: FixedClock) -> Keyring:
    """The keyring of the test master key (a fresh cache per test)."""
    return fresh_keyring(clock)


@pytest.fixture
def sessions(engine: AsyncEngine, hub: Hub, keyring: Keyring) -> async_sessionmaker[AsyncSession]:
    """Sessions whose committed events reach ``hub`` (as in one server process) and whose
    personal data is sealed with the test master key."""
    return session_factory(engine, EventBus(hub), keyring)


# Awkward moments (issue 12): the time-sensitive tests marked ``awkward_clock`` run at each
# of these as well as at START, their ``clock`` standing there.
AWKWARD = {
    "sunday-23h59": datetime(2026, 11, 29, 22, 59, tzinfo=timezone.utc),  # Sunday 23:59 in Amsterdam
    "dst-hour": datetime(2027, 3, 28, 0, 30, tzinfo=timezone.utc),  # 01:30 CET; at 02:00 it is 03:00
    "new-year": datetime(2026, 12, 31, 23, 0, 30, tzinfo=timezone.utc),  # 00:00:30 on 1 January
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "clock" in metafunc.fixturenames and (metafunc.definition.get_closest_marker("awkward_clock")
                                             or os.environ.get("ECOACH_TEST_AWKWARD_ALL")):
        metafunc.parametrize("clock", [START, *AWKWARD.values()], ids=["start", *AWKWARD], indirect=True)


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> FixedClock:
    """The clock at START, or at the awkward moment the test is parametrized with."""
    return FixedClock(getattr(request, "param", START))


@pytest.fixture
def hub() -> Hub:
    return Hub()


MakeCoach = Callable[..., Awaitable[Coach]]
MakeEngagement = Callable[..., Awaitable[NewEngagement]]
RecordExchange = Callable[..., Awaitable[Recorded]]
AUTHORS = {"in": "coachee", "out": "coach", "internal": "coach"}


@pytest.fixture
def make_coach(sessions: async_sessionmaker[AsyncSession], clock: FixedClock) -> MakeCoach:
    """``await make_coach(email=..., ...)``: a committed coach, through the real action."""
    numbers = itertools.count(1)

    async def make(**given: Any) -> Coach:
        n = next(numbers)
        fields: dict[str, Any] = {
            "name": f"Coach {n}",
            "email": f"coach{n}@example.org",
            "password": PASSWORD,
            "language": "nl",
            "time_zone": "Europe/Amsterdam",
            "now": clock.now(),
        }
        fields.update(given)
        async with sessions() as session:
            coach = await do_add_coach(session, **fields)
            await session.commit()
            return coach

    return make


@pytest.fixture
def make_engagement(sessions: async_sessionmaker[AsyncSession], clock: FixedClock) -> MakeEngagement:
    """``await make_engagement(coach, coachee_name=..., ...)``: a committed engagement,
    with its coachee and first chat link (``.chat_token``)."""
    numbers = itertools.count(1)

    async def make(coach: Coach, **given: Any) -> NewEngagement:
        fields: dict[str, Any] = {"coachee_name": f"Coachee {next(numbers)}", "now": clock.now()}
        fields.update(given)
        async with sessions() as session:
            created = await do_create_engagement(session, coach, **fields)
            await session.commit()
            return created

    return make


@pytest.fixture
def record_exchange(sessions: async_sessionmaker[AsyncSession], clock: FixedClock) -> RecordExchange:
    """``await record_exchange(engagement_id, text, direction="in")``: one exchange recorded
    and committed at the clock's time through ``record_exchanges``; raises its refusal."""
    numbers = itertools.count(1)

    async def record(
        engagement_id: int, text: str, *, direction: str = "in", channel: str = "chat",
        external_id: str | None = None, **given: Any,
    ) -> Recorded:
        item = NewExchange(
            engagement_id=engagement_id, channel=channel, direction=direction,
            author=AUTHORS[direction], author_name=AUTHORS[direction].title(), text=text,
            external_id=external_id or f"test:{next(numbers)}-{uuid.uuid4().hex[:8]}", **given,
        )
        async with sessions() as session:
            [result] = await record_exchanges(session, [item], clock.now())
            await session.commit()
        if isinstance(result, ActionError):
            raise result
        return result

    return record
