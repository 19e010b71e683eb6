"""Key management: sealing what was stored readable, rotating and retiring master keys.

Each runs in short transactions (a few hundred rows or keys each), so the servers keep
running meanwhile; each can be stopped and run again (it picks up where it stopped).

- ``do_encrypt_existing``: values from before encryption (or from plaintext mode) sealed,
  with their blind indexes and search tokens.
- ``do_rotate``: every data key that has no wrap under the current (first) master key
  gets one. Servers that know only the old key keep using the old wraps; those that know
  the new one use the new ones.
- ``do_retire``: the wraps under an old master key are deleted, once every data key has a
  wrap under a master key that stays. After that the old master key is not needed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from ecoach.actions.errors import ActionError, N_
from ecoach.actions.unit import unit_of_work
from ecoach.logbook.key_models import DataKeyRecord, DataKeyWrap
from ecoach.logbook.keyring import Keyring
from ecoach.logbook.reseal import count_not_sealed, encrypt_batch, sealed_models

log = logging.getLogger(__name__)

BATCH = 200
Progress = Callable[[str], None]


async def do_encrypt_existing(sessions: async_sessionmaker[AsyncSession], keyring: Keyring,
                              progress: Progress | None = None) -> dict[str, int]:
    """Seal every readable value; returns the rows sealed per table."""
    if not keyring.encrypted:
        raise ActionError("no_master_key", N_("Encrypting needs a master key (master_key_file or master_keys)."))
    done: dict[str, int] = {}
    for model in sealed_models():
        name = model.__tablename__  # type: ignore[attr-defined]
        while True:
            async with unit_of_work(sessions) as session:
                count = await session.run_sync(lambda s, m=model: encrypt_batch(s, keyring, m, BATCH))
            if not count:
                break
            done[name] = done.get(name, 0) + count
            if progress:
                progress(f"{name}: {done[name]} rows sealed")
    return done


async def get_not_sealed(session: AsyncSession) -> dict[str, int]:
    return await session.run_sync(lambda s: count_not_sealed(s.connection()))


@dataclass
class KeyStatus:
    configured: tuple[str, ...]
    current: str | None
    keys_by_kind: dict[str, int] = field(default_factory=dict)
    wraps_by_master: dict[str, int] = field(default_factory=dict)
    without_current: int = 0
    not_sealed: dict[str, int] = field(default_factory=dict)


async def get_key_status(session: AsyncSession, keyring: Keyring) -> KeyStatus:
    masters = keyring.masters
    status = KeyStatus(masters.ids if masters else (), masters.current if masters else None)
    rows = await session.execute(select(DataKeyRecord.kind, func.count()).group_by(DataKeyRecord.kind))
    status.keys_by_kind = {kind: int(n) for kind, n in rows.all()}
    rows = await session.execute(select(DataKeyWrap.master_key_id, func.count()).group_by(DataKeyWrap.master_key_id))
    status.wraps_by_master = {master: int(n) for master, n in rows.all()}
    if masters:
        status.without_current = await _count_without(session, [masters.current])
    status.not_sealed = await get_not_sealed(session)
    return status


async def _count_without(session: AsyncSession, masters: list[str]) -> int:
    wrapped = select(DataKeyWrap.data_key_id).where(DataKeyWrap.master_key_id.in_(masters))
    stmt = select(func.count()).select_from(DataKeyRecord).where(DataKeyRecord.id.not_in(wrapped))
    return int((await session.execute(stmt)).scalar_one())


async def do_rotate(sessions: async_sessionmaker[AsyncSession], keyring: Keyring, now: datetime,
                    progress: Progress | None = None) -> int:
    """Wrap every data key under the current master key too; returns how many got a wrap."""
    masters = keyring.masters
    if masters is None:
        raise ActionError("no_master_key", N_("Rotating needs master keys (master_key_file or master_keys)."))
    total = 0
    while True:
        async with unit_of_work(sessions) as session:
            count = await session.run_sync(lambda s: _rotate_batch(s, keyring, now))
        if not count:
            return total
        total += count
        if progress:
            progress(f"{total} data keys wrapped under master key {masters.current!r}")


def _rotate_batch(session: Session, keyring: Keyring, now: datetime) -> int:
    masters, conn = keyring.masters, session.connection()
    assert masters is not None
    wrapped = select(DataKeyWrap.data_key_id).where(DataKeyWrap.master_key_id == masters.current)
    ids = conn.execute(select(DataKeyRecord.id).where(DataKeyRecord.id.not_in(wrapped))
                       .order_by(DataKeyRecord.id).limit(BATCH)).scalars().all()
    if not ids:
        return 0
    keys = keyring.load_sync(session, set(ids))
    rows = []
    for key_id in ids:
        master_id, blob = keys[key_id].wrap_under(masters)
        rows.append({"data_key_id": key_id, "master_key_id": master_id, "wrapped": blob, "created_at": now})
    conn.execute(insert(DataKeyWrap), rows)
    return len(rows)


async def do_retire(session: AsyncSession, keyring: Keyring, master_id: str) -> int:
    """Delete the wraps under ``master_id``; refused while a data key would be left with
    no wrap under a configured master key, or when it is the current key."""
    masters = keyring.masters
    if masters is None:
        raise ActionError("no_master_key", N_("Retiring needs master keys (master_key_file or master_keys)."))
    if master_id == masters.current:
        raise ActionError("key_current", N_("Master key %(id)s is the current one: add a new key first and run "
                                            "ecoach keys rotate."), id=master_id)
    staying = [m for m in masters.ids if m != master_id]
    left = await _count_without(session, staying)
    if left:
        raise ActionError("key_needed", N_("%(n)s data keys are wrapped by no other configured master key: run "
                                           "ecoach keys rotate first."), n=left)
    result = await session.execute(delete(DataKeyWrap).where(DataKeyWrap.master_key_id == master_id)
                                   .execution_options(synchronize_session=False))
    log.info("master key %s retired: %d wraps deleted", master_id, result.rowcount)
    return int(result.rowcount or 0)
