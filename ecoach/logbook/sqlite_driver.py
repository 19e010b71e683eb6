"""SQLite through aiosqlite with one trip to its thread per statement.

aiosqlite runs every sqlite3 call in its own thread and hands the result back to the event
loop. SQLAlchemy's adapter makes four such trips per statement (open a cursor, execute,
fetch the rows, close the cursor); each is a thread wake-up and a loop wake-up, and on a
busy machine each costs more than the statement itself (py-spy on the chat's write path:
most of its time went to ``SimpleQueue.put_nowait``, the hand-over to aiosqlite's thread).
Here one function does all four in that thread, so a statement costs one trip.

Only the cursor differs from SQLAlchemy's aiosqlite adapter (and a rollback with no
transaction open costs no trip): connections, transactions, errors (the same sqlite3
exceptions, translated by the adapter) and the dialect are theirs. Server-side cursors
(``stream()``) keep SQLAlchemy's own cursor.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

Outcome = tuple[Any, int, Any, list[Any] | None]


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    """In aiosqlite's thread: execute, read every row, close. (description, rowcount,
    lastrowid, rows or None)."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement and rows come back in one trip."""

    __slots__ = ("_outcome", "_arraysize")

    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No sqlite3 cursor is opened here (that was a trip of its own): ``_run`` opens one.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._outcome: Outcome = (None, -1, None, None)
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._outcome[0]

    @property
    def rowcount(self) -> int:
        return self._outcome[1]

    @property
    def lastrowid(self) -> Any:
        return self._outcome[2]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._trip(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._trip(operation, seq_of_parameters, many=True)

    async def _trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            self._outcome = await connection._execute(_run, connection._conn, operation, parameters, many)
        rows = self._outcome[3]
        self._rows = collections.deque(rows) if rows else collections.deque()

    async def _async_soft_close(self) -> None:
        return None  # nothing is open between statements

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    _cursor_cls = OneTripCursor

    def rollback(self) -> None:
        # The pool rolls back every connection it takes back, after a commit too. With no
        # transaction open sqlite3's rollback() does nothing, so its trip to aiosqlite's
        # thread (one per chat batch) is skipped. The flag is read from this thread: the
        # connection is idle (checked in), and is opened with check_same_thread=False.
        connection = self._connection
        if connection._connection is not None and not connection._connection.in_transaction:
            return
        super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite DB-API adapter, with ``OneTripConnection``s."""

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as SQLAlchemy's adapter: never block the exit
        return OneTripConnection(self, await_(connection))


def dbapi() -> OneTripDBAPI:
    """For ``create_async_engine(url, module=dbapi())``."""
    return OneTripDBAPI(aiosqlite, sqlite3)
