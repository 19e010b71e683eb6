"""The clock setting (``[clock]``, ``ECOACH_CLOCK__START`` / ``ECOACH_CLOCK__RUNS``): a
server and the ``ecoach`` commands run at a set moment, standing still or running on, so
tests in subprocesses never depend on the wall clock."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ecoach.app import build_app, clock_for
from ecoach.core.clock import FixedClock, RunningClock, SystemClock, make_clock
from ecoach.keys import CLOCK
from ecoach.settings import SettingsError, load_settings
from tests.server_process import ServerProcess
from tests.support import settings_for

SPRING = "2027-03-28T01:59:30+01:00"  # half a minute before the clocks go forward in Amsterdam
UTC = timezone.utc


def test_make_clock_stands_still_or_runs_from_the_moment() -> None:
    assert isinstance(make_clock(None), SystemClock)
    moment = datetime.fromisoformat(SPRING)
    fixed = make_clock(moment)
    assert isinstance(fixed, FixedClock) and fixed.now() == moment and fixed.now().tzinfo == UTC
    running = make_clock(moment, runs=True)
    assert isinstance(running, RunningClock)
    first, second = running.now(), running.now()
    assert moment <= first <= second < moment + timedelta(minutes=1)
    with pytest.raises(ValueError, match="offset"):
        make_clock(datetime(2027, 3, 28, 1, 59))


def test_the_app_takes_its_clock_from_the_settings() -> None:
    settings = settings_for("sqlite+aiosqlite:///unused.db", clock={"start": SPRING})
    assert build_app(settings)[CLOCK].now() == datetime.fromisoformat(SPRING)
    assert isinstance(clock_for(settings_for("sqlite+aiosqlite:///unused.db")), SystemClock)
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert build_app(settings, clock=clock)[CLOCK] is clock  # a test's own clock wins


@pytest.mark.parametrize("value", ["tomorrow", "2027-03-28T01:59:30"])
def test_a_bad_clock_setting_names_the_key(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ECOACH_CLOCK__START", value)
    with pytest.raises(SettingsError, match=r"clock\.start.*ECOACH_CLOCK__START"):
        load_settings(secret_key="x")


def test_the_commands_use_the_set_clock_too(tmp_path: Path) -> None:
    moment = datetime.fromisoformat(SPRING)
    server = ServerProcess(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'ecoach.db'}", clock=moment)
    server.cli_here("migrate")  # in this interpreter: quicker, and not what is tested
    server.cli("coach", "add", "--name", "Marieke Bos", "--email", "marieke@example.org",
               "--password", "correct horse battery")
    with sqlite3.connect(tmp_path / "ecoach.db") as db:
        [(created,)] = db.execute("SELECT created_at FROM coach").fetchall()
    assert datetime.fromisoformat(created).replace(tzinfo=UTC) == moment.astimezone(UTC)
