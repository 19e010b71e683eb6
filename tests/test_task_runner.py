"""The durable task runner on both databases, with the clock moved by hand.

Handlers leave a trace the tests can count: they schedule an "effect" task (a row in the
runner's own table) in the run's transaction, so a rolled-back run leaves none.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.core.clock import FixedClock
from ecoach.core.hub import Hub
from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.task_models import Task
from ecoach.logbook.task_leases import claim_due_tasks
from ecoach.scheduler.registry import TaskContext, TaskRegistry
from ecoach.scheduler.runner import DONE, LOST, PARKED, RETRY, TaskRunner
from ecoach.logbook.tasks import TaskError, cancel_tasks, do_retry_task, schedule_task
from ecoach.settings import SchedulerSettings, Settings
from tests.conftest import fresh_keyring

LEASE = 60.0


def make_settings(db_url: str, **scheduler: Any) -> Settings:
    given = dict(lease_seconds=LEASE, max_attempts=3, retry_base_seconds=10, retry_max_seconds=100,
                 poll_seconds=3600, enabled=False)
    given.update(scheduler)
    return Settings(database_url=db_url, secret_key="test", scheduler=SchedulerSettings(**given))


@pytest.fixture
def registry() -> TaskRegistry:
    return TaskRegistry()


@pytest.fixture
def make_runner(db_url: str, sessions: async_sessionmaker[AsyncSession], clock: FixedClock, hub: Hub):  # type: ignore[no-untyped-def]
    def make(registry: TaskRegistry, worker: str = "a", jitter: float = 0.0, **scheduler: Any) -> TaskRunner:
        return TaskRunner(sessions, registry, make_settings(db_url, **scheduler), clock,
                          jitter=lambda: jitter, worker=worker)

    return make


async def schedule(sessions, name: str, due_at: datetime, params=None, **kw: Any) -> None:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        await schedule_task(session, name, due_at, params, **kw)
        await session.commit()


async def tasks(sessions, name: str | None = None) -> list[Task]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        stmt = select(Task).order_by(Task.id)
        if name is not None:
            stmt = stmt.where(Task.name == name)
        return list((await session.execute(stmt)).scalars())


async def effects(sessions) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [task.params for task in await tasks(sessions, "effect")]


async def leave_effect(ctx: TaskContext, params: dict[str, Any]) -> None:
    """The countable trace of a run: written in the run's own transaction."""
    await schedule_task(ctx.session, "effect", ctx.now + timedelta(days=365),
                        {"task": ctx.task_id, "attempt": ctx.attempt, **params})


# --- scheduling -------------------------------------------------------------------------


async def test_task_runs_once_when_due(sessions, clock, registry, make_runner) -> None:
    seen: list[dict[str, Any]] = []

    @registry.handler("hello")
    async def hello(ctx: TaskContext, params: dict[str, Any]) -> None:
        seen.append(params)
        await leave_effect(ctx, params)

    runner = make_runner(registry)
    await schedule(sessions, "hello", clock.now() + timedelta(hours=1), {"who": "Sanne"}, now=clock.now())
    assert await runner.run_once() == 0
    clock.advance(hours=1)
    assert await runner.run_once() == 1
    assert await runner.run_once() == 0
    assert seen == [{"who": "Sanne"}]
    [task] = await tasks(sessions, "hello")
    assert (task.status, task.attempts, task.claimed_by, task.run_at) == ("done", 1, "a", None)
    assert task.finished_at == clock.now() and task.created_at == clock.now() - timedelta(hours=1)
    assert len(await effects(sessions)) == 1


async def test_scheduling_is_part_of_the_callers_transaction(sessions, clock) -> None:
    async with sessions() as session:
        await schedule_task(session, "hello", clock.now())
        await session.rollback()
    assert await tasks(sessions) == []
    with pytest.raises(ValueError):
        await schedule(sessions, "hello", datetime(2026, 1, 1))  # naive


async def test_same_key_moves_the_pending_task(sessions, clock) -> None:
    await schedule(sessions, "nudge", clock.now() + timedelta(hours=1), {"v": 1}, key="nudge:7")
    await schedule(sessions, "nudge", clock.now() + timedelta(hours=2), {"v": 2}, key="nudge:7")
    await schedule(sessions, "nudge", clock.now() + timedelta(hours=3), {"v": 3}, key="nudge:8")
    rows = await tasks(sessions)
    assert [(t.key, t.params, t.due_at, t.run_at) for t in rows] == [
        ("nudge:7", {"v": 2}, clock.now() + timedelta(hours=2), clock.now() + timedelta(hours=2)),
        ("nudge:8", {"v": 3}, clock.now() + timedelta(hours=3), clock.now() + timedelta(hours=3)),
    ]


async def test_cancel_by_key_and_by_prefix(sessions, clock) -> None:
    for key in ("nudge:1:a", "nudge:1:b", "nudge:10:a", "nudge:2:a", "nudge:1%", "other"):
        await schedule(sessions, "nudge", clock.now(), key=key)
    async with sessions() as session:
        assert await cancel_tasks(session, key_prefix="nudge:1:") == 2
        assert await cancel_tasks(session, key="other") == 1
        assert await cancel_tasks(session, key="other") == 0
        assert await cancel_tasks(session, key_prefix="nudge:1%") == 1  # no wildcards
        await session.commit()
    assert sorted(t.key for t in await tasks(sessions)) == ["nudge:10:a", "nudge:2:a"]
    async with sessions() as session:
        with pytest.raises(ValueError):
            await cancel_tasks(session)


# --- failures ----------------------------------------------------------------------------


async def test_failure_rolls_back_retries_with_backoff_then_parks(sessions, clock, registry, make_runner) -> None:
    @registry.handler("flaky")
    async def flaky(ctx: TaskContext, params: dict[str, Any]) -> None:
        await leave_effect(ctx, params)
        raise RuntimeError(f"relay down (attempt {ctx.attempt})")

    runner = make_runner(registry, jitter=0.5)  # +10% of each delay
    await schedule(sessions, "flaky", clock.now())
    expected = [(1, 11.0), (2, 22.0)]
    for attempts, delay in expected:
        assert await runner.run_once() == 1
        [task] = await tasks(sessions, "flaky")
        assert (task.status, task.attempts) == ("pending", attempts)
        assert task.run_at == clock.now() + timedelta(seconds=delay)
        assert f"RuntimeError: relay down (attempt {attempts})" in (task.last_error or "")
        clock.advance(seconds=delay - 1)
        assert await runner.run_once() == 0  # not due yet
        clock.advance(seconds=1)
    assert await runner.run_once() == 1
    [task] = await tasks(sessions, "flaky")
    assert (task.status, task.attempts, task.run_at) == ("parked", 3, None)
    assert "relay down (attempt 3)" in (task.last_error or "") and "test_task_runner.py" in (task.last_error or "")
    assert await effects(sessions) == []  # every failed run was rolled back
    clock.advance(days=1)
    assert await runner.run_once() == 0


async def test_parked_task_can_be_retried(sessions, clock, registry, make_runner) -> None:
    fail = [True]

    @registry.handler("flaky")
    async def flaky(ctx: TaskContext, params: dict[str, Any]) -> None:
        if fail[0]:
            raise RuntimeError("no")
        await leave_effect(ctx, params)

    runner = make_runner(registry, max_attempts=1)
    await schedule(sessions, "flaky", clock.now())
    await schedule(sessions, "flaky", clock.now() + timedelta(days=9))
    assert await runner.run_once() == 1
    [parked, later] = await tasks(sessions, "flaky")
    assert parked.status == "parked"
    fail[0] = False
    async with sessions() as session:
        with pytest.raises(TaskError):
            await do_retry_task(session, 999, clock.now())
        retried = await do_retry_task(session, parked.id, clock.now())
        await session.commit()
    assert (retried.status, retried.attempts, retried.run_at) == ("pending", 0, clock.now())
    assert await runner.run_once() == 1
    assert [t.status for t in await tasks(sessions, "flaky")] == ["done", "pending"]
    assert len(await effects(sessions)) == 1


async def test_unknown_task_name_is_retried_then_parked(sessions, clock, registry, make_runner) -> None:
    runner = make_runner(registry, max_attempts=2)
    await schedule(sessions, "gone.module", clock.now())
    assert await runner.run_once() == 1
    clock.advance(seconds=10)
    assert await runner.run_once() == 1
    [task] = await tasks(sessions)
    assert task.status == "parked" and "no handler for task 'gone.module'" in (task.last_error or "")


async def test_failure_while_the_key_was_scheduled_again(sessions, clock, registry, make_runner) -> None:
    """A newer scheduling of the key takes the failed run's place."""

    @registry.handler("nudge")
    async def nudge(ctx: TaskContext, params: dict[str, Any]) -> None:
        await schedule(sessions, "nudge", ctx.now + timedelta(hours=5), {"v": 2}, key="nudge:1")
        raise RuntimeError("mail down")

    runner = make_runner(registry)
    await schedule(sessions, "nudge", clock.now(), {"v": 1}, key="nudge:1")
    assert await runner.run_once() == 1
    old, new = await tasks(sessions)
    assert (old.status, old.run_at, "mail down" in (old.last_error or "")) == ("replaced", None, True)
    assert (new.status, new.params) == ("pending", {"v": 2})


async def test_handler_may_schedule_its_own_key_again(sessions, clock, registry, make_runner) -> None:
    @registry.handler("weekly")
    async def weekly(ctx: TaskContext, params: dict[str, Any]) -> None:
        await schedule_task(ctx.session, "weekly", ctx.now + timedelta(days=7), {"n": params["n"] + 1},
                            key=ctx.key)

    runner = make_runner(registry)
    await schedule(sessions, "weekly", clock.now(), {"n": 1}, key="weekly:3")
    assert await runner.run_once() == 1
    clock.advance(days=7)
    assert await runner.run_once() == 1
    assert [(t.status, t.params) for t in await tasks(sessions)] == [
        ("done", {"n": 1}), ("done", {"n": 2}), ("pending", {"n": 3})]


# --- leases ------------------------------------------------------------------------------


async def test_expired_lease_is_taken_over(sessions, clock, registry, make_runner) -> None:
    """A process claimed the task and died: after the lease another process runs it."""
    registry.handler("hello")(leave_effect)
    runner = make_runner(registry, worker="b")
    await schedule(sessions, "hello", clock.now())
    async with sessions() as session:  # the process that will "die"
        [claimed] = await claim_due_tasks(session, clock.now(), LEASE, 10, "a")
        await session.commit()
    assert await runner.run_once() == 0
    clock.advance(seconds=LEASE - 1)
    assert await runner.run_once() == 0
    clock.advance(seconds=1)
    assert await runner.run_once() == 1
    [task] = await tasks(sessions, "hello")
    assert (task.status, task.attempts, task.claimed_by) == ("done", 2, "b")
    assert [e["attempt"] for e in await effects(sessions)] == [2]


async def test_lease_expiring_on_every_attempt_parks_the_task(sessions, clock, registry, make_runner) -> None:
    registry.handler("hello")(leave_effect)
    runner = make_runner(registry, max_attempts=2)
    await schedule(sessions, "hello", clock.now())
    for _ in range(2):
        async with sessions() as session:
            assert len(await claim_due_tasks(session, clock.now(), LEASE, 10, "doomed")) == 1
            await session.commit()
        clock.advance(seconds=LEASE)
    assert await runner.run_once() == 1
    [task] = await tasks(sessions, "hello")
    assert task.status == "parked" and "no run finished within its lease in 2 attempts" in (task.last_error or "")
    assert await effects(sessions) == []


async def test_run_that_lost_its_lease_is_rolled_back(sessions, clock, registry, make_runner) -> None:
    """Process a runs past its lease; b takes the task over and finishes first: a's writes
    and after-commit callbacks never happen."""
    runner_b = make_runner(registry, worker="b")
    called: list[str] = []

    @registry.handler("slow")
    async def slow(ctx: TaskContext, params: dict[str, Any]) -> None:
        if ctx.attempt == 1:
            clock.advance(seconds=LEASE + 1)
            assert await runner_b.run_once() == 1  # b claims the expired task and completes it
        ctx.after_commit(lambda: called.append(f"attempt {ctx.attempt}"))
        await leave_effect(ctx, params)

    runner_a = make_runner(registry, worker="a")
    await schedule(sessions, "slow", clock.now())
    async with sessions() as session:
        [claimed] = await claim_due_tasks(session, clock.now(), LEASE, 10, "a")
        await session.commit()
    assert await runner_a.run_task(claimed) == LOST
    [task] = await tasks(sessions, "slow")
    assert (task.status, task.attempts, task.claimed_by) == ("done", 2, "b")
    assert [e["attempt"] for e in await effects(sessions)] == [2]
    assert called == ["attempt 2"]


async def test_after_commit_runs_after_the_commit_in_order(sessions, clock, registry, make_runner) -> None:
    calls: list[tuple[str, bool]] = []

    @registry.handler("notify")
    async def notify(ctx: TaskContext, params: dict[str, Any]) -> None:
        await leave_effect(ctx, params)
        ctx.after_commit(lambda: calls.append(("first", ctx.session.in_transaction())))
        ctx.after_commit(lambda: 1 / 0)  # a failing callback does not stop the others
        ctx.after_commit(lambda: calls.append(("second", ctx.session.in_transaction())))
        assert calls == []
        if params.get("fail"):
            raise RuntimeError("no")

    runner = make_runner(registry)
    await schedule(sessions, "notify", clock.now(), {"fail": True})
    assert await runner.run_once() == 1
    assert calls == []  # the run failed: nothing was committed, nothing is announced
    await schedule(sessions, "notify", clock.now())
    assert await runner.run_once() == 1
    assert calls == [("first", False), ("second", False)]


async def test_two_runners_run_each_task_once(db_url, clock, hub, registry) -> None:
    """Two runners with their own connections claim from one table at the same time."""
    registry.handler("hello")(leave_effect)
    engines = [create_engine(db_url) for _ in range(2)]
    try:
        runners = [TaskRunner(session_factory(engine, None, fresh_keyring()), registry, make_settings(db_url, batch_size=7),
                              clock, worker=f"w{n}") for n, engine in enumerate(engines)]
        sessions = session_factory(engines[0], None, fresh_keyring())
        async with sessions() as session:
            for n in range(100):
                await schedule_task(session, "hello", clock.now(), {"n": n})
            await session.commit()

        async def drain(runner: TaskRunner) -> None:
            while await runner.run_once():
                pass

        await asyncio.gather(*(drain(runner) for runner in runners))
        done = await tasks(sessions, "hello")
        assert {(t.status, t.attempts) for t in done} == {("done", 1)}
        assert sorted(e["n"] for e in await effects(sessions)) == list(range(100))
    finally:
        for engine in engines:
            await engine.dispose()


async def test_claim_is_an_index_range(sessions, db_url) -> None:
    """The claim query reads ix_task_claim (a few milliseconds with a million pending
    tasks: see the report's figure), not the table."""
    sql = "SELECT id FROM task WHERE run_at <= :now ORDER BY run_at LIMIT 50"
    now = datetime(2026, 11, 25, tzinfo=timezone.utc)
    async with sessions() as session:
        if db_url.startswith("sqlite"):
            plan = " ".join(str(r[-1]) for r in await session.execute(text("EXPLAIN QUERY PLAN " + sql),
                                                                        {"now": now.replace(tzinfo=None)}))
        else:
            # An empty table: make the planner show the plan it picks at scale.
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            await session.execute(text("SET LOCAL enable_bitmapscan = off"))
            plan = " ".join(r[0] for r in await session.execute(text("EXPLAIN " + sql), {"now": now}))
    assert "ix_task_claim" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


# --- recurring jobs ----------------------------------------------------------------------


async def test_a_recurring_firing_schedules_one_task_across_processes(sessions, clock, registry, make_runner) -> None:
    registry.handler("digest")(leave_effect)
    registry.add_recurring("digest", DateTrigger(run_date=clock.now()))
    a, b = make_runner(registry, worker="a"), make_runner(registry, worker="b")
    fire = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
    assert await a.fire_recurring("digest", fire) is True
    assert await a.run_once() == 1  # already done when b's firing arrives
    assert await b.fire_recurring("digest", fire) is False
    assert await b.run_once() == 0
    assert await b.fire_recurring("digest", fire + timedelta(days=1)) is True
    assert await b.run_once() == 1
    rows = await tasks(sessions, "digest")
    assert [(t.key, t.params["fire_time"], t.status) for t in rows] == [
        ("digest:2026-11-25T10:00:00+00:00", "2026-11-25T10:00:00+00:00", "done"),
        ("digest:2026-11-26T10:00:00+00:00", "2026-11-26T10:00:00+00:00", "done"),
    ]
    async with sessions() as session:
        fired = await session.scalar(select(func.count()).select_from(text("task_firing")))
    assert fired == 2


async def test_apscheduler_drives_the_loop_and_the_recurring_jobs(sessions, clock, registry, make_runner) -> None:
    ran: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    async def record(ctx: TaskContext, params: dict[str, Any]) -> None:
        ran.put_nowait((ctx.name, params))

    registry.handler("hello")(record)
    registry.handler("digest")(record)
    # APScheduler fires on the real time (it only paces the runner; the tasks it schedules
    # run on the injected clock): a trigger for "now", whatever the time of day.
    trigger = DateTrigger(timezone=timezone.utc)
    fire = trigger.run_date
    registry.add_recurring("digest", trigger)
    runner = make_runner(registry)
    runner.start()
    try:
        name, params = await asyncio.wait_for(ran.get(), 10)
        assert (name, params) == ("digest", {"fire_time": fire.isoformat()})
        await runner.idle()
        await schedule(sessions, "hello", clock.now(), {"n": 1})
        runner.wake()
        runner.wake()  # a second wake while draining is folded into it
        assert await asyncio.wait_for(ran.get(), 10) == ("hello", {"n": 1})
        await runner.idle()
    finally:
        await runner.stop()
    assert ran.empty()
    assert {t.status for t in await tasks(sessions)} == {"done"}


async def test_registry_refuses_duplicates_and_recurring_jobs_without_handler(registry) -> None:
    registry.handler("a")(leave_effect)
    with pytest.raises(ValueError):
        registry.handler("a")(leave_effect)
    registry.add_recurring("b", DateTrigger(run_date=datetime(2026, 1, 1, tzinfo=timezone.utc)))
    with pytest.raises(ValueError, match="b"):
        registry.check()


# --- the admin command -------------------------------------------------------------------


def test_tasks_command_lists_parked_tasks_and_retries_them(db_url, clock, hub, monkeypatch, capsys) -> None:
    from ecoach.cli import main

    registry = TaskRegistry()

    @registry.handler("digest")
    async def digest(ctx: TaskContext, params: dict[str, Any]) -> None:
        raise ConnectionError("relay refused")

    async def park_one() -> int:
        engine = create_engine(db_url)
        try:
            sessions = session_factory(engine, None, fresh_keyring())
            await schedule(sessions, "digest", clock.now(), key="digest:coach:1")
            await schedule(sessions, "digest", clock.now() + timedelta(days=1))
            runner = TaskRunner(sessions, registry, make_settings(db_url, max_attempts=1), clock)
            assert await runner.run_once() == 1
            return (await tasks(sessions))[0].id
        finally:
            await engine.dispose()

    task_id = asyncio.run(park_one())
    monkeypatch.setenv("ECOACH_DATABASE_URL", db_url)
    assert main(["tasks", "list"]) == 0
    out = capsys.readouterr().out
    assert f"{task_id}  parked  digest  attempts=1" in out and "key=digest:coach:1" in out
    assert "error: ConnectionError: relay refused" in out
    assert main(["tasks", "list", "--status", "pending"]) == 0
    assert "pending  digest" in capsys.readouterr().out
    assert main(["tasks", "retry", str(task_id)]) == 0
    assert f"task {task_id} (digest) will run again now" in capsys.readouterr().out
    assert main(["tasks", "list"]) == 0  # pending again, its last error kept until it succeeds
    assert f"{task_id}  pending  digest  attempts=0" in capsys.readouterr().out
    assert main(["tasks", "list", "--status", "done"]) == 0
    assert capsys.readouterr().out == "no done tasks\n"
    assert main(["tasks", "retry", "424242"]) == 1
    assert "no task 424242" in capsys.readouterr().err


async def test_the_app_wires_the_runner(db_url, clock) -> None:
    from tests.support import app_client, settings_for

    from ecoach.keys import TASK_RUNNER

    async with app_client(settings_for(db_url), clock) as client:  # tests: runs only when called
        runner = client.server.app[TASK_RUNNER]
        assert runner.scheduler is None
        assert "tasks.prune" in runner.registry.handlers and "tasks.prune" in runner.registry.recurring
        assert await runner.run_once() == 0
    settings = settings_for(db_url, scheduler={"poll_seconds": 3600, "task_modules": "tests.task_probe"})
    async with app_client(settings, clock) as client:
        runner = client.server.app[TASK_RUNNER]
        assert runner.scheduler is not None and runner.scheduler.running
        assert "probe" in runner.registry.handlers
        assert {"tasks:tick", "recurring:tasks.prune"} <= {job.id for job in runner.scheduler.get_jobs()}
    assert runner.scheduler is None  # stopped with the app
