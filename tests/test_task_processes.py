"""Two real ``ecoach serve`` processes on one PostgreSQL database share the due tasks:
each runs exactly once, and a process killed in the middle of a task leaves it to be run
again once its lease has expired.

The handler (tests/task_probe.py, loaded through ``scheduler.task_modules``) writes one
``probe_run`` row per run in the run's transaction: the rows count committed runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.tasks import schedule_task
from tests.conftest import START
from tests.server_process import ServerProcess
from tests.conftest import fresh_keyring

ROOT = Path(__file__).resolve().parents[1]
TASKS = 10_000
pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@pytest.fixture
def servers(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[list[ServerProcess]]:
    lease = getattr(request, "param", "30")
    asyncio.run(_sql(db_url, "CREATE TABLE probe_run (task_id BIGINT NOT NULL, attempt INT NOT NULL, "
                             "pid INT NOT NULL)"))
    started: list[ServerProcess] = []
    try:
        for n in range(2):
            workdir = tmp_path / f"server{n}"
            workdir.mkdir()
            # The servers' clock runs (from START): a killed server's lease must expire.
            server = ServerProcess(
                workdir, db_url, clock=START, clock_runs=True, PYTHONPATH=str(ROOT), ECOACH_AUTO_MIGRATE="false",
                ECOACH_SCHEDULER__TASK_MODULES="tests.task_probe", ECOACH_SCHEDULER__POLL_SECONDS="0.2",
                ECOACH_SCHEDULER__BATCH_SIZE="100", ECOACH_SCHEDULER__LEASE_SECONDS=lease,
            )
            server.start()
            started.append(server)
        yield started
    finally:
        for server in started:
            server.stop()


async def _sql(db_url: str, sql: str, **params: object) -> list[tuple]:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


async def _schedule(db_url: str, count: int, params: dict | None = None) -> None:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, fresh_keyring())() as session:
            for _ in range(count):  # due when the servers' clock starts
                await schedule_task(session, "probe", START, params, now=START)
            await session.commit()
    finally:
        await engine.dispose()


async def _wait_for(db_url: str, sql: str, expected: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        [(value,)] = await _sql(db_url, sql)
        if value == expected or time.monotonic() > deadline:
            assert value == expected, f"{sql}: {value}"
            return
        await asyncio.sleep(0.1)


async def _wait_while_progressing(db_url: str, sql: str, expected: int, stall_seconds: float) -> None:
    """Wait until ``sql`` counts ``expected``; fail only when the count stops rising for
    ``stall_seconds`` (a busy machine is slower, not wrong)."""
    last, deadline = -1, time.monotonic() + stall_seconds
    while True:
        [(value,)] = await _sql(db_url, sql)
        if value == expected:
            return
        if value != last:
            last, deadline = value, time.monotonic() + stall_seconds
        assert time.monotonic() < deadline, f"{sql}: stuck at {value} of {expected}"
        await asyncio.sleep(0.1)


def _worker_pid(claimed_by: str) -> int:
    return int(claimed_by.rsplit(":", 1)[1])


def test_two_servers_run_each_of_10000_tasks_exactly_once(db_url: str, servers: list[ServerProcess]) -> None:
    asyncio.run(_schedule(db_url, TASKS))  # one commit: both servers find them due at once
    asyncio.run(_wait_while_progressing(db_url, "SELECT count(*) FROM task WHERE status = 'done'", TASKS, 30))
    runs = asyncio.run(_sql(db_url, "SELECT count(*), count(DISTINCT task_id), max(attempt) FROM probe_run"))
    assert runs == [(TASKS, TASKS, 1)]
    per_task = asyncio.run(_sql(db_url, "SELECT count(*) FROM task t JOIN probe_run r ON r.task_id = t.id "
                                        "AND r.pid = CAST(split_part(t.claimed_by, ':', 2) AS INT) "
                                        "WHERE t.attempts = 1"))
    assert per_task == [(TASKS,)]  # each ran once, in the process that claimed it
    pids = asyncio.run(_sql(db_url, "SELECT pid, count(*) FROM probe_run GROUP BY pid"))
    assert {pid for pid, _ in pids} == {server.proc.pid for server in servers if server.proc}, pids


@pytest.mark.parametrize("servers", ["10"], indirect=True)  # a 10-second lease: room for a slow machine before the kill
def test_a_task_of_a_killed_server_runs_again_after_its_lease(
    db_url: str, servers: list[ServerProcess], tmp_path: Path
) -> None:
    hang = tmp_path / "hang"
    asyncio.run(_schedule(db_url, 1, {"hang_file": str(hang)}))
    deadline = time.monotonic() + 30
    while not hang.exists():
        assert time.monotonic() < deadline, "no server started the task"
        time.sleep(0.05)
    pid = int(hang.read_text())
    [victim] = [server for server in servers if server.proc and server.proc.pid == pid]
    [survivor] = [server for server in servers if server is not victim]
    victim.kill()  # SIGKILL, mid-task: its uncommitted probe_run row goes with it
    [(status, claimed_by)] = asyncio.run(_sql(db_url, "SELECT status, claimed_by FROM task"))
    assert (status, _worker_pid(claimed_by)) == ("running", pid)
    asyncio.run(_wait_for(db_url, "SELECT count(*) FROM task WHERE status = 'done'", 1, 30))
    [(attempts, claimed_by)] = asyncio.run(_sql(db_url, "SELECT attempts, claimed_by FROM task"))
    assert survivor.proc is not None
    assert (attempts, _worker_pid(claimed_by)) == (2, survivor.proc.pid)
    runs = asyncio.run(_sql(db_url, "SELECT attempt, pid FROM probe_run"))
    assert runs == [(2, survivor.proc.pid)]
