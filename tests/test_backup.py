"""``ecoach backup`` and ``ecoach restore`` on real databases (SQLite and PostgreSQL).

A real ``ecoach serve`` records a coachee's chat messages one after another while the
backup runs in another process; the backup restored into a fresh place holds every message
acknowledged before it started, each once, and is one consistent snapshot (its exchanges
are exactly the first N of the source's); a server started on it shows them all.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from ecoach.logbook.db import create_engine
from tests.conftest import _admin, _drop_database, _with_db, run_async
from tests.dovecot import wait_until
from tests.server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[1]


def ecoach(workdir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The ``ecoach`` command as an operator runs it (stdin is not a terminal)."""
    return subprocess.run([sys.executable, "-m", "ecoach", *args], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture
def fresh_url(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty place to restore into: a new SQLite path, or a new empty PostgreSQL database."""
    if db_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'ecoach.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    name = f"r_{uuid.uuid4().hex[:16]}"
    run_async(lambda: _admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield _with_db(server, name)
    finally:
        run_async(lambda: _drop_database(server, name))


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path, db_url, ECOACH_SCHEDULER__ENABLED="false")
    server.cli("coach", "add", "--name", "Marieke", "--email", "marieke@example.org", "--password", "pw-123456789")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def new_engagement(server: ServerProcess, name: str) -> str:
    out = server.cli("engagement", "add", "--coach", "marieke@example.org", "--name", name)
    return re.search(r"/c/(\S+)", out).group(1)  # type: ignore[union-attr]


async def chat(url: str, token: str, acked: list[str], stop: asyncio.Event) -> None:
    """A coachee sending message after message, each once its predecessor is acknowledged."""
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{url}/c/{token}/ws") as ws:
        while not stop.is_set():
            client_id = f"backup-{len(acked):06d}"
            await ws.send_json({"type": "message", "client_id": client_id, "text": client_id})
            while (frame := await ws.receive_json(timeout=30)).get("client_id") != client_id:
                assert frame["type"] != "error", frame
            assert frame["type"] == "ack", frame
            acked.append(client_id)


async def chat_ids(db_url: str) -> list[tuple[int, str]]:
    """(exchange id, the client id it was sent with) of every chat message, in id order."""
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT id, external_id FROM exchange WHERE direction = 'in' ORDER BY id"))
            return [(row.id, row.external_id.removeprefix("chat:")) for row in rows]
    finally:
        await engine.dispose()


async def history(url: str, token: str) -> list[str]:
    """Every exchange the coachee's chat shows, read through a server's websocket."""
    seen: list[str] = []
    after = 0
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{url}/c/{token}/ws") as ws:
        while True:
            await ws.send_json({"type": "sync", "after": after})
            while (frame := await ws.receive_json(timeout=30))["type"] != "history":
                pass
            if not frame["exchanges"]:
                return seen
            seen += [exchange["text"] for exchange in frame["exchanges"]]
            after = frame["exchanges"][-1]["id"]


async def test_backup_while_a_server_writes_then_restore_into_a_fresh_place(
    served: ServerProcess, db_url: str, fresh_url: str, tmp_path: Path,
) -> None:
    token = new_engagement(served, "Sanne")
    acked: list[str] = []
    stop = asyncio.Event()
    writer = asyncio.create_task(chat(served.url, token, acked, stop))
    await wait_until(lambda: len(acked) >= 20 or writer.done())
    before = list(acked)  # committed before the backup started: it must hold all of them
    backup = tmp_path / "ecoach.backup"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ecoach", "backup", str(backup), cwd=served.workdir, env=served.env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    during = len(acked) - len(before)
    stop.set()
    await writer
    assert proc.returncode == 0, err.decode()
    assert "backup written to" in out.decode() and "(newest)" in out.decode()
    assert during > 0, "the chat went on while the backup ran"
    assert backup.stat().st_mode & 0o077 == 0, "a backup is readable by its owner only"
    served.stop()

    restore_env = {**served.env, "ECOACH_DATABASE_URL": fresh_url}
    done = ecoach(served.workdir, restore_env, "restore", str(backup))
    assert done.returncode == 0, done.stderr
    assert "restored" in done.stdout and "1 engagement" in done.stdout

    source, restored = await chat_ids(db_url), await chat_ids(fresh_url)
    restored_ids = [client_id for _, client_id in restored]
    assert len(set(restored_ids)) == len(restored_ids), "no exchange twice"
    assert set(before) <= set(restored_ids), "every message acknowledged before the backup is in it"
    assert restored == source[:len(restored)], "one snapshot: the first N exchanges, exactly as they were"

    again = ServerProcess(tmp_path, fresh_url, ECOACH_SCHEDULER__ENABLED="false")
    again.start()
    try:
        assert await history(again.url, token) == restored_ids  # each message's text is its client id
    finally:
        again.stop()


async def test_restore_refuses_a_database_a_running_server_uses_unless_forced(
    served: ServerProcess, db_url: str, tmp_path: Path,
) -> None:
    # The refused restore runs as a real process; the other commands in this interpreter.
    here = functools.partial(asyncio.to_thread, served.here)
    await here("engagement", "add", "--coach", "marieke@example.org", "--name", "Sanne")
    backup = tmp_path / "before.backup"
    assert (await here("backup", str(backup))).returncode == 0
    # Made after the backup: the restore takes it away.
    await here("engagement", "add", "--coach", "marieke@example.org", "--name", "Joris")

    refused = ecoach(served.workdir, served.env, "restore", str(backup), "--yes")
    assert refused.returncode == 1
    assert "stop it first" in refused.stderr or "stop them first" in refused.stderr, refused.stderr
    assert "--force" in refused.stderr
    assert (await count(db_url, "engagement")) == 2, "nothing was changed"

    unasked = await here("restore", str(backup), "--force")
    assert unasked.returncode == 1 and "add --yes" in unasked.stderr, unasked.stderr
    assert "2 engagements" in unasked.stderr

    forced = await here("restore", str(backup), "--force", "--yes")
    assert forced.returncode == 0, forced.stderr
    assert (await count(db_url, "engagement")) == 1
    async with aiohttp.ClientSession() as http, http.get(served.url + "/healthz") as response:
        assert response.status == 200, "the server goes on, on the restored data"


async def count(db_url: str, table: str) -> int:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
    finally:
        await engine.dispose()


async def test_restore_refuses_what_is_not_an_ecoach_database_at_a_known_migration(
    db_url: str, fresh_url: str, tmp_path: Path,
) -> None:
    env = {**os.environ, "ECOACH_DATABASE_URL": db_url, "ECOACH_SECRET_KEY": "k"}
    fresh = {**env, "ECOACH_DATABASE_URL": fresh_url}
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup\n" * 100)
    done = ecoach(tmp_path, fresh, "restore", str(junk))
    assert done.returncode == 1 and ("not an SQLite database" in done.stderr or "not a pg_dump" in done.stderr)
    assert ecoach(tmp_path, fresh, "restore", str(tmp_path / "missing.db")).stderr.strip().endswith("does not exist")

    # A backup of a database made by a newer ecoach (a migration this one does not know).
    engine = create_engine(db_url)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    await engine.dispose()
    newer = tmp_path / "newer.backup"
    made = ecoach(tmp_path, env, "backup", str(newer))
    assert made.returncode == 0 and "made by a newer ecoach" in made.stdout, made.stderr
    done = ecoach(tmp_path, fresh, "restore", str(newer))
    assert done.returncode == 1 and "upgrade ecoach first" in done.stderr, done.stderr


def test_restore_refuses_another_programs_sqlite_database(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    env = {**os.environ, "ECOACH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'e.db'}"}
    done = ecoach(tmp_path, env, "restore", str(other))
    assert done.returncode == 1 and "not an ecoach database" in done.stderr, done.stderr
    assert not (tmp_path / "e.db").exists()


def test_a_server_does_not_start_while_a_restore_holds_the_database(tmp_path: Path) -> None:
    import fcntl

    database = tmp_path / "ecoach.db"
    env = {**os.environ, "ECOACH_DATABASE_URL": f"sqlite+aiosqlite:///{database}", "ECOACH_SECRET_KEY": "k"}
    with open(tmp_path / "ecoach.db-ecoach.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as `ecoach restore` holds it
        done = ecoach(tmp_path, env, "serve")
    assert done.returncode == 1
    assert "a restore into" in done.stderr and "is running" in done.stderr, done.stderr


def test_backup_without_pg_dump_names_the_command_to_run(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://ecoach:s3cret@db.internal:5433/ecoach"  # never reached: no pg_dump
    env = {**os.environ, "ECOACH_DATABASE_URL": url, "PATH": str(tmp_path)}
    done = ecoach(tmp_path, env, "backup", str(tmp_path / "x.dump"))
    assert done.returncode == 1
    assert "pg_dump is not on PATH" in done.stderr
    expected = f"pg_dump --format=custom --file={tmp_path / 'x.dump'} 'postgresql://ecoach@db.internal:5433/ecoach'"
    assert expected in done.stderr, done.stderr
    assert "s3cret" not in done.stderr
