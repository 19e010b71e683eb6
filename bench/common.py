"""Shared by the benchmarks: databases to measure on, and percentiles."""

from __future__ import annotations

import http.client
import multiprocessing
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.pg import start_cluster  # noqa: E402  (the same throwaway cluster the tests use)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def summary(values_ms: list[float]) -> str:
    return (f"p50 {percentile(values_ms, 50):7.2f} ms   p95 {percentile(values_ms, 95):7.2f} ms   "
            f"p99 {percentile(values_ms, 99):7.2f} ms   mean {statistics.fmean(values_ms):7.2f} ms")


def postgres_url(given: str | None):  # type: ignore[no-untyped-def]
    """(url, stop) for PostgreSQL: the given server, or a throwaway cluster."""
    if given:
        return given, lambda: None
    cluster = start_cluster()
    if cluster is None:
        raise SystemExit("PostgreSQL is not installed (./run-tests installs it)")
    return cluster.url, cluster.stop


@asynccontextmanager
async def bench_database(backend: str, name: str, given: str | None) -> AsyncIterator[str]:
    """An empty database to load and measure: a temp SQLite file, or ``name`` created
    afresh on the given PostgreSQL server (else a throwaway cluster, stopped after)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
        return
    server, stop = postgres_url(given)
    try:
        admin = await asyncpg.connect(server.replace("postgresql+asyncpg", "postgresql"))
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name}")
            await admin.execute(f"CREATE DATABASE {name}")
        finally:
            await admin.close()
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        stop()


def poll_health(base: str, stop, samples) -> None:  # type: ignore[no-untyped-def]
    """In its own process (at normal priority): GET /healthz every 10 ms until told to stop.
    A request that fails or times out counts with the time it took (and the connection is
    made again): a server too busy to answer shows as such, not as a crashed bench."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    out = []
    while not stop.is_set():
        started = time.perf_counter()
        try:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
        except OSError:
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
        out.append((time.perf_counter() - started) * 1000)
        time.sleep(0.01)
    samples.send(out)


class HealthPoller:
    def __init__(self, base: str) -> None:
        self.stop = multiprocessing.Event()
        self.receive, send = multiprocessing.Pipe(duplex=False)
        self.process = multiprocessing.Process(target=poll_health, args=(base, self.stop, send), daemon=True)

    def __enter__(self) -> HealthPoller:
        self.process.start()
        return self

    def samples(self) -> list[float]:
        self.stop.set()
        values = self.receive.recv()
        self.process.join(10)
        return values

    def __exit__(self, *exc: object) -> None:
        self.stop.set()


def bench_keyring():  # type: ignore[no-untyped-def]
    """A keyring with a master key of its own: the benchmark stores what ecoach stores."""
    from ecoach.core.crypto import MasterKeys, new_master_key
    from ecoach.logbook.keyring import Keyring

    return Keyring(MasterKeys([new_master_key("bench")]))


def plain_rows(model, rows: list[dict]) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    """Rows for a Core insert (``insert(model)``) given with plaintext personal fields: those
    in the sealed columns' plaintext form. For benchmarks of queries that read no personal
    field (bench/inbox_query.py measures encryption's cost)."""
    from ecoach.core.crypto import PLAIN_KEY
    from ecoach.logbook.sealed import sealed_fields

    fields = sealed_fields(model)
    if not fields:
        return rows
    out = []
    for row in rows:
        converted = {}
        for name, value in row.items():
            spec = fields.get(name)
            if spec is None:
                converted[name] = value
            else:
                converted[spec.column] = None if value is None else PLAIN_KEY.seal(spec.place, spec.kind, value)
        out.append(converted)
    return out


Histograms = dict[tuple[str, str], tuple[list[tuple[float, float]], float, float]]


def scrape(base: str) -> Histograms:
    """An ecoach server's timing histograms (``/metrics``, which its settings enable): the
    chat write path's phases and the event loop's lag, (name, phase) -> (cumulative
    buckets, sum, count)."""
    from prometheus_client.parser import text_string_to_metric_families

    found: Histograms = {}
    text = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
    for family in text_string_to_metric_families(text):
        if family.name not in ("ecoach_chat_write_seconds", "ecoach_event_loop_lag_seconds"):
            continue
        for sample in family.samples:
            key = (family.name, sample.labels.get("phase", "lag"))
            buckets, total, count = found.get(key, ([], 0.0, 0.0))
            if sample.name.endswith("_bucket"):
                buckets.append((float(sample.labels["le"]), sample.value))
            elif sample.name.endswith("_sum"):
                total = sample.value
            elif sample.name.endswith("_count"):
                count = sample.value
            found[key] = (buckets, total, count)
    return found


def breakdown(before: Histograms, after: Histograms) -> str:
    """Per phase, during the run: mean, and the bucket bounds its p50 and p99 fall under."""
    parts = []
    for (name, phase), (buckets, total, count) in after.items():
        old_buckets, old_total, old_count = before.get((name, phase), ([], 0.0, 0.0))
        n = count - old_count
        if n <= 0:
            continue
        old = dict(old_buckets)
        diff = [(le, value - old.get(le, 0.0)) for le, value in buckets]

        def under(q: float) -> str:
            bound = next((le for le, value in diff if value >= q * n), float("inf"))
            return f"<{bound * 1000:g}" if bound != float("inf") else ">2000"

        parts.append(f"{phase} {(total - old_total) / n * 1000:.2f} ms (p50 {under(0.5)}, p99 {under(0.99)}, n={int(n)})")
    return "; ".join(parts)
