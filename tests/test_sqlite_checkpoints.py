"""SQLite in the server: commits never checkpoint the write-ahead log (that stalled the
chat batch whose commit found the log full, and every message queued behind it); a task
of the server's checkpoints it every second instead, so the database file catches up."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

from sqlalchemy import text

from ecoach.logbook.db import checkpoint_often, create_engine
from tests.dovecot import wait_until


def rows_in_the_file_alone(db: Path, copy: Path) -> int:
    """The rows the database file holds without its write-ahead log."""
    shutil.copyfile(db, copy)
    with sqlite3.connect(copy) as conn:
        found = conn.execute("SELECT name FROM sqlite_master WHERE name = 'note'").fetchone()
        return conn.execute("SELECT count(*) FROM note").fetchone()[0] if found else 0


async def test_commits_leave_the_log_and_the_task_checkpoints_it(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    engine = create_engine(f"sqlite+aiosqlite:///{db}", checkpoints_apart=True)
    try:
        async with engine.begin() as conn:
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 0
            await conn.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)"))
            await conn.execute(text("INSERT INTO note (body) VALUES (:body)"), [{"body": "x" * 2000}] * 3000)
        # 3000 rows of 2,000 bytes (6 MB): past the 1,000 pages at which a commit would checkpoint.
        assert rows_in_the_file_alone(db, tmp_path / "before.db") == 0
        stop = asyncio.Event()
        task = asyncio.create_task(checkpoint_often(engine, stop, every=0.05))
        try:
            await wait_until(lambda: rows_in_the_file_alone(db, tmp_path / "after.db") == 3000, timeout=30)
        finally:
            stop.set()
            await task
    finally:
        await engine.dispose()
