"""The database engine, sessions and migrations."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from ecoach.core.events import EventBus
from ecoach.logbook import sealing  # noqa: F401  (sessions seal and open sealed fields)
from ecoach.logbook.agreement_cache import AGREEMENTS, AgreementCache
from ecoach.logbook import webhook_cache  # noqa: F401  (every process announces endpoint changes: watched.py)
from ecoach.logbook import sqlite_driver
from ecoach.logbook.keyring import Keyring
from ecoach.logbook.sealed import KEYRING
from ecoach.logbook.transactions import BUS, EventSession

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")

# A pooled PostgreSQL connection idle this long is pinged before it is used again (a
# restart or a firewall may have cut it); a busy one is not. SQLAlchemy's pool_pre_ping
# would cost a round trip on every checkout, i.e. on every chat batch. A connection cut
# while busy fails its transaction once; SQLAlchemy then invalidates the whole pool, and
# callers retry on a fresh connection (the exchange writer does, one submission at a time).
IDLE_PING_SECONDS = 10.0
RECYCLE_SECONDS = 1800


def create_engine(url: str, *, pool_size: int = 10, checkpoints_apart: bool = False) -> AsyncEngine:
    """``checkpoints_apart`` (SQLite): commits never checkpoint the write-ahead log; the
    caller runs ``checkpoint_often`` instead (the server: see there)."""
    if url.startswith("sqlite"):
        # One trip to aiosqlite's thread per statement, not four (see sqlite_driver.py).
        # check_same_thread=False: aiosqlite's thread runs the statements, but the driver
        # reads whether a transaction is open from the loop's (sqlite_driver.OneTripConnection).
        engine = create_async_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                     module=sqlite_driver.dbapi())
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas_apart if checkpoints_apart else _sqlite_pragmas)
        return engine
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=RECYCLE_SECONDS)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool

    def checkin(_dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    def checkout(dbapi_conn, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - the pool replaces it with a new connection
            log.info("a pooled database connection was closed while idle; reconnecting")
            raise DisconnectionError("idle connection closed") from exc

    event.listen(pool, "checkin", checkin)
    event.listen(pool, "checkout", checkout)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_conn.cursor()
    # WAL lets readers go on while one writer commits; NORMAL is durable across process
    # crashes (only an OS crash can lose the last commits).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # What is deleted (an erasure) is overwritten with zeros, not left in free pages.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _sqlite_pragmas_apart(dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
    _sqlite_pragmas(dbapi_conn, record)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


# How often the server moves the write-ahead log into the database (SQLite).
CHECKPOINT_SECONDS = 1.0


async def checkpoint_often(engine: AsyncEngine, stop: asyncio.Event, every: float = CHECKPOINT_SECONDS) -> None:
    """Checkpoint the write-ahead log every ``every`` seconds until ``stop`` is set, for an
    engine made with ``checkpoints_apart`` (stopping waits for a checkpoint under way: none
    is left running in aiosqlite's thread when the engine goes).

    SQLite otherwise checkpoints inside the commit that finds the log past 1,000 pages: that
    commit then copies the pages and waits for fsync, and every chat message queued behind
    it waits too (the tail of the chat's latency). A PASSIVE checkpoint here, in aiosqlite's
    thread, waits for no reader or writer; commits go on meanwhile. Durability is the same:
    a commit is in the log either way (synchronous=NORMAL)."""
    while True:
        try:
            await asyncio.wait_for(stop.wait(), every)
            return
        except asyncio.TimeoutError:
            pass
        try:
            async with engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # noqa: BLE001 - try again next time; the log only grows meanwhile
            log.exception("checkpointing the write-ahead log failed")


def session_factory(engine: AsyncEngine, bus: EventBus | None = None,
                    keyring: Keyring | None = None, agreements: AgreementCache | None = None,
                    ) -> async_sessionmaker[AsyncSession]:
    """Sessions whose commits deliver their events through ``bus`` (see transactions.py),
    whose sealed fields are sealed and opened with ``keyring`` (see sealing.py), and whose
    commitments read policies and calendars through ``agreements`` (agreement_cache.py)."""
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=EventSession,
                              info={BUS: bus, KEYRING: keyring, AGREEMENTS: agreements})


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["connection"] = connection
    return cfg


async def migrate(engine: AsyncEngine, revision: str = "heads") -> None:
    """Bring the schema to ``revision`` (Alembic upgrade) in one transaction. "heads": areas
    may add migrations on their own branches, joined later by a merge revision."""

    def _upgrade(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
    log.info("database schema at %s", revision)


async def scrub(engine: AsyncEngine) -> None:
    """After an erasure: no copy of the deleted rows stays in the database's files that a
    later backup could take. SQLite: the write-ahead log (which still holds the pages as
    they were) is written into the database and emptied; deleted content there is zeroed
    already (secure_delete). PostgreSQL: the keyring's tables are vacuumed, so the deleted
    data keys are gone from them (the other tables' dead rows, sealed with those keys, are
    vacuumed by autovacuum)."""
    try:
        if engine.dialect.name == "sqlite":
            async with engine.connect() as conn:
                busy = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).first()
                if busy and busy[0]:
                    log.warning("after an erasure the write-ahead log could not be emptied yet (readers busy)")
            return
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM data_key_wrap, data_key")
    except Exception:  # noqa: BLE001 - the erasure is committed; this is housekeeping after it
        log.exception("cleaning up after an erasure failed")


async def ping(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        log.exception("database ping failed")
        return False
