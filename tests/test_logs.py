"""Logs: text by default; with ``log_format = "json"`` one JSON object a line (time, level,
logger, message, exception), from the formatter and from a real ``ecoach serve``."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from ecoach.logs import json_formatter
from tests.server_process import ServerProcess


def record(message: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("the reason")
        except ValueError:
            exc_info = sys.exc_info()
    made = logging.LogRecord("ecoach.channels.mail", logging.ERROR, __file__, 1, message, args, exc_info)
    made.__dict__.update(extra)
    return made


def test_a_json_line_has_time_level_logger_message_and_exception() -> None:
    line = json_formatter().format(record("mail %s failed: «%s»", 7, "relay", exc=True, engagement_id=3))
    assert "\n" not in line, "one line, whatever the traceback"
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "ecoach.channels.mail"
    assert entry["message"] == "mail 7 failed: «relay»"
    assert entry["exception"].startswith("Traceback") and "ValueError: the reason" in entry["exception"]
    assert entry["engagement_id"] == 3, "extra={...} fields are kept"
    assert datetime.fromisoformat(entry["time"]).utcoffset() is not None, "an ISO 8601 instant with its offset"


def test_a_json_line_without_an_exception_has_no_exception_field() -> None:
    entry = json.loads(json_formatter().format(record("plain")))
    assert set(entry) == {"time", "level", "logger", "message"}


def test_the_server_logs_json_lines_when_asked(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'ecoach.db'}",
                           ECOACH_LOG_FORMAT="json", ECOACH_LOG_LEVEL="INFO")
    server.start()  # it logs its migration, its clock and that it runs
    server.stop()
    lines = (tmp_path / "server.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # every line is a JSON object, the banner too
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any(e["message"].startswith("ecoach is running on http://127.0.0.1:") for e in entries)
    assert any(e["logger"] == "ecoach.logbook.db" for e in entries)


def test_text_logs_stay_the_default() -> None:
    env = {**os.environ, "ECOACH_DATABASE_URL": "sqlite+aiosqlite:///:memory:", "ECOACH_LOG_LEVEL": "INFO"}
    env.pop("ECOACH_LOG_FORMAT", None)
    done = subprocess.run([sys.executable, "-m", "ecoach", "migrate"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert " INFO ecoach.logbook.db: database schema at heads" in done.stderr
    assert not done.stderr.lstrip().startswith("{")


def test_an_unknown_log_format_is_refused_in_one_line() -> None:
    env = {**os.environ, "ECOACH_LOG_FORMAT": "xml"}
    done = subprocess.run([sys.executable, "-m", "ecoach", "migrate"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    expected = "ecoach: setting 'log_format' (env ECOACH_LOG_FORMAT): Input should be 'text' or 'json'"
    assert done.stderr.strip() == expected
