"""Backups of the logbook on SQLite, through SQLite's online backup API.

A backup copies one consistent snapshot (a single read transaction: in WAL mode the server
goes on writing meanwhile) into a new file that stands alone (rollback journal, no -wal
beside it), checks it and only then renames it into place, so a half-written backup never
has the name of a finished one. A restore first checks that the file is an ecoach database
at a migration this version knows, then copies it over the database through the same API
(which also deals with the target's -wal file correctly; copying the file would not).

``ecoach serve`` holds a shared lock on ``<database>-ecoach.lock`` for as long as it runs
(``hold_database``); a restore wants it exclusively, so it can tell that a server is using
the database, and a server cannot start halfway through a restore. PostgreSQL: backup_pg.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from ecoach.logbook.db import alembic_config

# Tables every ecoach database has had since its first migration, and the counts a backup
# and a restore report.
ECOACH_TABLES = ("coach", "engagement", "exchange")


class BackupError(Exception):
    """A backup or restore cannot go on; the message says why and what to do."""


STATES = {
    "newest": "newest",
    "older": "older: run `ecoach migrate` after restoring",
    "newer": "made by a newer ecoach: restore it with that version",
}


@dataclass(frozen=True)
class Snapshot:
    """What a database or backup file holds."""

    revisions: tuple[str, ...]
    state: str  # newest, older or newer than this version's migrations
    counts: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        text = f"migration {', '.join(self.revisions)} ({STATES[self.state]})"
        if self.counts:
            text += "; " + holds(self.counts)
        return text

    def require_known(self, what: str) -> Snapshot:
        if self.state == "newer":
            raise BackupError(f"{what} is at migration {', '.join(self.revisions)}, which this ecoach does not "
                              "know: it was made by a newer version; upgrade ecoach first")
        return self


PLURALS = {"coach": "coaches", "engagement": "engagements", "exchange": "exchanges"}


def holds(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {table if n == 1 else PLURALS[table]}" for table, n in counts.items())


def migration_state(revisions: tuple[str, ...], what: str) -> str:
    """newest, older or newer (a migration this version does not know); BackupError when
    there is no migration at all."""
    if not revisions:
        raise BackupError(f"{what} is not an ecoach database (it has no migration version)")
    script = ScriptDirectory.from_config(alembic_config())
    if set(revisions) - {rev.revision for rev in script.walk_revisions()}:
        return "newer"
    return "newest" if set(revisions) == set(script.get_heads()) else "older"


# --- SQLite -------------------------------------------------------------------------------


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"database_url {url!r} names no database file to back up or restore")
    return Path(database)


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + "-ecoach.lock")


@contextmanager
def hold_database(url: str) -> Iterator[None]:
    """For a server's lifetime: a shared lock that tells ``restore`` the database is in use
    (several servers may share it). Nothing for PostgreSQL. The lock is on a file of its
    own: a second descriptor on the database file would drop SQLite's own POSIX locks when
    it is closed."""
    if not url.startswith("sqlite"):
        yield
        return
    database = sqlite_path(url)
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path(database), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"a restore into {database} is running (it holds {lock_path(database)}); "
                              "start the server when it has finished") from None
        yield


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    # mode=ro / rw never creates a file: a mistyped path is an error, not an empty database.
    conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode={mode}", uri=True, timeout=30)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def read_snapshot(conn: sqlite3.Connection, what: str) -> Snapshot:
    """The migration and counts of an ecoach database."""
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{what} is not an SQLite database ({exc})") from None
    if "alembic_version" not in tables or not set(ECOACH_TABLES) <= tables:
        raise BackupError(f"{what} is not an ecoach database (no {', '.join(ECOACH_TABLES)} tables)")
    revisions = tuple(sorted(r for (r,) in conn.execute("SELECT version_num FROM alembic_version")))
    counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in ECOACH_TABLES}
    return Snapshot(revisions, migration_state(revisions, what), counts)


def inspect_sqlite(path: Path) -> Snapshot:
    """Check a backup file: readable, intact, an ecoach database (and at which migration)."""
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    try:
        with closing(_connect(path, "ro")) as conn:
            (verdict,) = conn.execute("PRAGMA quick_check").fetchone()
            if verdict != "ok":
                raise BackupError(f"{path} is damaged: {verdict}")
            return read_snapshot(conn, str(path))
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not an SQLite database ({exc})") from None


def new_private_file(path: Path) -> None:
    """An empty file only its owner can read: a backup holds every coachee's messages."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup_sqlite(url: str, target: Path, *, overwrite: bool = False) -> Snapshot:
    source = sqlite_path(url)
    if not source.is_file():
        raise BackupError(f"there is no database at {source}")
    if target.exists() and not overwrite:
        raise BackupError(f"{target} exists already (add --overwrite to replace it)")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    new_private_file(partial)
    try:
        with closing(_connect(source, "rw")) as src, closing(sqlite3.connect(partial)) as dst:
            src.backup(dst)  # all pages in one step: one read transaction, one snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        snapshot = inspect_sqlite(partial)
        fsync_path(partial)
        os.replace(partial, target)
        fsync_path(target.parent)
    finally:
        partial.unlink(missing_ok=True)
    return snapshot


def restore_sqlite(source: Path, url: str, *, force: bool, confirm: Callable[[Snapshot], bool]) -> Snapshot:
    """Copy the backup ``source`` over the database of ``url``. ``confirm(current)`` is asked
    before a database that holds data is replaced; ``force`` restores even while a server
    uses the database."""
    snapshot = inspect_sqlite(source).require_known(str(source))
    target = sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path(target), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            alone = True
        except BlockingIOError:
            if not force:
                raise BackupError(f"a running ecoach server uses {target}: stop it first "
                                  "(or add --force to restore under it)") from None
            alone = False
        _replace(source, target, confirm)
        with closing(_connect(target, "rw")) as conn:  # read-write: closing it tidies the -wal away
            restored = read_snapshot(conn, str(target))
    # Under --force a running server may write at once; alone, the copy must match exactly.
    if alone and restored.counts != snapshot.counts:
        raise BackupError(f"the restored database differs from {source}: {restored.counts} != {snapshot.counts}")
    return restored


def _replace(source: Path, target: Path, confirm: Callable[[Snapshot], bool]) -> None:
    if target.is_file() and target.stat().st_size > 0:
        with closing(_connect(target, "rw")) as conn:
            current = _current(conn, target)
        if current is not None and not confirm(current):
            raise BackupError(f"{target} was left as it was")
    with closing(_connect(source, "ro")) as src, closing(sqlite3.connect(target, timeout=30)) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL")  # as the server runs it


def _current(conn: sqlite3.Connection, target: Path) -> Snapshot | None:
    """What the database to be replaced holds: None when it is empty (no tables at all);
    a database of something else is not overwritten."""
    try:
        has_tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{target} is not an SQLite database ({exc}); not overwriting it") from None
    if not has_tables:
        return None
    try:
        return read_snapshot(conn, str(target))
    except BackupError as exc:
        raise BackupError(f"{exc}; not overwriting it") from None
