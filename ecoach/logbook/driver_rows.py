"""Rows in the driver's own form, for the chat's bulk statements.

SQLAlchemy runs every bound value through its column type's bind processor, row by row:
for a chat batch's multi-row INSERT that was some 900 calls (the sealed columns' check and
``sqlite3.Binary`` wrap, the datetimes' zone handling and formatting), a good part of a
message's cost. The chat's two bulk statements (the exchanges' INSERT, the inbox summaries'
UPDATE) are built on ``untyped(table)`` instead, and the caller binds values that are in
the driver's form already: ciphertexts as sealed (``bytes``), plain strings and numbers as
they are, and anything else converted once with ``to_driver`` (which applies the real
column type's own processor, so the stored value is exactly the ORM's).
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Column, Table, column, table
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import TableClause


@cache
def untyped(source: Table) -> TableClause:
    """``source`` with columns of no type: what is bound to them reaches the driver as given
    (no defaults either: the caller gives every value)."""
    return table(source.name, *(column(c.name) for c in source.c))


@lru_cache(maxsize=64)
def _processor(col: Column[Any], dialect: Dialect) -> Any:
    # The dialect's own implementation (SQLite's DATETIME formats its strings), as
    # SQLAlchemy binds it: the generic type's processor would leave that step out.
    return col.type.dialect_impl(dialect).bind_processor(dialect)


def to_driver(col: Column[Any], dialect: Dialect, value: Any) -> Any:
    """``value`` as the column's type would hand it to the driver."""
    processor = _processor(col, dialect)
    return value if processor is None or value is None else processor(value)
