"""The audit chain on SQLite and PostgreSQL: appended with the action's commit (never on
rollback), verified end to end, tampering (an edited, deleted, reordered or cut-off entry)
detected by ``ecoach audit verify`` with a non-zero exit, the append-only triggers, and
concurrent writers (transactions and two processes) that keep one valid chain."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from ecoach.actions.audit import Origin, acting, do_note_search, record_audit
from ecoach.actions.unit import unit_of_work
from ecoach.core.audit import GENESIS, AuditError, check_detail
from ecoach.logbook.audit_chain import verify_chain
from tests.audit_support import entries, run_cli, tamper
from tests.dovecot import wait_until
from tests.test_quarantine_admin import ecoach


async def write(sessions, clock, count: int, **detail) -> None:  # type: ignore[no-untyped-def]
    for i in range(count):
        async with unit_of_work(sessions) as session:
            record_audit(session, "search", coach_id=7, actor_id=7, now=clock.now(), results=i, **detail)


async def verdict(sessions):  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return await verify_chain(session)


async def test_an_entry_commits_with_its_action_and_never_without(sessions, clock) -> None:  # type: ignore[no-untyped-def]
    with acting(Origin(via="web", client="203.0.113.7", device="Firefox / Linux", actor_id=7)):
        async with unit_of_work(sessions) as session:
            await do_note_search(session, 7, results=3, now=clock.now())
        with pytest.raises(RuntimeError):
            async with unit_of_work(sessions) as session:
                record_audit(session, "search", coach_id=7, now=clock.now(), results=4)
                raise RuntimeError("the action failed after recording")
    [entry] = await entries(sessions)
    assert (entry.seq, entry.kind, entry.coach_id, entry.actor_id, entry.detail) == (1, "search", 7, 7, {"results": 3})
    assert (entry.via, entry.client, entry.device, entry.prev_hash) == ("web", "203.0.113.7", "Firefox / Linux", GENESIS)
    assert entry.at == clock.now()
    result = await verdict(sessions)
    assert result.ok and result.checked == 1 and result.last_hash == entry.hash


def test_entries_are_content_free_by_construction() -> None:
    assert check_detail({"results": 3, "reason": "logout", "on": True}) == {"results": 3, "reason": "logout", "on": True}
    for bad in ({"q": "burn-out gesprek"}, {"email": "sanne@example.test"}, {"name": "Sanne"},
                {"text": "x" * 41}, {"results": 1.5}, {"Bad": 1}, {"list": [1]}):
        with pytest.raises(AuditError):
            check_detail(bad)


async def test_no_foreign_keys_so_erasure_never_touches_the_trail(engine) -> None:  # type: ignore[no-untyped-def]
    def foreign_keys(conn):  # type: ignore[no-untyped-def]
        found = inspect(conn)
        return found.get_foreign_keys("audit_entry") + found.get_foreign_keys("audit_head")

    async with engine.connect() as conn:
        assert await conn.run_sync(foreign_keys) == []


async def test_the_database_refuses_changes_to_entries(sessions, engine, clock) -> None:  # type: ignore[no-untyped-def]
    await write(sessions, clock, 3)
    for sql in ("UPDATE audit_entry SET client = 'x' WHERE seq = 2", "DELETE FROM audit_entry WHERE seq = 3",
                "UPDATE audit_head SET seq = 1", "DELETE FROM audit_head"):
        with pytest.raises((DBAPIError, IntegrityError)) as refused:
            async with engine.begin() as conn:
                await conn.execute(text(sql))
        assert "append-only" in str(refused.value) or "only moves forward" in str(refused.value), sql
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text("TRUNCATE audit_entry"))
    assert (await verdict(sessions)).checked == 3


@pytest.mark.parametrize("how, where, reason", [
    ("edit", 3, "was changed after it was written"),
    ("delete", 3, "entry 3 is missing"),
    ("reorder", 2, "does not follow entry 1"),
    ("cut", 5, "its head names entry 5"),
])
async def test_tampering_is_detected(sessions, engine, clock, db_url, how, where, reason,  # type: ignore[no-untyped-def]
                                     monkeypatch, capsys) -> None:
    await write(sessions, clock, 5)
    assert (await run_cli(monkeypatch, capsys, db_url, "audit", "verify"))[0] == 0
    statements = {
        "edit": ["UPDATE audit_entry SET client = '198.51.100.1' WHERE seq = 3"],
        "delete": ["DELETE FROM audit_entry WHERE seq = 3"],
        # Entries 2 and 3 swap places (their numbers), each keeping its own hashes.
        "reorder": ["UPDATE audit_entry SET seq = 1000 WHERE seq = 2", "UPDATE audit_entry SET seq = 2 WHERE seq = 3",
                    "UPDATE audit_entry SET seq = 3 WHERE seq = 1000"],
        "cut": ["DELETE FROM audit_entry WHERE seq = 5"],
    }[how]
    await tamper(engine, *statements)
    result = await verdict(sessions)
    assert not result.ok and result.broken_at == where and reason in (result.broken or ""), result
    code, _out, err = await run_cli(monkeypatch, capsys, db_url, "audit", "verify")
    assert code == 1
    assert f"audit chain BROKEN at entry {where}" in err and reason in err


async def test_a_rewritten_chain_is_caught_by_a_kept_anchor(sessions, engine, clock, db_url,  # type: ignore[no-untyped-def]
                                                            monkeypatch, capsys) -> None:
    await write(sessions, clock, 3)
    code, out, _err = await run_cli(monkeypatch, capsys, db_url, "audit", "verify")
    assert code == 0 and "audit chain intact: 3 entries" in out
    anchor = out.split("head: ")[1].split()[0]
    assert (await run_cli(monkeypatch, capsys, db_url, "audit", "verify", "--expect", anchor))[0] == 0
    # Someone rewrites the whole chain consistently (the hashes are public knowledge)...
    await tamper(engine, "DELETE FROM audit_entry", "UPDATE audit_head SET seq = 0, hash = '%s'" % GENESIS)
    await write(sessions, clock, 3, reason="forged")
    assert (await run_cli(monkeypatch, capsys, db_url, "audit", "verify"))[0] == 0  # ...and it holds together,
    caught = ecoach(db_url, "audit", "verify", "--expect", anchor)  # but not against the kept anchor (the real command).
    assert caught.returncode == 1 and "was rewritten" in caught.stderr
    code, _out, err = await run_cli(monkeypatch, capsys, db_url, "audit", "verify", "--expect", "3:abc")
    assert code == 1 and "SEQ:HASH" in err


async def test_concurrent_transactions_keep_one_chain(sessions, clock) -> None:  # type: ignore[no-untyped-def]
    async def one(i: int) -> None:
        async with unit_of_work(sessions) as session:
            record_audit(session, "search", coach_id=i, actor_id=i, now=clock.now(), results=i)
            await asyncio.sleep(0)  # let the others start their transactions meanwhile
            record_audit(session, "login", coach_id=i, actor_id=i, now=clock.now(), method="password")

    await asyncio.gather(*(one(i) for i in range(20)))
    rows = await entries(sessions)
    assert [r.seq for r in rows] == list(range(1, 41))
    for i in range(20):  # a transaction's entries stay together
        mine = [r.seq for r in rows if r.coach_id == i]
        assert len(mine) == 2 and mine[1] == mine[0] + 1
    result = await verdict(sessions)
    assert result.ok and result.checked == 40


async def test_two_processes_append_to_one_valid_chain(sessions, db_url, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    count = 150
    writers = [subprocess.Popen([sys.executable, "-m", "tests.audit_support", db_url, name, str(count), str(tmp_path)],
                                stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    try:
        await wait_until(lambda: all((tmp_path / f"ready-{n}").exists() for n in ("a", "b")), timeout=60)
        (tmp_path / "go").touch()
        for writer in writers:
            assert writer.wait(timeout=120) == 0, writer.stderr.read() if writer.stderr else ""
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
    rows = await entries(sessions)
    assert len(rows) == 2 * count and [r.seq for r in rows] == list(range(1, 2 * count + 1))
    by = {n: [r.seq for r in rows if r.client == n] for n in ("a", "b")}
    assert len(by["a"]) == len(by["b"]) == count
    interleaved = sum(1 for x, y in zip(rows, rows[1:]) if x.client != y.client)
    assert interleaved > 1, "the writers did not overlap"
    result = await verdict(sessions)
    assert result.ok and result.checked == 2 * count
