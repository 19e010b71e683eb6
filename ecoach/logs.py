"""Where log lines go and how they look: text for a terminal, or one JSON object a line.

JSON lines (``log_format = "json"``) are for log collectors (Loki, Elasticsearch, journald
with a JSON parser, ``docker compose logs``): every line is an object with ``time`` (ISO 8601,
UTC), ``level``, ``logger``, ``message`` and, when there is one, ``exception`` (the whole
traceback as one string), plus whatever a caller passes in ``extra={...}``. The formatter is
python-json-logger's: it already serialises tracebacks, ``extra`` fields and values that
``json`` cannot (datetimes, objects) without losing a line.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from ecoach.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Libraries that say too much at INFO: a line per migration step, a line per claim tick.
QUIET = {"alembic": logging.WARNING, "apscheduler": logging.WARNING}


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        timestamp="time",
        rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
        json_ensure_ascii=False,
    )


def configure_logging(settings: Settings) -> None:
    """Send every logger's records to stderr in the configured format. As with
    ``logging.basicConfig``, nothing changes when the root logger has handlers already (a
    host program, or pytest, configured logging first)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=settings.log_level, handlers=[handler])
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)
