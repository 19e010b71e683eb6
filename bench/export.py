"""The coachee's data package at scale: is its memory bounded?

    .venv/bin/python bench/export.py --db both     # 10,000 exchanges, 200 MB of attachments

For each backend: an engagement with ``--exchanges`` exchanges (chat and mail, some long)
and ``--attachments`` attachments of ``--attachment-mb`` MB each (random bytes: they do
not compress) is loaded, sealed with a master key as in production. Then, in a fresh
process, the real app serves it on loopback and a client downloads
``/engagements/<id>/data-package`` chunk by chunk to a file. Printed: the process's
resident memory before the download, its peak during it (sampled every 10 ms from
/proc/self/statm) and the growth; the time, MB/s, and the ZIP's size. The package is
checked afterwards: every entry's CRC, every exchange in data.json, every attachment.

The growth is what an export costs in memory; bounded means it stays flat (about one
page of exchanges plus one attachment) while the package is hundreds of MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, select

from common import bench_database  # type: ignore[import-not-found]

from ecoach.actions.coaches import do_add_coach  # noqa: E402
from ecoach.actions.engagements import do_create_engagement
from ecoach.core.crypto import MasterKeys, new_master_key, parse_master_keys
from ecoach.logbook.db import create_engine, migrate, session_factory
from ecoach.logbook.keyring import Keyring
from ecoach.logbook.mail_models import Attachment
from ecoach.logbook.models import Exchange

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
SECRET = "bench-secret-key"
EMAIL, PASSWORD = "bench@example.org", "bench password 1234"
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE / 1024**2


async def load(url: str, master: str, exchanges: int, attachments: int, size: int) -> int:
    engine = create_engine(url)
    await migrate(engine)
    keyring = Keyring(MasterKeys([_parse(master)]))
    sessions = session_factory(engine, None, keyring)
    async with sessions() as session:
        coach = await do_add_coach(session, name="Bench Coach", email=EMAIL, password=PASSWORD, language="en",
                                   time_zone="Europe/Amsterdam", now=NOW)
        created = await do_create_engagement(session, coach, coachee_name="Sanne de Vries",
                                             coachee_email="sanne@example.org", now=NOW, secret=SECRET)
        await session.commit()
    engagement_id = created.engagement.id
    mail_every = max(1, exchanges // max(1, attachments))
    for start in range(0, exchanges, 1000):
        rows = []
        for n in range(start, min(start + 1000, exchanges)):
            mail = n % mail_every == 0
            text = f"Bericht {n}: hoe het gaat met plannen en rust nemen. " * (40 if n % 50 == 0 else 3)
            rows.append(dict(engagement_id=engagement_id, channel="mail" if mail else "chat",
                             direction="in" if n % 2 else "out", author="coachee" if n % 2 else "coach",
                             author_name="Sanne" if n % 2 else "Bench Coach", body_text=text,
                             body_html=f"<p>{text}</p>", created_at=NOW + timedelta(minutes=n),
                             external_id=f"bench:{n}", delivery_state="stored",
                             meta={"subject": f"Week {n}"} if mail else None))
        async with sessions() as session:
            await session.execute(insert(Exchange), rows)  # an ORM bulk insert: sealed like any other write
            await session.commit()
    async with sessions() as session:
        mail_ids = list((await session.execute(
            select(Exchange.id).where(Exchange.channel == "mail").order_by(Exchange.id).limit(attachments))).scalars())
    for i, exchange_id in enumerate(mail_ids):
        async with sessions() as session:
            session.add(Attachment(exchange_id=exchange_id, filename=f"bijlage-{i}.bin",
                                   content_type="application/octet-stream", size=size, data=os.urandom(size)))
            await session.commit()
    await engine.dispose()
    return engagement_id


def _parse(line: str):  # type: ignore[no-untyped-def]
    return parse_master_keys(line, "bench")[0]


async def measure(url: str, engagement_id: int, target: Path) -> dict[str, float]:
    """In a fresh process: serve the app, log in, download the package; memory meanwhile."""
    import aiohttp
    from aiohttp import web

    from ecoach.app import build_app
    from ecoach.core.clock import FixedClock
    from ecoach.settings import Settings

    settings = Settings(database_url=url, secret_key=SECRET, auto_migrate=False, scheduler={"enabled": False},
                        public_url="http://127.0.0.1")
    runner = web.AppRunner(build_app(settings, clock=FixedClock(NOW + timedelta(days=30))))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:  # cookies of an IP
        page = await (await client.get(base + "/login")).text()
        csrf = page.split('name="_csrf" value="', 1)[1].split('"', 1)[0]
        await client.post(base + "/login", data={"_csrf": csrf, "email": EMAIL, "password": PASSWORD, "next": "/"})
        await (await client.get(f"{base}/engagements/{engagement_id}")).read()  # warm: templates, keys
        before = rss_mb()
        maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak = before
        done = asyncio.Event()

        async def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, rss_mb())
                await asyncio.sleep(0.01)

        sampler = asyncio.create_task(sample())
        started = time.perf_counter()
        size = 0
        with target.open("wb") as out:
            async with client.get(f"{base}/engagements/{engagement_id}/data-package") as response:
                assert response.headers.get("Content-Type") == "application/zip", response.status
                async for chunk in response.content.iter_chunked(256 * 1024):
                    out.write(chunk)
                    size += len(chunk)
        elapsed = time.perf_counter() - started
        done.set()
        await sampler
    await runner.cleanup()
    return {"before": before, "peak": peak, "maxrss_before": maxrss_before,
            "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "seconds": elapsed, "mb": size / 1024**2}


def check(target: Path, exchanges: int, attachments: int) -> str:
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None, "a CRC does not match"
        data = json.loads(archive.read("data.json"))
        assert data["exchange_count"] == len(data["exchanges"]) == exchanges, data["exchange_count"]
        files = [n for n in archive.namelist() if n.startswith("attachments/")]
        assert len(files) == attachments, len(files)
        html = archive.read("timeline.html").decode()
        assert html.count('<li class="exchange') == exchanges
    return f"checked: {exchanges} exchanges in data.json and timeline.html, {attachments} attachments, every CRC"


async def run(backend: str, args: argparse.Namespace) -> None:
    master = new_master_key("bench").line()
    async with bench_database(backend, "ecoach_bench_export", args.pg) as url:
        started = time.perf_counter()
        engagement_id = await load(url, master, args.exchanges, args.attachments, int(args.attachment_mb * 1024**2))
        print(f"\n{backend}: loaded {args.exchanges} exchanges and {args.attachments} x {args.attachment_mb} MB "
              f"attachments in {time.perf_counter() - started:.1f} s")
        target = Path(tempfile.mkdtemp()) / "package.zip"
        env = {**os.environ, "ECOACH_MASTER_KEYS": master}
        child = subprocess.run([sys.executable, __file__, "--measure", url, str(engagement_id), str(target)],
                               env=env, capture_output=True, text=True, check=False)
        if child.returncode:
            raise SystemExit(child.stderr)
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"  resident memory: {figures['before']:.0f} MB before, peak {figures['peak']:.0f} MB during the "
              f"download: +{figures['peak'] - figures['before']:.0f} MB (the process's high-water mark, ru_maxrss: "
              f"{figures['maxrss_before']:.0f} MB before, {figures['maxrss']:.0f} MB after)")
        print(f"  package: {figures['mb']:.0f} MB in {figures['seconds']:.1f} s "
              f"({figures['mb'] / figures['seconds']:.0f} MB/s)")
        print("  " + check(target, args.exchanges, args.attachments))
        target.unlink()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        url, engagement_id, target = sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
        print(json.dumps(asyncio.run(measure(url, engagement_id, target))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--pg", help="postgresql+asyncpg:// server URL (default: a throwaway cluster)")
    parser.add_argument("--exchanges", type=int, default=10_000)
    parser.add_argument("--attachments", type=int, default=200)
    parser.add_argument("--attachment-mb", type=float, default=1.0)
    args = parser.parse_args()
    for backend in (("sqlite", "postgresql") if args.db == "both" else (args.db,)):
        asyncio.run(run(backend, args))


if __name__ == "__main__":
    main()
