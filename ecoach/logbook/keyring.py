"""The keyring: data keys from the database, unwrapped with the master keys, cached.

Actions and queries ask for a key by its owner::

    key = await keyring_of(session).for_engagement(session, engagement_id)
    values = {"text_sealed": key.seal(SessionNote.text, "...")}

Unwrapped keys stay in memory (a bounded LRU, ``cache_size``), so the hot paths never
unwrap twice; a key made in a transaction is only remembered once that transaction has
committed. Without master keys (``allow_plaintext``) every key is ``PLAIN_KEY``: values
are stored readable, in the same form.

The methods ending in ``_sync`` do the same work on a sync ``Session`` (inside an async
session's flush, or ``run_sync``); they read and write through ``session.connection()``.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ecoach.core.crypto import KEY_BYTES, PLAIN_KEY, CryptoError, DataKey, MasterKeys, key_id_of
from ecoach.logbook.key_models import DataKeyRecord, DataKeyWrap, PracticeKey
from ecoach.logbook.models import Coach, Coachee, Engagement, Exchange
from ecoach.logbook.sealed import (
    KEYRING, Ciphertext, FieldSpec, ScopeRef, SealedError, ciphertext, index_value, sealed_fields, spec_of,
)

log = logging.getLogger(__name__)

NEW_KEYS = "ecoach.new_keys"  # session.info: keys made in the open transaction, by id
NEW_SCOPES = "ecoach.new_scopes"  # session.info: owners resolved to such keys
NEW_PURPOSES = "ecoach.new_purposes"  # session.info: practice keys made in the open transaction
TX_SCOPES = "ecoach.tx_scopes"  # session.info: owners known for this transaction only
_OWNERS = {"engagement": Engagement, "coachee": Coachee, "coach": Coach}
_CHUNK = 500
_RELOAD_EVERY = 2.0  # seconds: how often an unknown master key id may re-read the key file


class Keyring:
    def __init__(self, masters: MasterKeys | None, *, cache_size: int = 10_000,
                 reload: Callable[[], MasterKeys | None] | None = None,
                 now: Callable[[], datetime] | None = None) -> None:
        self.masters = masters
        self.cache_size = cache_size
        self._keys: OrderedDict[int, DataKey] = OrderedDict()
        self._scopes: OrderedDict[ScopeRef, int] = OrderedDict()
        self._practice: dict[str, DataKey] = {}
        self._reload = reload
        self._reloaded_at = 0.0
        self._now = now or (lambda: datetime.now(timezone.utc))

    @property
    def encrypted(self) -> bool:
        return self.masters is not None

    # --- asynchronous: for actions and queries -------------------------------------------

    async def for_engagement(self, session: AsyncSession, engagement_id: int) -> SealingKey:
        return await self.for_scope(session, ScopeRef("engagement", engagement_id))

    async def for_engagements(self, session: AsyncSession, engagement_ids: Iterable[int]) -> dict[int, SealingKey]:
        """Several engagements' keys at once (one query for those not in memory)."""
        refs = {eid: ScopeRef("engagement", eid) for eid in engagement_ids}
        found = {eid: self._cached_scope(session.sync_session, ref) for eid, ref in refs.items()}
        missing = [ref for eid, ref in refs.items() if found[eid] is None]
        if missing:
            loaded = await session.run_sync(lambda s: self.keys_for_sync(s, missing))
            found.update((ref.id, key) for ref, key in loaded.items())
        return {eid: SealingKey(key) for eid, key in found.items()}  # type: ignore[arg-type]

    async def for_coachee(self, session: AsyncSession, coachee_id: int) -> SealingKey:
        return await self.for_scope(session, ScopeRef("coachee", coachee_id))

    async def for_coach(self, session: AsyncSession, coach_id: int) -> SealingKey:
        return await self.for_scope(session, ScopeRef("coach", coach_id))

    async def for_practice(self, session: AsyncSession) -> SealingKey:
        return await self.for_scope(session, ScopeRef("practice", 0))

    async def for_scope(self, session: AsyncSession, ref: ScopeRef) -> SealingKey:
        found = self._cached_scope(session.sync_session, ref)
        if found is None:
            found = await session.run_sync(lambda s: self.key_for_sync(s, ref))
        return SealingKey(found)

    async def search_key(self, session: AsyncSession) -> DataKey:
        """The key of the search index's tokens (practice-wide)."""
        return await self.purpose_key(session, "search")

    async def purpose_key(self, session: AsyncSession, purpose: str) -> DataKey:
        found = self._practice.get(purpose)
        if found is None:
            found = await session.run_sync(lambda s: self.practice_key_sync(s, purpose))
        return found

    async def blind(self, session: AsyncSession, field: Any, value: str) -> str:
        """The blind index of ``value`` for a field declared ``sealed(index=...)``:
        ``where(Coachee.email_index == await keyring.blind(session, Coachee.email, a))``."""
        spec = field if isinstance(field, FieldSpec) else spec_of(field)
        return (await self.purpose_key(session, "blind")).blind(spec.purpose, index_value(value))

    async def load(self, session: AsyncSession, values: Iterable[Any]) -> None:
        """Unwrap (once) the keys that sealed these values, so ``open`` needs no database."""
        await self._load(session, values)

    async def _load(self, session: AsyncSession, values: Iterable[Any]) -> dict[int, DataKey]:
        wanted = {kid for v in values if isinstance(v, (bytes, bytearray))
                  and (kid := key_id_of(bytes(v))) is not None}
        if not wanted:
            return {}
        return await session.run_sync(lambda s: self.load_sync(s, wanted))

    async def open_all(self, session: AsyncSession, values: list[Any]) -> list[Any]:
        """Open ciphertexts read on a connection (``Ciphertext``); None stays None."""
        keys = await self._load(session, values)
        return [self.open(v, keys) if v is not None else None for v in values]

    def open(self, value: Ciphertext, keys: dict[int, DataKey] | None = None) -> Any:
        """Open a ciphertext whose key is loaded (see ``load``), or among ``keys``."""
        key_id = key_id_of(value)
        key = PLAIN_KEY if key_id is None else (keys or {}).get(key_id) or self._keys.get(key_id)
        if key is None:
            raise SealedError(f"{value.place}: data key {key_id} is not loaded (await keyring.load first)")
        return key.open(value.place, value.kind, bytes(value))

    async def verify(self, session: AsyncSession) -> None:
        """At start-up: the configured master keys open this database's data keys, and no
        data key needs one that is missing. CryptoError (one line) when not."""
        await session.run_sync(self._verify_sync)

    def _verify_sync(self, session: Session) -> None:
        conn = session.connection()
        total = conn.execute(select(func.count()).select_from(DataKeyRecord)).scalar_one()
        if self.masters is None:
            if total:
                raise CryptoError(f"this database holds encrypted personal data ({total} data keys): configure "
                                  "its master key (master_key_file or master_keys)")
            return
        for master_id in self.masters.ids:
            row = conn.execute(select(DataKeyWrap.data_key_id, DataKeyWrap.wrapped)
                               .where(DataKeyWrap.master_key_id == master_id).limit(1)).first()
            if row is not None:
                self.masters.unwrap(row[0], master_id, row[1])  # a wrong key fails here, loudly
        known = select(DataKeyWrap.data_key_id).where(DataKeyWrap.master_key_id.in_(self.masters.ids))
        orphans = conn.execute(select(func.count()).select_from(DataKeyRecord)
                               .where(DataKeyRecord.id.not_in(known))).scalar_one()
        if orphans:
            others = conn.execute(select(DataKeyWrap.master_key_id).distinct()
                                  .where(DataKeyWrap.master_key_id.not_in(self.masters.ids))).scalars().all()
            raise KeyUnavailable(f"{orphans} data keys are wrapped only by master key(s) "
                                 f"{', '.join(sorted(others)) or '(none)'}, which this server does not have "
                                 f"(it has {', '.join(self.masters.ids)})")

    def cached(self, key_id: int) -> DataKey | None:
        found = self._keys.get(key_id)
        if found is not None:
            self._keys.move_to_end(key_id)
        return found

    def forget(self, key_ids: Iterable[int]) -> None:
        """Drop keys from memory (erased in this or another process)."""
        for key_id in key_ids:
            self._keys.pop(key_id, None)
        for ref in [r for r, k in self._scopes.items() if k in set(key_ids)]:
            del self._scopes[ref]

    # --- synchronous core --------------------------------------------------------------

    def key_for_sync(self, session: Session, ref: ScopeRef) -> DataKey:
        return self.keys_for_sync(session, [ref])[ref]

    def keys_for_sync(self, session: Session, refs: Iterable[ScopeRef]) -> dict[ScopeRef, DataKey]:
        refs = set(refs)
        if not self.encrypted:
            return {ref: PLAIN_KEY for ref in refs}
        found: dict[ScopeRef, DataKey] = {}
        missing: dict[str, set[int]] = {}
        for ref in refs:
            key = self._cached_scope(session, ref)
            if key is not None:
                found[ref] = key
            elif ref.kind == "practice":
                found[ref] = self.practice_key_sync(session, "practice")
            else:
                missing.setdefault(ref.kind, set()).add(ref.id)
        if missing:
            ids = self._key_ids(session, missing)
            loaded = self.load_sync(session, set(ids.values()))
            for ref, key_id in ids.items():
                found[ref] = loaded[key_id]
                self._remember_scope(session, ref, key_id)
        return found

    def new_key_sync(self, session: Session, kind: str) -> DataKey:
        """A new data key, wrapped under the current master key, in the session's transaction."""
        if self.masters is None:
            return PLAIN_KEY
        conn, now = session.connection(), self._now()
        key_id = conn.execute(insert(DataKeyRecord).values(kind=kind, created_at=now)
                              .returning(DataKeyRecord.id)).scalar_one()
        secret = secrets.token_bytes(KEY_BYTES)
        master_id, wrapped = self.masters.wrap(key_id, secret)
        conn.execute(insert(DataKeyWrap).values(data_key_id=key_id, master_key_id=master_id,
                                                wrapped=wrapped, created_at=now))
        key = DataKey(key_id, secret)
        session.info.setdefault(NEW_KEYS, {})[key_id] = key
        return key

    def practice_key_sync(self, session: Session, purpose: str) -> DataKey:
        found = self._practice.get(purpose) or session.info.get(NEW_PURPOSES, {}).get(purpose)
        if found is not None:
            return found
        if self.masters is None:
            return PLAIN_KEY
        conn = session.connection()
        stmt = select(PracticeKey.data_key_id).where(PracticeKey.purpose == purpose)
        key_id = conn.execute(stmt).scalar_one_or_none()
        if key_id is None:
            made = self.new_key_sync(session, purpose if purpose in ("search", "blind") else "practice")
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            conn.execute(dialect.insert(PracticeKey).values(purpose=purpose, data_key_id=made.id)
                         .on_conflict_do_nothing())
            key_id = conn.execute(stmt).scalar_one()  # another process may have made it first
            if key_id != made.id:
                conn.execute(DataKeyRecord.__table__.delete().where(DataKeyRecord.id == made.id))
        key = self.load_sync(session, {key_id})[key_id]
        if key_id in session.info.get(NEW_KEYS, {}):
            session.info.setdefault(NEW_PURPOSES, {})[purpose] = key  # remembered once committed
        else:
            self._practice[purpose] = key
        return key

    def load_sync(self, session: Session, key_ids: set[int]) -> dict[int, DataKey]:
        """These keys, unwrapped (from memory when there); KeyUnavailable when one cannot be."""
        if self.masters is None:
            return {}
        pending = session.info.get(NEW_KEYS, {})
        found = {k: key for k in key_ids if (key := pending.get(k) or self.cached(k)) is not None}
        wanted = sorted(k for k in key_ids if k not in found)
        if not wanted:
            return found
        conn = session.connection()
        wraps: dict[int, dict[str, bytes]] = {}
        for start in range(0, len(wanted), _CHUNK):
            stmt = (select(DataKeyWrap.data_key_id, DataKeyWrap.master_key_id, DataKeyWrap.wrapped)
                    .where(DataKeyWrap.data_key_id.in_(wanted[start:start + _CHUNK])))
            for key_id, master_id, wrapped in conn.execute(stmt):
                wraps.setdefault(key_id, {})[master_id] = wrapped
        for key_id in wanted:
            found[key_id] = DataKey(key_id, self._unwrap(key_id, wraps.get(key_id, {})))
            self._store(found[key_id])
        return found

    # --- inside ------------------------------------------------------------------------

    def _unwrap(self, key_id: int, wraps: dict[str, bytes]) -> bytes:
        if not wraps:
            raise KeyUnavailable(f"data key {key_id} does not exist (any more): what it sealed was erased")
        masters = self._masters_for(wraps)
        master_id = masters.current if masters.current in wraps else next(m for m in wraps if m in masters.keys)
        return masters.unwrap(key_id, master_id, wraps[master_id])

    def _masters_for(self, wraps: dict[str, bytes]) -> MasterKeys:
        assert self.masters is not None
        if not any(m in self.masters.keys for m in wraps) and self._reload is not None \
                and time.monotonic() - self._reloaded_at > _RELOAD_EVERY:
            # A rotation elsewhere may have wrapped keys under a master key added to the
            # key file since this process started: read the file again.
            self._reloaded_at = time.monotonic()
            fresh = self._reload()
            if fresh is not None:
                log.info("master keys read again: %s", ", ".join(fresh.ids))
                self.masters = fresh
        if not any(m in self.masters.keys for m in wraps):
            raise KeyUnavailable(f"a data key is wrapped only by master key(s) {', '.join(sorted(wraps))}; "
                                 f"this server has {', '.join(self.masters.ids)} (add the missing one to "
                                 "master_key_file or master_keys)")
        return self.masters

    def _key_ids(self, session: Session, missing: dict[str, set[int]]) -> dict[ScopeRef, int]:
        conn = session.connection()
        found: dict[ScopeRef, int] = {}
        if "key" in missing:
            found.update({ScopeRef("key", k): k for k in missing.pop("key")})
        if "exchange" in missing:
            stmt = select(Exchange.id, Exchange.engagement_id).where(Exchange.id.in_(missing.pop("exchange")))
            owners = dict(conn.execute(stmt).all())
            engagement_keys = self._owner_keys(session, "engagement", set(owners.values()))
            found.update({ScopeRef("exchange", x): engagement_keys[e] for x, e in owners.items()})
        for kind, ids in missing.items():
            keys = self._owner_keys(session, kind, ids)
            found.update({ScopeRef(kind, i): keys[i] for i in ids if i in keys})
        absent = {(ref.kind, ref.id) for ref in (ScopeRef(k, i) for k, s in missing.items() for i in s)} \
            - {(r.kind, r.id) for r in found}
        if absent:
            kind, owner = sorted(absent)[0]
            raise SealedError(f"no data key for {kind} {owner}: it does not exist")
        return found

    def _owner_keys(self, session: Session, kind: str, ids: set[int]) -> dict[int, int]:
        """Owner id -> data key id; an owner from before encryption gets its key now."""
        if kind not in _OWNERS:
            raise SealedError(f"unknown data key owner {kind!r}")
        model, conn = _OWNERS[kind], session.connection()
        found = dict(conn.execute(select(model.id, model.data_key_id).where(model.id.in_(ids))).all())
        for owner, key_id in list(found.items()):
            if key_id is None:
                made = self.new_key_sync(session, kind)
                done = conn.execute(update(model).where(model.id == owner, model.data_key_id.is_(None))
                                    .values(data_key_id=made.id))
                found[owner] = made.id if done.rowcount else conn.execute(
                    select(model.data_key_id).where(model.id == owner)).scalar_one()
        return {owner: key_id for owner, key_id in found.items() if key_id is not None}

    def _cached_scope(self, session: Session, ref: ScopeRef) -> DataKey | None:
        if not self.encrypted:
            return PLAIN_KEY
        if ref.kind == "key":
            return self._key(session, ref.id, missing_ok=True)
        if ref.kind == "practice":
            return self._practice.get("practice")
        key_id = session.info.get(NEW_SCOPES, {}).get(ref) or session.info.get(TX_SCOPES, {}).get(ref)
        if key_id is None:
            key_id = self._scopes.get(ref)
            if key_id is not None:
                self._scopes.move_to_end(ref)
        return None if key_id is None else self._key(session, key_id, missing_ok=True)

    def _key(self, session: Session, key_id: int, missing_ok: bool = False) -> DataKey | None:  # type: ignore[return]
        found = session.info.get(NEW_KEYS, {}).get(key_id) or self.cached(key_id)
        if found is None and not missing_ok:
            raise KeyUnavailable(f"data key {key_id} is not loaded")
        return found

    def _remember_scope(self, session: Session, ref: ScopeRef, key_id: int) -> None:
        if key_id in session.info.get(NEW_KEYS, {}):
            session.info.setdefault(NEW_SCOPES, {})[ref] = key_id
            return
        self._scopes[ref] = key_id
        self._scopes.move_to_end(ref)
        while len(self._scopes) > self.cache_size:
            self._scopes.popitem(last=False)

    def _store(self, key: DataKey) -> None:
        self._keys[key.id] = key
        self._keys.move_to_end(key.id)
        while len(self._keys) > self.cache_size:
            self._keys.popitem(last=False)

    def note_scopes(self, session: Session, found: dict[ScopeRef, int]) -> None:
        """Owners whose keys are known for the rest of this transaction (e.g. the exchanges
        just inserted, whose attachments follow)."""
        session.info.setdefault(TX_SCOPES, {}).update(found)

    def committed(self, session: Session) -> None:
        """The session's transaction committed: its new keys may be remembered."""
        session.info.pop(TX_SCOPES, None)
        for key in session.info.pop(NEW_KEYS, {}).values():
            self._store(key)
        for ref, key_id in session.info.pop(NEW_SCOPES, {}).items():
            self._remember_scope(session, ref, key_id)
        self._practice.update(session.info.pop(NEW_PURPOSES, {}))

    @staticmethod
    def rolled_back(session: Session) -> None:
        for name in (NEW_KEYS, NEW_SCOPES, NEW_PURPOSES, TX_SCOPES):
            session.info.pop(name, None)


class KeyUnavailable(CryptoError):
    """A data key cannot be had: erased, or wrapped only by a master key not configured."""


class SealingKey:
    """A data key as actions use it: ``seal(Model.field, value)``, ``open(Model.field, blob)``
    and ``values(Model, plain_values)`` for Core inserts."""

    __slots__ = ("key",)

    def __init__(self, key: DataKey) -> None:
        self.key = key

    @property
    def id(self) -> int:
        return self.key.id

    def seal(self, field: Any, value: Any) -> Ciphertext | None:
        if value is None:
            return None
        spec = field if isinstance(field, FieldSpec) else spec_of(field)
        return ciphertext(self.key.seal(spec.place, spec.kind, value), spec.place, spec.kind)

    def open(self, field: Any, blob: bytes | None) -> Any:
        if blob is None:
            return None
        spec = field if isinstance(field, FieldSpec) else spec_of(field)
        return self.key.open(spec.place, spec.kind, bytes(blob))

    def values(self, model: type, plain: dict[str, Any]) -> dict[str, Any]:
        """Row values for a Core insert: sealed fields given by name are sealed into their
        columns (``{"text": "..."}`` -> ``{"text_sealed": <ciphertext>}``), others pass."""
        fields = sealed_fields(model)
        out: dict[str, Any] = {}
        for name, value in plain.items():
            spec = fields.get(name)
            if spec is None:
                out[name] = value
                continue
            if spec.index:
                raise SealedError(f"{spec.place} has a blind index: insert it through the ORM, or set "
                                  f"{spec.index} with keyring.blind as well")
            out[spec.column] = self.seal(spec, value)
        return out


def keyring_of(session: AsyncSession | Session) -> Keyring:
    """The keyring of a session made by ``ecoach.logbook.db.session_factory``."""
    found = session.info.get(KEYRING)
    if found is None:
        raise SealedError("this session has no keyring: make sessions with "
                          "ecoach.logbook.db.session_factory(engine, bus, keyring)")
    return found
