"""Safe readers of ids and numbers in paths, queries and forms, used by every handler.

A path id that is not a number the database could hold is a page that does not exist
(404); a query or form number out of range is a clear 400 (HTML) or 422 (API).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.core.inputs import MAX_INT, parse_int


class BadNumber(ActionError):
    status = 400


def path_id(request: web.Request, name: str = "id", *, code: str = "not_found",
            message: str = N_("This page does not exist.")) -> int:
    """The id in the path, or a 404: ``/engagements/9223372036854775808`` and
    ``/engagements/²`` are pages that do not exist."""
    value = parse_int(request.match_info.get(name), low=1)
    if value is None:
        raise NotFound(code, message)
    return value


def number(raw: Any, name: str, default: int | None, *, low: int = 0, high: int = MAX_INT,
           status: int = 400) -> int | None:
    """A whole number from a query or form value; ``default`` when absent or empty."""
    if raw is None or raw == "":
        return default
    value = parse_int(raw, low=low, high=high)
    if value is None:
        error = BadNumber("number_invalid", N_("%(name)s must be a whole number from %(low)s to %(high)s."),
                          name=name, low=low, high=high)
        error.status = status
        raise error
    return value


def query_int(request: web.Request, name: str, default: int | None, *, low: int = 0,
              high: int = MAX_INT, status: int = 400) -> int | None:
    return number(request.query.get(name), name, default, low=low, high=high, status=status)


def lenient_int(raw: Any, default: int | None = None, *, low: int = 0, high: int = MAX_INT) -> int | None:
    """Paging cursors in links (``?page=``, ``?before=``): a bad value shows the first page."""
    value = parse_int(raw, low=low, high=high)
    return default if value is None else value
