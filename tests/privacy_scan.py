"""Looking for marker strings where the database keeps its bytes: the SQLite file with its
write-ahead log and shared-memory file, or a ``pg_dump`` of the PostgreSQL database.

A marker counts in any of the forms it could be stored in: as written, lower or upper case,
and as hexadecimal (how a plain pg_dump writes bytea columns)."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.engine import make_url

from ecoach.logbook.backup_pg import libpq_env
from tests.pg import find_binary


def sqlite_files(db_url: str) -> list[Path]:
    path = Path(make_url(db_url).database or "")
    return [p for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")) if p.exists()]


def dump(db_url: str, tmp_path: Path, *, after_checkpoint: bool = False) -> bytes:
    """The bytes to search: the SQLite files as they are (after a WAL checkpoint if asked,
    as a server does after an erasure), or a plain pg_dump."""
    if db_url.startswith("sqlite"):
        files = sqlite_files(db_url)
        if after_checkpoint:
            with sqlite3.connect(files[0]) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            files = sqlite_files(db_url)
        return b"".join(p.read_bytes() for p in files)
    pg_dump = find_binary("pg_dump")
    assert pg_dump, "pg_dump is not installed"
    out = tmp_path / f"dump-{len(list(tmp_path.glob('dump-*')))}.sql"
    done = subprocess.run([pg_dump, "--no-password", "--format=plain", f"--file={out}"],
                          env={**libpq_env(db_url), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


def forms(marker: str) -> set[bytes]:
    found = set()
    for variant in {marker, marker.lower(), marker.upper()}:
        raw = variant.encode("utf-8")
        found |= {raw, raw.hex().encode(), raw.hex().upper().encode()}
    return found


def occurrences(db_url: str, tmp_path: Path, markers: Iterable[str], *, after_checkpoint: bool = False) -> dict[str, int]:
    data = dump(db_url, tmp_path, after_checkpoint=after_checkpoint)
    return {m: sum(data.count(form) for form in forms(m)) for m in markers}
