"""A throwaway PostgreSQL cluster for the test suite (initdb + pg_ctl in a temp dir).

As root, initdb refuses to run, so the cluster runs as the ``postgres`` system user.
``ECOACH_TEST_POSTGRES_URL`` (postgresql+asyncpg://...) uses an existing server instead;
that choice is made in ``conftest.py``, this module only knows how to start a cluster.
"""

from __future__ import annotations

import atexit
import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Durability buys nothing for a database that is deleted after the run.
SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets} "
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
)


class ClusterError(RuntimeError):
    """initdb or pg_ctl failed; the message carries their output."""


@dataclass
class Cluster:
    url: str  # postgresql+asyncpg://user@127.0.0.1:port/postgres
    stop: Callable[[], None]


def find_binary(name: str) -> str | None:
    """``name`` on PATH, else the newest /usr/lib/postgresql/<version>/bin/<name>."""
    found = shutil.which(name)
    if found:
        return found

    def version(path: str) -> tuple[int, ...]:
        match = re.search(r"/postgresql/([\d.]+)/", path)
        return tuple(int(p) for p in match.group(1).split(".")) if match else ()

    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=version)
    return candidates[-1] if candidates else None


def installed() -> bool:
    return bool(find_binary("initdb") and find_binary("pg_ctl"))


def _fast_dir() -> str | None:
    """A tmpfs for the cluster when there is room: CREATE DATABASE per test is about ten
    times faster there than on a disk. None means the usual temp dir."""
    shm = "/dev/shm"
    try:
        if os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 1 << 30:
            return shm
    except OSError:
        pass
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _run(cmd: list[str], root: Path) -> None:
    done = subprocess.run(_as_postgres(cmd), capture_output=True, text=True)
    if done.returncode != 0:
        log = root / "log"
        tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
        raise ClusterError(
            f"{Path(cmd[0]).name} failed ({done.returncode}): {done.stderr.strip()} {tail}".strip()
        )


def start_cluster() -> Cluster | None:
    """Start a cluster on a free loopback port; None when PostgreSQL is not installed."""
    initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
    if not initdb or not pg_ctl:
        return None
    root = Path(tempfile.mkdtemp(prefix="ecoach-pg-", dir=_fast_dir()))
    data = root / "data"
    user = "postgres" if os.geteuid() == 0 else os.environ.get("USER") or "postgres"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    os.chmod(root, 0o755)
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if stopped:
            return
        stopped = True
        if (data / "postmaster.pid").exists():
            subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]),
                           capture_output=True)
        shutil.rmtree(root, ignore_errors=True)

    try:
        _run([initdb, "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8", "--no-sync"], root)
        # A port can be taken between choosing and binding it: try a few.
        for attempt in range(5):
            port = _free_port()
            options = SERVER_OPTIONS.format(port=port, sockets=root)
            try:
                _run([pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"],
                     root)
                break
            except ClusterError:
                if attempt == 4:
                    raise
    except BaseException:
        stop()
        raise
    # Also stop it if the session ends without running fixture finalizers.
    atexit.register(stop)
    return Cluster(url=f"postgresql+asyncpg://{user}@127.0.0.1:{port}/postgres", stop=stop)
