"""Sealing what was stored readable, and the way back.

- ``encrypt_batch``: values stored before encryption (or in plaintext mode) are sealed with
  their rows' data keys, their blind indexes and search tokens computed again; in short
  transactions, so servers keep running (``ecoach keys encrypt-existing``).
- ``open_everything``: every sealed value back to plaintext, for the downgrade of the
  migration that introduced them (needs the master key).

Rows are changed through ``sa.table`` constructs (plain binary columns), not the models,
which only take sealed values.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ecoach.core.crypto import MAGIC, PLAIN_KEY, AES_GCM, DataKey, key_id_of, text_tokens
from ecoach.logbook.keyring import Keyring
from ecoach.logbook.models import Base, Exchange
from ecoach.logbook.sealed import FieldSpec, NewKey, ScopeRef, index_value, sealed_fields

log = logging.getLogger(__name__)

SEALED_PREFIX = MAGIC + bytes((AES_GCM,))
# The logbook's append-only trigger on SQLite, as migration 0401 creates it.
APPEND_ONLY_SQLITE = (
    "CREATE TRIGGER exchange_append_only BEFORE UPDATE OF engagement_id, channel, direction, author, "
    "author_name, body_text, body_html, created_at, external_id, meta ON exchange "
    "BEGIN SELECT RAISE(ABORT, 'the logbook is append-only'); END"
)


def sealed_models() -> list[type]:
    return sorted((m.class_ for m in Base.registry.mappers if sealed_fields(m.class_)),
                  key=lambda cls: cls.__tablename__)


def _column(model: type, spec: FieldSpec) -> sa.Column[Any]:
    return model.__table__.c[spec.column]  # type: ignore[attr-defined]


@functools.cache
def _raw(model: type) -> sa.TableClause:
    """The model's table with its sealed columns as plain binary (no sealing on write)."""
    table = model.__table__  # type: ignore[attr-defined]
    columns = [sa.column(c.name, sa.LargeBinary() if c.key.endswith("_sealed") else c.type) for c in table.c]
    return sa.table(table.name, *columns)


def _not_sealed(model: type) -> sa.ColumnElement[bool]:
    """Rows with a value that is not encrypted (before encryption, or plaintext mode)."""
    raw = _raw(model)
    conditions = [sa.and_(raw.c[_column(model, s).name].is_not(None),
                          sa.func.substr(raw.c[_column(model, s).name], 1, 3)
                          != sa.literal(SEALED_PREFIX, sa.LargeBinary()))
                  for s in sealed_fields(model).values()]
    if model is Exchange:
        conditions.append(raw.c.search_tokens.is_(None))
    return sa.or_(*conditions)


def count_not_sealed(conn: Connection) -> dict[str, int]:
    """Per table, the rows still holding a readable value."""
    found = {}
    for model in sealed_models():
        count = conn.execute(sa.select(sa.func.count()).select_from(_raw(model)).where(_not_sealed(model))).scalar()
        if count:
            found[model.__tablename__] = int(count)  # type: ignore[attr-defined]
    return found


async def has_unsealed_coachees(session: Any) -> bool:
    """A cheap sign that data from before encryption remains (coachees are few)."""
    from ecoach.logbook.models import Coachee

    raw = _raw(Coachee)
    stmt = sa.select(raw.c.id).where(_not_sealed(Coachee)).limit(1)
    return (await session.execute(stmt)).first() is not None


def encrypt_batch(session: Session, keyring: Keyring, model: type, limit: int = 200) -> int:
    """Seal up to ``limit`` rows of ``model`` that hold readable values; how many it did."""
    conn, raw = session.connection(), _raw(model)
    pk = _primary_key(model)
    rows = conn.execute(sa.select(raw).where(_not_sealed(model)).order_by(raw.c[pk]).limit(limit)).mappings().all()
    if not rows:
        return 0
    scope = model.__sealed_scope__  # type: ignore[attr-defined]
    refs = {}
    for row in rows:
        ref = scope.ref(lambda column, r=row: r[model.__table__.c[column].name])  # type: ignore[attr-defined]
        refs[row[pk]] = ScopeRef(ref.kind, row[pk]) if isinstance(ref, NewKey) else ref
    keys = keyring.keys_for_sync(session, set(refs.values()))
    blind = keyring.practice_key_sync(session, "blind")
    search = keyring.practice_key_sync(session, "search") if model is Exchange else None
    _allow_reseal(conn)
    for row in rows:
        values = _sealed_values(model, row, keys[refs[row[pk]]], blind)
        if search is not None:
            text = _plain(row[_column(model, sealed_fields(model)["body_text"]).name], "text")
            values["search_tokens"] = text_tokens(search, text)
        conn.execute(sa.update(raw).where(raw.c[pk] == row[pk]).values(values))
    _forbid_reseal(conn)
    return len(rows)


def _sealed_values(model: type, row: Any, key: DataKey, blind: DataKey) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for spec in sealed_fields(model).values():
        name = _column(model, spec).name
        stored = row[name]
        if stored is None or key_id_of(bytes(stored)) is not None:
            continue
        plain = _plain(stored, spec.kind)
        values[name] = key.seal(spec.place, spec.kind, plain)
        if spec.index:
            values[spec.index] = blind.blind(spec.purpose, index_value(plain)) if plain and plain.strip() else None
    return values


def _plain(stored: Any, kind: str) -> Any:
    if stored is None:
        return None
    return PLAIN_KEY.open("", kind, stored.encode() if isinstance(stored, str) else bytes(stored))


def _primary_key(model: type) -> str:
    [pk] = model.__table__.primary_key.columns  # type: ignore[attr-defined]
    return pk.name


def _allow_reseal(conn: Connection) -> None:
    """The logbook's append-only rule lets a value be replaced by its sealed form."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SET LOCAL ecoach.reseal = 'on'"))
    else:
        conn.execute(sa.text("DROP TRIGGER IF EXISTS exchange_append_only"))


def _forbid_reseal(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SET LOCAL ecoach.reseal = 'off'"))
    else:
        conn.execute(sa.text(APPEND_ONLY_SQLITE))


# --- the way back (downgrade) --------------------------------------------------------------


def open_everything(conn: Connection) -> None:
    """Every sealed value to its plaintext bytes (text as UTF-8), in place. Only the
    tables and columns there now: a sibling branch's downgrade (tables made after 0400)
    may have run first and dropped its own."""
    session = Session(bind=conn)
    keyring: Keyring | None = None
    inspector = sa.inspect(conn)
    tables = set(inspector.get_table_names())
    for model in sealed_models():
        if model.__tablename__ not in tables:  # type: ignore[attr-defined]
            continue
        raw, present = _raw_present(inspector, model)
        pk = _primary_key(model)
        for rows in _batches(conn, raw, pk):
            for row in rows:
                values = {}
                for spec in sealed_fields(model).values():
                    name = _column(model, spec).name
                    if name not in present:
                        continue
                    stored = row[name]
                    if stored is None:
                        continue
                    stored = stored.encode() if isinstance(stored, str) else bytes(stored)
                    if key_id_of(stored) is not None:
                        keyring = keyring or _keyring_for_downgrade()
                        key_id = key_id_of(stored)
                        plain = keyring.load_sync(session, {key_id})[key_id].open_bytes(spec.place, stored)  # type: ignore[arg-type, index]
                    elif stored.startswith(MAGIC):
                        plain = stored[3:]
                    else:
                        continue
                    values[name] = plain
                if values:
                    if conn.dialect.name == "postgresql":
                        conn.execute(sa.text("SET LOCAL ecoach.reseal = 'on'"))
                    conn.execute(sa.update(raw).where(raw.c[pk] == row[pk]).values(values))


def _raw_present(inspector: Any, model: type) -> tuple[sa.TableClause, set[str]]:
    """``_raw(model)`` with only the columns the table has now, and their names."""
    table = model.__tablename__  # type: ignore[attr-defined]
    present = {c["name"] for c in inspector.get_columns(table)}
    return sa.table(table, *[sa.column(c.name, c.type) for c in _raw(model).c if c.name in present]), present


def _batches(conn: Connection, raw: sa.TableClause, pk: str, size: int = 500) -> Iterator[list[Any]]:
    after = None
    while True:
        stmt = sa.select(raw).order_by(raw.c[pk]).limit(size)
        if after is not None:
            stmt = stmt.where(raw.c[pk] > after)
        rows = conn.execute(stmt).mappings().all()
        if not rows:
            return
        yield list(rows)
        after = rows[-1][pk]


def _keyring_for_downgrade() -> Keyring:
    from ecoach.encryption import keyring_for
    from ecoach.settings import SettingsError, load_settings

    try:
        return keyring_for(load_settings())
    except SettingsError as exc:
        raise RuntimeError(f"the database holds encrypted values; downgrading opens them and needs the "
                           f"master key: {exc}") from None
