"""``ecoach backup`` and ``ecoach restore`` at scale, and what a backup costs the writers.

    .venv/bin/python bench/backup.py --db both          # 10,000 engagements, 1,000,000 exchanges

For each backend, on a database loaded as bench/inbox_query.py loads it: the time of
``ecoach backup`` and ``ecoach restore`` (into a new, empty place) run as an operator runs
them, beside the bare tool (SQLite: the online backup API in one step; PostgreSQL: pg_dump,
pg_restore); the difference is what ecoach's checks cost. Meanwhile a writer commits one
exchange after another: its commit latency before and during the backup shows that the
servers go on writing (no lock held against them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import asyncpg
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from common import bench_database, bench_keyring, plain_rows, summary  # type: ignore[import-not-found]
from inbox_query import generate, load, seal  # type: ignore[import-not-found]
from ecoach.core.crypto import MasterKeys, new_master_key
from ecoach.logbook.backup_pg import libpq_env
from ecoach.logbook.db import create_engine
from ecoach.logbook.models import Exchange

ROOT = Path(__file__).resolve().parents[1]


async def writer(url: str, stop: asyncio.Event, latencies: list[float]) -> None:
    """One exchange a commit, as a busy server writes, until ``stop``."""
    engine = create_engine(url)
    n = 0
    try:
        while not stop.is_set():
            n += 1
            started = time.perf_counter()
            async with engine.begin() as conn:
                await conn.execute(insert(Exchange), plain_rows(Exchange, [dict(
                    engagement_id=1, channel="chat", direction="in", author="coachee", author_name="x",
                    body_text="while the backup runs", body_html="<p>while the backup runs</p>",
                    created_at=datetime.now(timezone.utc), external_id=f"bench-backup:{os.getpid()}:{n}:{started}",
                    delivery_state="stored")]))
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await engine.dispose()


async def timed_ecoach(url: str, *args: str) -> float:
    env = {**os.environ, "ECOACH_DATABASE_URL": url, "ECOACH_LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "ecoach", *args, env=env, cwd=ROOT,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"ecoach {' '.join(args)} failed: {err.decode()}")
    seconds = time.perf_counter() - started
    print(f"    {out.decode().strip()}")
    return seconds


def bare_sqlite(url: str, target: Path) -> float:
    started = time.perf_counter()
    src, dst = sqlite3.connect(make_url(url).database), sqlite3.connect(target)
    src.backup(dst)
    dst.close()
    src.close()
    return time.perf_counter() - started


def bare_pg(url: str, target: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["pg_dump", "--format=custom", f"--file={target}"], env={**os.environ, **libpq_env(url)},
                   check=True)
    return time.perf_counter() - started


async def fresh_place(url: str, name: str) -> str:
    if url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'restored.db'}"
    admin = await asyncpg.connect(make_url(url).set(drivername="postgresql", database="postgres")
                                  .render_as_string(hide_password=False))
    await admin.execute(f"DROP DATABASE IF EXISTS {name}")
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def bare_restore(url: str, backup: Path, fresh: str) -> float:
    started = time.perf_counter()
    if url.startswith("sqlite"):
        src, dst = sqlite3.connect(backup), sqlite3.connect(make_url(fresh).database)
        src.backup(dst)
        dst.close()
        src.close()
    else:
        subprocess.run(["pg_restore", "--no-owner", "--single-transaction", f"--dbname={make_url(fresh).database}",
                        str(backup)], env={**os.environ, **libpq_env(fresh)}, check=True)
    return time.perf_counter() - started


async def one_backend(url: str, workdir: Path) -> None:
    size = Path(make_url(url).database).stat().st_size if url.startswith("sqlite") else None
    stop, idle, busy = asyncio.Event(), [], []
    task = asyncio.create_task(writer(url, stop, idle))
    await asyncio.sleep(3)  # the writer's pace with nothing else going on
    stop.set()
    await task
    stop = asyncio.Event()
    task = asyncio.create_task(writer(url, stop, busy))
    backup = workdir / "ecoach.backup"
    seconds = await timed_ecoach(url, "backup", str(backup))
    stop.set()
    await task
    bare_file = workdir / "bare.backup"
    bare = bare_sqlite(url, bare_file) if url.startswith("sqlite") else bare_pg(url, bare_file)
    mb = backup.stat().st_size / 1e6
    if size:
        print(f"    database {size / 1e6:.0f} MB")
    print(f"  ecoach backup   {seconds:6.1f} s  ({mb:.0f} MB file)   bare tool {bare:6.1f} s")
    print(f"  writer alone:          {len(idle):6d} commits  {summary(idle)}")
    print(f"  writer during backup:  {len(busy):6d} commits  {summary(busy)}")
    fresh = await fresh_place(url, "ecoach_bench_restored")
    seconds = await timed_ecoach(fresh, "restore", str(backup))
    fresh_bare = await fresh_place(url, "ecoach_bench_restored_bare")
    bare = bare_restore(url, bare_file, fresh_bare)
    print(f"  ecoach restore  {seconds:6.1f} s                  bare tool {bare:6.1f} s")


async def run(args: argparse.Namespace) -> None:
    print(f"generating {args.engagements:,} engagements, {args.exchanges:,} exchanges ...", flush=True)
    # Sealed as ecoach stores them: a data key per engagement and coachee (the master key is
    # not needed to copy the database).
    data = seal(generate(args.engagements, args.exchanges, args.coaches), MasterKeys([new_master_key("bench")]))
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for backend in backends:
        if backend == "postgresql" and not shutil.which("pg_dump"):
            raise SystemExit("pg_dump is not on PATH (./run-tests installs PostgreSQL)")
        async with bench_database(backend, "ecoach_bench_backup", args.database_url) as url:
            seconds = await load(url, data)
            print(f"\n{backend}: loaded in {seconds:.1f} s", flush=True)
            with tempfile.TemporaryDirectory() as workdir:
                await one_backend(url, Path(workdir))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--database-url", help="an existing PostgreSQL server (postgresql+asyncpg://.../postgres)")
    parser.add_argument("--engagements", type=int, default=10_000)
    parser.add_argument("--exchanges", type=int, default=1_000_000)
    parser.add_argument("--coaches", type=int, default=20)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
