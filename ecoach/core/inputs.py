"""Pure checks of untrusted input, shared by every transport: numbers, text, JSON.

Every handler that reads an id or a number from a path, a query, a form or a frame goes
through ``parse_int``: ASCII digits only (``"²".isdigit()`` is true, ``int("²")`` fails),
bounded to 63 bits (the database's BIGINT). Text that PostgreSQL cannot store (NUL) or
that is not valid Unicode (lone surrogates, reachable through JSON ``"\\ud800"``) is
refused before it reaches an action. JSON is parsed with a depth limit so ``[[[[...``
gives a clear refusal instead of a RecursionError.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_INT = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")
# NUL (PostgreSQL text cannot hold it) and UTF-16 surrogates (not characters at all).
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
JSON_MAX_DEPTH = 32


class InputRefused(ValueError):
    """The input cannot be accepted; ``code`` says why (stable, for error bodies)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_int(value: Any, *, low: int = 0, high: int = MAX_INT) -> int | None:
    """An int from ASCII digits within [low, high]; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if low <= value <= high else None
    if not isinstance(value, str) or not _DIGITS.fullmatch(value):
        return None
    number = int(value)
    return number if low <= number <= high else None


def text_ok(value: str) -> bool:
    """False for text holding NUL or lone surrogates."""
    return _BAD_TEXT.search(value) is None


def check_text(value: str, where: str = "text") -> str:
    if not text_ok(value):
        raise InputRefused("text_invalid", f"{where}: contains characters that cannot be stored (NUL or invalid Unicode)")
    return value


def load_json(data: str | bytes, *, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """Parse JSON, refusing nesting past ``max_depth``, NUL and lone surrogates anywhere
    (keys included), and non-finite numbers (NaN, Infinity: not JSON)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputRefused("json_invalid", "not UTF-8") from None
    try:
        value = _DECODER.decode(data)
    except RecursionError:
        raise InputRefused("json_too_deep", f"nested deeper than {max_depth} levels") from None
    except ValueError:
        raise InputRefused("json_invalid", "not valid JSON") from None
    if not _plain(value, max_depth):
        _check_values(value, max_depth)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(name)


# One decoder for all (``json.loads`` with an option builds a new one per call); it refuses
# NaN and Infinity. A leading BOM fails as in ``json.loads``: not valid JSON.
_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def _plain(value: Any, max_depth: int) -> bool:
    """True for a flat object of good text, whole numbers in range, booleans and nulls (a
    chat frame, a small API body): every check passed in one loop. Anything else (or any
    doubt) goes to ``_check_values``, which gives the refusal."""
    if type(value) is not dict or max_depth < 1:
        return False
    bad = _BAD_TEXT.search
    for key, item in value.items():
        if bad(key) is not None:
            return False
        kind = type(item)
        if kind is str:
            if bad(item) is not None:
                return False
        elif kind is int:
            if not -MAX_INT <= item <= MAX_INT:
                return False
        elif item is not None and kind is not bool:
            return False
    return True


def _check_values(value: Any, max_depth: int) -> None:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, "JSON string")
        elif isinstance(item, (dict, list)):
            if depth >= max_depth:
                raise InputRefused("json_too_deep", f"nested deeper than {max_depth} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_INT:
            raise InputRefused("json_number_too_large", "a number is larger than 63 bits")
        elif isinstance(item, float) and not math.isfinite(item):
            raise InputRefused("json_number_too_large", "a number is too large")
