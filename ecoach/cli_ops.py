"""``ecoach backup`` and ``ecoach restore``: the database to a file and back.

SQLite: the online backup API (consistent while ``ecoach serve`` runs). PostgreSQL:
``pg_dump`` / ``pg_restore`` in custom format when they are on PATH; otherwise the error
names the command to run by hand. Either way the file is checked to be an ecoach database
at a migration this version knows, and a restore never replaces data without asking.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ecoach.cli import CliError
from ecoach.logbook.backup import BackupError, Snapshot, hold_database, holds
from ecoach.settings import Settings


def add_ops_commands(sub: Any) -> None:
    backup = sub.add_parser("backup", help="copy the database into FILE, also while servers run")
    backup.add_argument("file", type=Path, help="SQLite: a database file; PostgreSQL: a pg_dump archive")
    backup.add_argument("--overwrite", action="store_true", help="replace FILE when it exists")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help="replace the database with the backup in FILE")
    restore.add_argument("file", type=Path)
    restore.add_argument("--yes", action="store_true", help="replace a database that holds data without asking")
    restore.add_argument("--force", action="store_true",
                         help="restore even while a server uses the database (it sees the restored data)")
    restore.set_defaults(func=cmd_restore)


@contextmanager
def serving(settings: Settings) -> Iterator[None]:
    """Held by ``ecoach serve`` while it runs: ``restore`` refuses to pull the database away
    from under it, and it does not start halfway through a restore."""
    try:
        with hold_database(settings.database_url):
            yield
    except BackupError as exc:
        raise CliError(str(exc)) from None


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    try:
        if settings.is_sqlite:
            from ecoach.logbook.backup import backup_sqlite

            snapshot = backup_sqlite(settings.database_url, args.file, overwrite=args.overwrite)
        else:
            from ecoach.logbook.backup_pg import backup_pg

            snapshot = backup_pg(settings.database_url, args.file, overwrite=args.overwrite)
    except (BackupError, OSError) as exc:
        raise CliError(f"backup failed: {exc}") from None
    size = args.file.stat().st_size
    print(f"backup written to {args.file} ({size / 1e6:.1f} MB): {snapshot.describe()}")
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    def confirm(current: Snapshot) -> bool:
        if args.yes:
            return True
        data = holds(current.counts)
        if not sys.stdin.isatty():
            raise BackupError(f"the database holds data ({data}): add --yes to replace it with {args.file}")
        answer = input(f"The database holds {data}. Replace it with {args.file}? [y/N] ")
        return answer.strip().lower() in ("y", "yes", "j", "ja")

    try:
        if settings.is_sqlite:
            from ecoach.logbook.backup import restore_sqlite

            snapshot = restore_sqlite(args.file, settings.database_url, force=args.force, confirm=confirm)
        else:
            from ecoach.logbook.backup_pg import restore_pg

            snapshot = restore_pg(args.file, settings.database_url, force=args.force, confirm=confirm)
    except (BackupError, OSError) as exc:
        raise CliError(f"restore failed: {exc}") from None
    print(f"restored {args.file}: {snapshot.describe()}")
    return 0
