"""Task handlers for tests/test_task_processes.py, loaded by real ``ecoach serve``
processes through the ``scheduler.task_modules`` setting.

Every run of "probe" writes a row to ``probe_run`` (a table the test creates) in the
run's transaction, so the rows count the runs that committed. With ``hang_file`` the
first attempt also writes that file, then waits until its process is killed.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from sqlalchemy import text

from ecoach.scheduler.registry import TaskContext, TaskRegistry


def register_tasks(registry: TaskRegistry) -> None:
    registry.handler("probe")(probe)


async def probe(ctx: TaskContext, params: dict[str, Any]) -> None:
    await ctx.session.execute(
        text("INSERT INTO probe_run (task_id, attempt, pid) VALUES (:task, :attempt, :pid)"),
        {"task": ctx.task_id, "attempt": ctx.attempt, "pid": os.getpid()},
    )
    hang = params.get("hang_file")
    if hang and ctx.attempt == 1:
        Path(hang).write_text(str(os.getpid()))
        await asyncio.Event().wait()
