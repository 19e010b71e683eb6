"""Files in the chat: upload and download speed of a 5 MB file, and whether text chat
stays quick while uploads run.

    .venv/bin/python bench/chat_files.py [--db sqlite|postgresql|both] [--files 12] [--mb 5]

ecoach runs as ``ecoach serve`` in its own process with a master key (files are sealed as
in production). A coachee uploads files one after another (each fully checked: magic
bytes, a PDF), then the coach downloads each; MB/s per transfer. Then the coachee's chat
round trip (send over the websocket, wait for the ack after commit) is measured alone and
while two other coachee links upload files without pause.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp

from common import bench_database, percentile  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server_process import ServerProcess  # noqa: E402

PASSWORD = "bench password 1"
EMAIL = "files@example.org"


async def prepare(db_url: str, links: int) -> list[str]:
    from datetime import datetime, timezone

    from ecoach.actions.coaches import do_add_coach
    from ecoach.actions.engagements import do_create_engagement
    from ecoach.logbook.db import create_engine, migrate, session_factory

    engine = create_engine(db_url)
    await migrate(engine)
    now = datetime.now(timezone.utc)
    async with session_factory(engine)() as session:
        coach = await do_add_coach(session, name="Bench Coach", email=EMAIL, password=PASSWORD,
                                   language="en", time_zone="Europe/Amsterdam", now=now)
        tokens = [(await do_create_engagement(session, coach, coachee_name=f"Coachee {n}", now=now,
                                              secret="bench-secret")).chat_token for n in range(links)]
        await session.commit()
    await engine.dispose()
    return tokens


def pdf(size: int, seed: int) -> bytes:
    head = b"%PDF-1.7\n%" + seed.to_bytes(4, "big") + b"\n"
    return head + os.urandom(size - len(head))  # incompressible, like a scanned document


async def coachee(http: aiohttp.ClientSession, base: str, token: str) -> str:
    page = await (await http.get(f"{base}/c/{token}")).text()
    return re.search(r'data-csrf="([^"]+)"', page).group(1)  # type: ignore[union-attr]


async def upload(http: aiohttp.ClientSession, base: str, token: str, csrf: str, data: bytes, n: int,
                 run: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = await http.put(f"{base}/c/{token}/files/{run}{n:020d}", data=data,
                              headers={"X-CSRF-Token": csrf, "X-File-Name": quote(f"scan {n}.pdf"),
                                       "Accept": "application/json"})
    body = await response.json()
    assert response.status == 200, body
    return time.perf_counter() - started, body["exchange"]["id"]


async def transfers(base: str, token: str, files: int, size: int) -> tuple[list[float], list[float]]:
    ups, downs, ids = [], [], []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        csrf = await coachee(http, base, token)
        for n in range(files):
            seconds, exchange_id = await upload(http, base, token, csrf, pdf(size, n), n, "up")
            ups.append(size / seconds / 1e6)
            ids.append(exchange_id)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as coach:
        page = await (await coach.get(base + "/login")).text()
        csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        await coach.post(base + "/login", data={"_csrf": csrf, "email": EMAIL, "password": PASSWORD, "next": "/"})
        for exchange_id in ids:
            started = time.perf_counter()
            response = await coach.get(f"{base}/engagements/1/exchanges/{exchange_id}/file")
            got = await response.read()
            assert response.status == 200 and len(got) == size, response.status
            downs.append(size / (time.perf_counter() - started) / 1e6)
    return ups, downs


async def round_trips(base: str, token: str, count: int, tag: str) -> list[float]:
    latencies = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        ws = await http.ws_connect(base.replace("http", "ws") + f"/c/{token}/ws")
        for n in range(count):
            client_id = f"{tag}{n:020d}"
            started = time.perf_counter()
            await ws.send_json({"type": "message", "client_id": client_id, "text": f"bericht {n}"})
            while True:
                frame = await ws.receive_json(timeout=30)
                if frame.get("type") == "ack" and frame.get("client_id") == client_id:
                    break
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.02)
        await ws.close()
    return latencies


async def busy_uploads(base: str, token: str, size: int, stop, tag: str, rate: float) -> int:  # type: ignore[no-untyped-def]
    """Upload files until told to stop: ``rate`` files a second (0: one after another)."""
    done = 0
    data = pdf(size, 0)  # made once: the client's own work must not count
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        csrf = await coachee(http, base, token)
        while not stop.is_set():
            started = time.perf_counter()
            await upload(http, base, token, csrf, data, done, tag)
            done += 1
            if rate:
                await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - started)))
    return done


def uploader(base: str, token: str, size: int, stop, tag: str, rate: float, result) -> None:  # type: ignore[no-untyped-def]
    """In its own process, so that the measuring client's event loop is not the one busy
    sending files."""
    done = -1  # failed: the parent must not wait for ever
    try:
        done = asyncio.run(busy_uploads(base, token, size, stop, tag, rate))
    finally:
        result.send(done)


async def while_uploading(base: str, tokens: list[str], size: int, rate: float) -> tuple[list[float], int]:
    """Chat round trips while two other coachees upload files (each in its own process)."""
    stop = multiprocessing.Event()
    pipes = [multiprocessing.Pipe(duplex=False) for _ in tokens[2:4]]
    uploaders = [multiprocessing.Process(target=uploader, args=(base, t, size, stop, f"b{int(rate * 10)}x{i}", rate, pipes[i][1]))
                 for i, t in enumerate(tokens[2:4])]
    for process in uploaders:
        process.start()
    await asyncio.sleep(1)  # the uploads are under way
    trips = await round_trips(base, tokens[1], 200, f"r{int(rate * 10)}")
    stop.set()
    uploaded = sum(receive.recv() for receive, _ in pipes)
    for process in uploaders:
        process.join(30)
    return trips, uploaded


async def measure(db_url: str, files: int, size: int, rates: list[float]) -> None:
    tokens = await prepare(db_url, 4)
    from ecoach.core.crypto import MasterKey

    workdir = Path(tempfile.mkdtemp())
    server = ServerProcess(workdir, db_url, ECOACH_SECRET_KEY="bench-secret",
                           ECOACH_MASTER_KEYS=MasterKey("bench", os.urandom(32)).line(),
                           ECOACH_LIMITS__BODY_TIMEOUT_SECONDS="120")
    server.start()
    try:
        ups, downs = await transfers(server.url, tokens[0], files, size)
        quiet = await round_trips(server.url, tokens[1], 200, "q")
        busy = {}
        for rate in rates:
            busy[rate] = await while_uploading(server.url, tokens, size, rate)
    finally:
        server.stop()
    mb = size / 1e6
    print(f"  upload   {mb:.0f} MB: p50 {percentile(ups, 50):6.1f} MB/s   min {min(ups):6.1f} MB/s   ({files} files)")
    print(f"  download {mb:.0f} MB: p50 {percentile(downs, 50):6.1f} MB/s   min {min(downs):6.1f} MB/s")
    print(f"  chat round trip alone:                       p50 {percentile(quiet, 50):6.2f} ms   p99 {percentile(quiet, 99):6.2f} ms")
    for rate, (trips, uploaded) in busy.items():
        pace = f"2 × {rate:g} files/s" if rate else "2 × back to back"
        print(f"  chat round trip, uploads {pace:>16}: p50 {percentile(trips, 50):6.2f} ms   "
              f"p99 {percentile(trips, 99):6.2f} ms   ({uploaded} files of {mb:.0f} MB uploaded meanwhile)")

async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--mb", type=float, default=5.0)
    parser.add_argument("--rates", default="1,0", help="files/s per uploader meanwhile; 0: back to back")
    parser.add_argument("--postgres-url", default=None)
    args = parser.parse_args()
    for backend in (("sqlite", "postgresql") if args.db == "both" else (args.db,)):
        print(f"{backend}:")
        async with bench_database(backend, "bench_chat_files", args.postgres_url) as db_url:
            await measure(db_url, args.files, int(args.mb * 1e6), [float(r) for r in args.rates.split(',')])


if __name__ == "__main__":
    asyncio.run(main())
