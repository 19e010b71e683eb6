"""Deleting everything of an engagement (or coachee): the one exception to the logbook's
append-only rule.

The rows to delete are found through the schema itself: every row whose foreign key
points at a deleted row is deleted too, children before parents, whatever table it is in
(so a table added later is erased with the engagement once it has a foreign key to it,
or to a row that has one). A table whose rows must outlive an erasure (an audit trail)
sets ``__keep_on_erasure__ = True`` on its model: its references are set to NULL instead.

Scheduled tasks name their rows in their parameters, not by foreign key: those naming a
deleted engagement, exchange, booking or nudge are deleted as well.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.logbook.key_models import Erasure
from ecoach.logbook.models import Base
from ecoach.logbook.task_models import RUNNING, Task

# Task parameters that name a row, and the table of that row.
TASK_PARAMS = {"engagement_id": "engagement", "exchange_id": "exchange", "booking_id": "booking",
               "nudge_id": "nudge"}


def _kept(table: sa.Table) -> bool:
    return any(getattr(m.class_, "__keep_on_erasure__", False) for m in Base.registry.mappers
               if m.local_table is table)


def plan(root: sa.Table, where: sa.ColumnElement[bool]) -> dict[sa.Table, sa.ColumnElement[bool]]:
    """For each table reached from ``root``'s rows matching ``where`` (by foreign keys
    pointing at rows to delete), the condition its rows to delete meet."""
    edges: dict[sa.Table, list[sa.ForeignKey]] = {}
    reached = {root}
    changed = True
    while changed:
        changed = False
        for table in Base.metadata.sorted_tables:
            if table is root or _kept(table):
                continue
            for fk in table.foreign_keys:
                if fk.column.table in reached and fk.column.table is not table and fk not in edges.get(table, []):
                    edges.setdefault(table, []).append(fk)
                    reached.add(table)
                    changed = True
    conditions: dict[sa.Table, sa.ColumnElement[bool]] = {root: where}
    for table in Base.metadata.sorted_tables:  # parents before children
        if table in edges:
            found = [fk.parent.in_(sa.select(fk.column).where(conditions[fk.column.table])) for fk in edges[table]]
            conditions[table] = found[0] if len(found) == 1 else sa.or_(*found)
    return conditions


def data_keys_of(conn: Connection, planned: dict[sa.Table, sa.ColumnElement[bool]]) -> set[int]:
    """The data keys the planned rows own (an engagement's, a coachee's)."""
    found: set[int] = set()
    for table, condition in planned.items():
        if "data_key_id" in table.c:
            found.update(k for k in conn.execute(sa.select(table.c.data_key_id).where(condition)).scalars() if k)
    return found


def delete_planned(conn: Connection, planned: dict[sa.Table, sa.ColumnElement[bool]]) -> dict[str, int]:
    """Delete the planned rows, children first; rows of kept tables lose their references.
    Returns the rows deleted per table."""
    counts: dict[str, int] = {}
    _delete_tasks(conn, planned, counts)
    for table in Base.metadata.sorted_tables:
        if not _kept(table):
            continue
        for fk in table.foreign_keys:
            if fk.column.table in planned and fk.parent.nullable:
                conn.execute(sa.update(table).where(fk.parent.in_(sa.select(fk.column).where(
                    planned[fk.column.table]))).values({fk.parent.name: None}))
    for table in reversed(Base.metadata.sorted_tables):
        if table in planned:
            done = conn.execute(sa.delete(table).where(planned[table]))
            if done.rowcount:
                counts[table.name] = counts.get(table.name, 0) + int(done.rowcount)
    return counts


def _delete_tasks(conn: Connection, planned: dict[sa.Table, sa.ColumnElement[bool]], counts: dict[str, int]) -> None:
    tables = {t.name: t for t in planned}
    named = []
    for param, table_name in TASK_PARAMS.items():
        table = tables.get(table_name)
        if table is None:
            continue
        ids = conn.execute(sa.select(table.c.id).where(planned[table])).scalars().all()
        if ids:
            named.append(Task.params[param].as_integer().in_(ids))
    if named:
        # Not a running task: its runner marks it done in its own transaction, which may be
        # this very erasure (the retention task erasing its engagement); without its row
        # the runner would take the lease for lost and roll the erasure back.
        done = conn.execute(sa.delete(Task).where(sa.or_(*named), Task.status != RUNNING))
        counts["task"] = int(done.rowcount or 0)


async def get_erasure(session: AsyncSession, coach_id: int, erasure_id: int) -> Erasure | None:
    """An erasure this coach made (its record: no content)."""
    stmt = sa.select(Erasure).where(Erasure.id == erasure_id, Erasure.coach_id == coach_id)
    return (await session.execute(stmt)).scalar_one_or_none()
