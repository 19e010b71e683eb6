"""The exchanges' INSERT of ``record_exchanges``: one multi-row statement per batch, its
personal fields sealed and its search tokens computed here, its rows in the driver's form
(``logbook.driver_rows``), and each new exchange built from the values it was stored with.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.core.crypto import text_tokens
from ecoach.logbook.driver_rows import to_driver, untyped
from ecoach.logbook.keyring import SealingKey, keyring_of
from ecoach.logbook.models import Exchange
from ecoach.logbook.sealed import FieldSpec, ScopeRef, spec_of


_ROWS = untyped(Exchange.__table__)


@cache
def _insert(dialect: str):  # type: ignore[no-untyped-def]
    """The batch's INSERT, on untyped columns: its rows are in the driver's form already
    (``logbook.driver_rows``); rows already recorded (resends) are skipped by the unique key."""
    return (
        (sqlite.insert if dialect == "sqlite" else postgresql.insert)(_ROWS)
        .on_conflict_do_nothing()
        .returning(_ROWS.c.id, _ROWS.c.engagement_id, _ROWS.c.external_id)
    )


_SEALED = ("author_name", "body_text", "body_html", "meta")


@cache
def _sealed_specs() -> list[tuple[str, str, FieldSpec]]:
    """(field, its ciphertext's column name in the table, spec) of each sealed field,
    looked up once (not per message)."""
    table = Exchange.__table__
    return [(k, table.c[f"{k}_sealed"].name, spec_of(getattr(Exchange, k))) for k in _SEALED]


async def insert_new(
    session: AsyncSession, values: list[dict[str, Any]], keys: dict[int, SealingKey]
) -> dict[tuple[int, str], Exchange]:
    """One multi-row INSERT; rows already recorded (resends) are skipped by the unique key.
    The personal fields are sealed with each engagement's key here (a Core statement), and
    the text's search tokens computed with the search key."""
    if not values:
        return {}
    search = await keyring_of(session).search_key(session)
    specs = _sealed_specs()
    connection = await session.connection()
    dialect = connection.dialect
    created_at = Exchange.__table__.c.created_at
    rows = []
    for v in values:
        key = keys[v["engagement_id"]]
        row = {k: x for k, x in v.items() if k not in _SEALED}
        row["created_at"] = to_driver(created_at, dialect, v["created_at"])
        for name, column, spec in specs:
            row[column] = key.seal(spec, v[name])  # ciphertext: bytes, as the driver takes it
        row["search_tokens"] = text_tokens(search, v["body_text"])
        rows.append(row)
    # Executemany with RETURNING: SQLAlchemy's "insertmanyvalues" sends the same one
    # multi-row INSERT from a statement compiled once and cached (``.values(list)`` was
    # built and compiled anew for every batch: most of this function's time).
    result = await connection.execute(_insert(dialect.name), rows)
    new_ids = {(r.engagement_id, r.external_id): r.id for r in result}
    # What follows in this transaction (attachments, mail sources) finds their keys here.
    keyring_of(session).note_scopes(session.sync_session, {
        ScopeRef("exchange", new_id): keys[engagement_id].id for (engagement_id, _), new_id in new_ids.items()})
    # Ids follow the VALUES order, so logbook order is submission order.
    return {
        (v["engagement_id"], v["external_id"]): _stored(new_ids[(v["engagement_id"], v["external_id"])], v, row, specs)
        for v, row in zip(values, rows)
        if (v["engagement_id"], v["external_id"]) in new_ids
    }


def _stored(new_id: int, v: dict[str, Any], row: dict[str, Any], specs: list[tuple[str, str, FieldSpec]]) -> Exchange:
    """The exchange as stored: its values and ciphertexts (sealed above) set as they were
    loaded, each sealed field's plaintext beside its ciphertext, as ``PlainAttribute`` keeps
    it. Not ``Exchange(**v)``: the instrumented constructor and a Pending value to seal per
    field were a good part of every chat message's cost, for an object that is only read."""
    ex = _new_exchange()
    values = ex.__dict__
    values.update((k, x) for k, x in v.items() if k not in _SEALED)
    values["id"] = new_id
    for name, column, spec in specs:
        values[spec.column] = row[column]
        values[spec.slot] = v[name]
    return ex


_new_exchange = Exchange.__mapper__.class_manager.new_instance  # an instance without __init__


async def existing_exchanges(
    session: AsyncSession, keys: list[tuple[int, str]]
) -> dict[tuple[int, str], Exchange]:
    if not keys:
        return {}
    stmt = select(Exchange).where(tuple_(Exchange.engagement_id, Exchange.external_id).in_(keys))
    return {(e.engagement_id, e.external_id): e for e in (await session.execute(stmt)).scalars()}
