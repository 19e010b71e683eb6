"""Reading sealed values straight from a SQLite file (as a test that checks what a server
process stored does), with the suite's test master key."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from ecoach.core.crypto import DataKey, MasterKeys, key_id_of
from tests.conftest import TEST_MASTER_KEY


def opened(db: Path, table: str, column: str, *extra: str, kind: str = "text") -> list[tuple[Any, ...]]:
    """Every row's ``column`` opened, followed by the ``extra`` columns as stored."""
    masters = MasterKeys([TEST_MASTER_KEY])
    with sqlite3.connect(db) as conn:
        wraps = {kid: DataKey(kid, masters.unwrap(kid, master, wrapped))
                 for kid, master, wrapped in conn.execute("SELECT data_key_id, master_key_id, wrapped "
                                                          "FROM data_key_wrap WHERE master_key_id = 'test'")}
        rows = conn.execute(f"SELECT {', '.join((column, *extra))} FROM {table} ORDER BY rowid").fetchall()
    found = []
    for value, *rest in rows:
        blob = value.encode() if isinstance(value, str) else value
        key = wraps[key_id_of(blob)] if blob is not None and key_id_of(blob) is not None else DataKey(0, None)
        found.append((key.open(f"{table}.{column}", kind, blob) if blob is not None else None, *rest))
    return found
