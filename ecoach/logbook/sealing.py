"""Sessions seal and open sealed fields by themselves (the ORM side of ``sealed.py``).

- **Flush**: a plaintext assigned to a sealed field is sealed with the data key of the
  row's ``__sealed_scope__`` (made first when the row owns a new one), and its blind index
  is set. ORM bulk inserts (``session.execute(insert(Model), [dicts])``) seal the plaintext
  values given by field name the same way.
- **Load**: what an ORM query loads is opened: entities (``select(Exchange)``) and single
  sealed columns (``select(Coachee.name)``; with ``execution_options(open_sealed=False)``
  columns come as stored, ``Ciphertext``). The keys the rows need are unwrapped once, in
  one query per statement, and stay cached in the keyring.

Only statements on a ``Connection`` bypass this: they seal with ``SealingKey.seal`` and
open with ``keyring.open_all``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Result
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, object_session

from ecoach.core.crypto import PLAIN_KEY, DataKey, key_id_of
from ecoach.logbook.keyring import Keyring, keyring_of
from ecoach.logbook.sealed import (
    KEYRING, Ciphertext, FieldSpec, NewKey, Pending, ScopeRef, Sealable, SealedError, SealedType, ciphertext,
    index_value, sealed_fields,
)
from ecoach.logbook.transactions import EventSession

UNOPENED = "ecoach.unopened"  # session.info: loaded rows waiting for their keys
_COMMITTED = "ecoach.keys_committed"


# --- flush: seal what was assigned ----------------------------------------------------------


@event.listens_for(EventSession, "before_flush")
def _seal_pending(session: Session, _context: Any, _instances: Any) -> None:
    todo = [obj for obj in session.new if _owns_new_key(obj)]
    todo += [obj for obj in (*session.new, *session.dirty) if _pending(obj) and obj not in todo]
    if not todo:
        return
    keyring = keyring_of(session)
    chosen: dict[int, ScopeRef | DataKey] = {}
    for obj in todo:
        ref = type(obj).__sealed_scope__.ref(lambda column, o=obj: getattr(o, column))
        if isinstance(ref, NewKey):
            made = keyring.new_key_sync(session, ref.kind)
            if made.id:
                setattr(obj, ref.column, made.id)
            chosen[id(obj)] = made
        else:
            chosen[id(obj)] = ref
    keys = keyring.keys_for_sync(session, [r for r in chosen.values() if isinstance(r, ScopeRef)])
    blind = None
    for obj in todo:
        found = chosen[id(obj)]
        key = keys[found] if isinstance(found, ScopeRef) else found
        for spec in sealed_fields(type(obj)).values():
            raw = obj.__dict__.get(spec.column)
            if not isinstance(raw, Pending):
                continue
            setattr(obj, spec.column, ciphertext(key.seal(spec.place, spec.kind, raw.value), spec.place, spec.kind))
            if spec.index:
                blind = blind or keyring.practice_key_sync(session, "blind")
                indexed = isinstance(raw.value, str) and raw.value.strip()
                setattr(obj, spec.index, blind.blind(spec.purpose, index_value(raw.value)) if indexed else None)


def _owns_new_key(obj: Any) -> bool:
    """A new engagement or coachee gets its data key when it is inserted, sealed fields
    or not (everything of it is sealed with that key later)."""
    scope = getattr(type(obj), "__sealed_scope__", None)
    return scope is not None and isinstance(scope.ref(lambda column: getattr(obj, column)), NewKey)


def _pending(obj: Any) -> bool:
    fields = sealed_fields(type(obj))
    return bool(fields) and any(isinstance(obj.__dict__.get(s.column), Pending) for s in fields.values())


def seal_rows(session: Session, model: type, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of an ORM bulk insert with plaintext by field name -> rows with ciphertext."""
    fields = sealed_fields(model)
    if not any(name in row for row in rows for name in fields):
        return rows
    keyring = keyring_of(session)
    scope = model.__sealed_scope__  # type: ignore[attr-defined]
    refs = [scope.ref(row.get) for row in rows]
    if any(isinstance(ref, NewKey) for ref in refs):
        raise SealedError(f"{model.__name__} rows own their data keys: add them with session.add")
    keys = keyring.keys_for_sync(session, refs)
    blind = keyring.practice_key_sync(session, "blind") if any(s.index for s in fields.values()) else None
    sealed_rows = []
    for row, ref in zip(rows, refs):
        out = {k: v for k, v in row.items() if k not in fields}
        for name, spec in fields.items():
            if name not in row:
                continue
            value = row[name]
            out[spec.column] = None if value is None else ciphertext(
                keys[ref].seal(spec.place, spec.kind, value), spec.place, spec.kind)
            if spec.index and blind is not None:
                out[spec.index] = blind.blind(spec.purpose, index_value(value)) if value else None
        sealed_rows.append(out)
    return sealed_rows


# --- load: open what was read ----------------------------------------------------------


@event.listens_for(Sealable, "load", propagate=True)
def _loaded(target: Any, context: Any) -> None:
    if sealed_fields(type(target)):
        _open_or_defer(target, context.session, defer=context.execution_options.get("prebuffer_rows", False))


@event.listens_for(Sealable, "refresh", propagate=True)
def _refreshed(target: Any, context: Any, attrs: Iterable[str] | None) -> None:
    fields = sealed_fields(type(target))
    if not fields:
        return
    _forget(target, fields, attrs)
    # A bulk UPDATE's "evaluate" synchronisation refreshes without a query context.
    session = context.session if context is not None else object_session(target)
    if session is not None:
        defer = context is not None and context.execution_options.get("prebuffer_rows", False)
        _open_or_defer(target, session, defer=defer)


@event.listens_for(Sealable, "expire", propagate=True)
def _expired(target: Any, attrs: Iterable[str] | None) -> None:
    fields = sealed_fields(type(target))
    if fields:
        _forget(target, fields, attrs)


def _forget(target: Any, fields: dict[str, FieldSpec], attrs: Iterable[str] | None) -> None:
    names = None if attrs is None else set(attrs)
    for spec in fields.values():
        if names is None or spec.column in names:
            target.__dict__.pop(spec.slot, None)


def _open_or_defer(target: Any, session: Session, *, defer: bool, keys: dict[int, DataKey] | None = None) -> None:
    """Open the loaded sealed values whose keys are at hand; the rest wait for the batch
    load at the end of the statement (``defer``), or have their key read now."""
    keyring: Keyring | None = session.info.get(KEYRING)
    for spec in sealed_fields(type(target)).values():
        raw = target.__dict__.get(spec.column)
        if raw is None or isinstance(raw, Pending) or spec.slot in target.__dict__:
            continue
        key_id = key_id_of(raw)
        key = PLAIN_KEY if key_id is None else (keys or {}).get(key_id) or (
            keyring._key(session, key_id, missing_ok=True) if keyring else None)
        if key is None and defer:
            session.info.setdefault(UNOPENED, []).append(target)
            return
        if key is None:
            key = keyring_of(session).load_sync(session, {key_id})[key_id]  # type: ignore[index]
        target.__dict__[spec.slot] = key.open(spec.place, spec.kind, bytes(raw))


def _open_deferred(session: Session) -> None:
    waiting = session.info.pop(UNOPENED, None)
    if not waiting:
        return
    wanted = {key_id_of(raw) for obj in waiting for spec in sealed_fields(type(obj)).values()
              if isinstance(raw := obj.__dict__.get(spec.column), bytes)}
    keys = keyring_of(session).load_sync(session, {k for k in wanted if k is not None})
    for obj in waiting:
        _open_or_defer(obj, session, defer=False, keys=keys)


def open_loaded(obj: Any, spec: FieldSpec, raw: Any) -> Any:
    """A sealed field read before it was opened (the descriptor's fallback): opened with a
    key the keyring has in memory."""
    key_id = key_id_of(raw)
    session = object_session(obj)
    keyring: Keyring | None = session.info.get(KEYRING) if session is not None else None
    key = PLAIN_KEY if key_id is None else (keyring.cached(key_id) if keyring is not None else None)
    if key is None:
        raise SealedError(f"{spec.place} was read but its data key {key_id} is not loaded: read rows "
                          "through an ORM query of a session with a keyring")
    value = key.open(spec.place, spec.kind, bytes(raw))
    obj.__dict__[spec.slot] = value
    return value


@event.listens_for(EventSession, "do_orm_execute")
def _execute(state: ORMExecuteState) -> Result[Any] | None:
    if not any(sealed_fields(m.class_) for m in state.all_mappers):
        return None
    if state.is_insert:
        if isinstance(state.parameters, list) or isinstance(state.parameters, dict) and state.parameters:
            rows = state.parameters if isinstance(state.parameters, list) else [state.parameters]
            sealed_rows = seal_rows(state.session, state.bind_mapper.class_, rows)  # type: ignore[union-attr]
            state.parameters = sealed_rows if isinstance(state.parameters, list) else sealed_rows[0]
        return None
    result = state.invoke_statement()
    _open_deferred(state.session)
    if state.is_select and state.execution_options.get("open_sealed", True) and any(isinstance(d.get("type"), SealedType)
                               for d in state.statement.column_descriptions):  # type: ignore[attr-defined]
        result = _open_columns(state.session, result)
    return result


def _open_columns(session: Session, result: Result[Any]) -> Result[Any]:
    frozen = result.freeze()
    rows = [tuple(row) for row in frozen.data] if not frozen._source_supports_scalars \
        else [(value,) for value in frozen.data]
    values = [v for row in rows for v in row if isinstance(v, Ciphertext)]
    if not values:
        return frozen()
    keyring = keyring_of(session)
    keys = keyring.load_sync(session, {k for v in values if (k := key_id_of(v)) is not None})
    opened = [tuple(keyring.open(v, keys) if isinstance(v, Ciphertext) else v for v in row) for row in rows]
    return frozen.with_new_rows(opened)()  # type: ignore[arg-type]


# --- keys made in a transaction are remembered once it commits ---------------------------


@event.listens_for(EventSession, "after_commit")
def _committed(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info[_COMMITTED] = True


@event.listens_for(EventSession, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return
    keyring: Keyring | None = session.info.get(KEYRING)
    committed = session.info.pop(_COMMITTED, False)
    if keyring is None:
        return
    if committed:
        keyring.committed(session)
    else:
        keyring.rolled_back(session)
