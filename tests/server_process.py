"""The real ``ecoach serve`` in a subprocess, that a test can kill and start again.

The server and the ``ecoach`` commands run by ``cli`` never read the wall clock: they run
at ``clock`` (default: the suite's START, Wednesday 25 November 2026, 09:00 UTC) through
the ``ECOACH_CLOCK__START`` / ``ECOACH_CLOCK__RUNS`` settings, standing still unless
``clock_runs`` (for tests that need time to pass in the server, e.g. a lease to expire).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from unittest import mock
from datetime import datetime
from pathlib import Path

from tests.conftest import START


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    def __init__(self, workdir: Path, database_url: str, *, clock: datetime = START, clock_runs: bool = False,
                 **env: str) -> None:
        self.workdir = workdir
        self.clock = clock  # the moment the server starts at
        self.port = free_port()
        self.env = {
            **os.environ,
            "ECOACH_DATABASE_URL": database_url,
            "ECOACH_HOST": "127.0.0.1",
            "ECOACH_PORT": str(self.port),
            "ECOACH_SECRET_KEY": "browser-test-secret",
            "ECOACH_LOG_LEVEL": "WARNING",
            "ECOACH_CLOCK__START": clock.isoformat(),
            "ECOACH_CLOCK__RUNS": "true" if clock_runs else "false",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "ecoach", *args], cwd=self.workdir, env=self.env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def here(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """``ecoach ARGS`` run in this interpreter with this server's environment (plus
        ``env``) and working directory: the code path of ``cli`` without a new interpreter's
        start-up (about two seconds each on a busy machine). Log records go to its stderr as
        in a process of its own (pytest's handlers step aside meanwhile). Use ``cli`` where
        the separate process is the point, and once per command family to prove it works as
        installed. From an async test: ``await asyncio.to_thread(server.here, ...)``."""
        from ecoach import cli

        out, err = io.StringIO(), io.StringIO()
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        root.handlers.clear()  # so that the command's own logging set-up takes effect
        try:
            with mock.patch.dict(os.environ, {**self.env, **env}, clear=True), contextlib.chdir(self.workdir), \
                    contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                    mock.patch("sys.stdin", io.StringIO()):  # as from /dev/null: not a terminal
                code = cli.main(list(args))
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
        return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())

    def cli_here(self, *args: str) -> str:
        """``here``, which must succeed: its standard output."""
        done = self.here(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, *args: str) -> None:
        """``ecoach serve`` with ``args``; returns when it answers on ``self.url``."""
        log = open(self.workdir / "server.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "ecoach", "serve", *args], cwd=self.workdir,
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((self.workdir / "server.log").read_text())
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run, as in a crash."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.proc = None
