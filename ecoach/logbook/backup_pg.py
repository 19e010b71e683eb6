"""Backups of the logbook on PostgreSQL: ``pg_dump`` and ``pg_restore`` do the work.

pg_dump reads one snapshot (a repeatable-read transaction), so a backup taken while the
servers run is consistent. ecoach runs the tools when they are on PATH, with the connection
from ``database_url`` passed in libpq's environment variables (a password never shows in
``ps``), and checks the archive as it does an SQLite file: an ecoach database at a migration
this version knows. Without them, the error names the command to run by hand.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url

from ecoach.logbook.backup import (
    ECOACH_TABLES, BackupError, Snapshot, fsync_path, migration_state, new_private_file,
)

RESTORE_OPTIONS = ("--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges")


def libpq_env(url: str) -> dict[str, str]:
    """PG* variables for the libpq tools from a postgresql+asyncpg:// URL."""
    parsed = make_url(url)
    query = {key: str(value) for key, value in parsed.query.items()}
    given = {
        "PGHOST": parsed.host or query.get("host"),
        "PGPORT": str(parsed.port) if parsed.port else query.get("port"),
        "PGUSER": parsed.username,
        "PGPASSWORD": parsed.password,
        "PGDATABASE": parsed.database,
        "PGSSLMODE": query.get("sslmode") or query.get("ssl"),
    }
    return {key: value for key, value in given.items() if value}


def by_hand(url: str, tool: str, file: Path) -> str:
    """The command to run instead, with the URL's password left out."""
    given = make_url(url)
    target = URL.create("postgresql", username=given.username, host=given.host, port=given.port,
                        database=given.database, query=given.query).render_as_string()
    if tool == "pg_dump":
        return f"pg_dump --format=custom --file={file} '{target}'"
    return f"pg_restore {' '.join(RESTORE_OPTIONS)} --dbname='{target}' {file}"


def _tool(name: str, url: str, file: Path) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not on PATH: install the PostgreSQL client tools (the server's major "
                          f"version or newer), or run it yourself: {by_hand(url, name, file)}")
    return found


def _run(command: list[str], url: str) -> subprocess.CompletedProcess[str]:
    """Run a libpq tool on ``url``'s database; never waits for a password prompt."""
    env = {**os.environ, **libpq_env(url)}
    done = subprocess.run([command[0], "--no-password", *command[1:]], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        name = Path(command[0]).name
        raise BackupError(f"{name} failed: {done.stderr.strip() or f'exit status {done.returncode}'}")
    return done


def inspect_dump(path: Path, url: str) -> Snapshot:
    """Check a pg_dump archive: a backup of an ecoach database (and at which migration)."""
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    pg_restore = _tool("pg_restore", url, path)
    listing = subprocess.run([pg_restore, "--list", str(path)], capture_output=True, text=True)
    if listing.returncode != 0:
        raise BackupError(f"{path} is not a pg_dump archive in custom format ({listing.stderr.strip()})")
    tables = set(re.findall(r"^\d+; \d+ \d+ TABLE \S+ (\S+) ", listing.stdout, re.MULTILINE))
    if "alembic_version" not in tables or not set(ECOACH_TABLES) <= tables:
        raise BackupError(f"{path} is not a backup of an ecoach database (no {', '.join(ECOACH_TABLES)} tables)")
    data = subprocess.run([pg_restore, "--data-only", "--table=alembic_version", "--file=-", str(path)],
                          capture_output=True, text=True, check=False)
    copy = re.search(r"^COPY \S*alembic_version .*?FROM stdin;\n(.*?)^\\\.$", data.stdout, re.MULTILINE | re.DOTALL)
    revisions = tuple(sorted(copy.group(1).split())) if copy else ()
    return Snapshot(revisions, migration_state(revisions, str(path)))


def backup_pg(url: str, target: Path, *, overwrite: bool = False) -> Snapshot:
    pg_dump = _tool("pg_dump", url, target)
    if target.exists() and not overwrite:
        raise BackupError(f"{target} exists already (add --overwrite to replace it)")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    new_private_file(partial)
    try:
        _run([pg_dump, "--format=custom", f"--file={partial}"], url)
        snapshot = inspect_dump(partial, url)
        fsync_path(partial)
        os.replace(partial, target)
        fsync_path(target.parent)
    finally:
        partial.unlink(missing_ok=True)
    return snapshot


def restore_pg(source: Path, url: str, *, force: bool, confirm: Callable[[Snapshot], bool]) -> Snapshot:
    """Restore the archive ``source`` into the database of ``url`` (which must exist; an
    empty one, made with ``createdb``, is the usual place). ``confirm(current)`` is asked
    before a database that holds ecoach data is replaced; ``force`` restores even while
    other sessions (servers) are connected to it."""
    inspect_dump(source, url).require_known(str(source))
    pg_restore = _tool("pg_restore", url, source)
    current, others = asyncio.run(_target_state(url))
    if others and not force:
        raise BackupError(f"{others} other session(s) are connected to database {make_url(url).database!r} "
                          "(running ecoach servers?): stop them first (or add --force to restore under them)")
    clean: list[str] = []
    if current is not None:
        if not confirm(current):
            raise BackupError(f"database {make_url(url).database!r} was left as it was")
        clean = ["--clean", "--if-exists"]
    _run([pg_restore, *RESTORE_OPTIONS, *clean, f"--dbname={make_url(url).database}", str(source)], url)
    restored, _ = asyncio.run(_target_state(url))
    if restored is None:
        raise BackupError("the restored database holds no ecoach tables")
    return restored


async def _target_state(url: str) -> tuple[Snapshot | None, int]:
    """What the database holds (None when it has no ecoach tables) and how many other
    sessions are connected to it."""
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        conn = await asyncpg.connect(plain)
    except (OSError, asyncpg.PostgresError) as exc:
        raise BackupError(f"database {make_url(url).database!r} is not reachable: {exc}") from None
    try:
        others = await conn.fetchval("SELECT count(*) FROM pg_stat_activity "
                                     "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        present = {r["table_name"] for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}
        if "alembic_version" not in present or not set(ECOACH_TABLES) <= present:
            return None, others
        revisions = tuple(sorted(r["version_num"] for r in await conn.fetch("SELECT version_num FROM alembic_version")))
        counts = {t: await conn.fetchval(f'SELECT count(*) FROM "{t}"') for t in ECOACH_TABLES}
    finally:
        await conn.close()
    return Snapshot(revisions, migration_state(revisions, "the database"), counts), others
