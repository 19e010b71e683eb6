"""Helpers for the audit tests: entries read back, tampering as an intruder would (with
the triggers out of the way), and a writer process for the concurrency test.

Run as ``python -m tests.audit_support DB_URL NAME COUNT DIR``: waits for ``DIR/go``
(after writing ``DIR/ready-NAME``), then appends COUNT entries, one unit of work each."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from ecoach import cli
from ecoach.actions.audit import Origin, acting, record_audit
from ecoach.actions.unit import unit_of_work
from ecoach.logbook.audit_models import AuditEntry
from ecoach.logbook.db import create_engine, session_factory

AT = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)  # the entries' time (never the wall clock)
SQLITE_TRIGGERS = ("audit_entry_no_update", "audit_entry_no_delete", "audit_head_forward", "audit_head_no_delete")


async def entries(sessions, **where: Any) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        query = select(AuditEntry).order_by(AuditEntry.seq)
        for name, value in where.items():
            query = query.where(getattr(AuditEntry, name) == value)
        return list((await session.execute(query)).scalars())


async def run_cli(monkeypatch, capsys, db_url: str, *args: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    """``ecoach ARGS`` in this process (its own event loop, in a thread): the exit code,
    stdout and stderr. Much quicker than a new interpreter; ``tests.test_quarantine_admin
    .ecoach`` runs the real command where that matters."""
    monkeypatch.setenv("ECOACH_DATABASE_URL", db_url)
    monkeypatch.setenv("ECOACH_SECRET_KEY", "test-secret-key")
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


async def tamper(engine: AsyncEngine, *statements: str) -> None:
    """Run statements with the append-only triggers disabled (an intruder with the
    database owner's rights, or with the SQLite file)."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER USER"))
            await conn.execute(text("ALTER TABLE audit_head DISABLE TRIGGER USER"))
        else:
            for name in SQLITE_TRIGGERS:
                await conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        for sql in statements:
            await conn.execute(text(sql))


async def append_many(url: str, name: str, count: int, folder: Path | None = None) -> None:
    """Append ``count`` entries. With ``folder``, half-way this writer waits for the other
    one to be half-way too: the two runs then overlap whatever the machine's load (a
    writer that started late cannot find the other one finished)."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        with acting(Origin(via="cli", client=name)):
            for i in range(count):
                if folder is not None and i == count // 2:
                    await _halfway(folder, name)
                async with unit_of_work(sessions) as session:
                    record_audit(session, "search", coach_id=None, now=AT, results=i)
    finally:
        await engine.dispose()


async def _halfway(folder: Path, name: str) -> None:
    (folder / f"half-{name}").touch()
    deadline = time.monotonic() + 120
    while not all((folder / f"half-{n}").exists() for n in ("a", "b")):
        if time.monotonic() > deadline:
            raise SystemExit("the other writer never got half-way")
        await asyncio.sleep(0.01)


def main(url: str, name: str, count: str, folder: str) -> None:
    where = Path(folder)
    (where / f"ready-{name}").touch()
    deadline = time.monotonic() + 60
    while not (where / "go").exists():  # a start line, so both writers run at once
        if time.monotonic() > deadline:
            raise SystemExit("no start signal")
        time.sleep(0.01)
    asyncio.run(append_many(url, name, int(count), where))


if __name__ == "__main__":
    main(*sys.argv[1:5])
