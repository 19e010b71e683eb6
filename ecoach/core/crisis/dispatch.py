"""Which rules can start at a word: the first three characters each rule's patterns can
begin with (a shorter first word followed by its space: "ik "), read from the compiled pattern, so a scan tries at each word only the few
rules that could match there instead of every rule.

The key sets are a superset: look-arounds are skipped, and a pattern that can begin with
almost anything (a character class, a short word) is marked to be tried everywhere.
"""

from __future__ import annotations

from typing import Any

try:  # the regex parser behind ``re``; without it every rule is tried at every word
    from re import _constants as _c
    from re import _parser
except ImportError:  # pragma: no cover - other Python implementations
    _parser = None  # type: ignore[assignment]

KEY = 3
_LIMIT = 4000
ANYWHERE = None


def _charset(items: list[tuple[Any, Any]]) -> set[str] | None:
    chars: set[str] = set()
    for op, value in items:
        if op is _c.LITERAL:
            chars.add(chr(value))
        elif op is _c.RANGE and value[1] - value[0] < 64:
            chars.update(chr(code) for code in range(value[0], value[1] + 1))
        else:
            return None
    return chars


def _extend(items: Any, current: set[str]) -> set[str] | None:
    """The prefixes (up to KEY characters) that ``items`` makes of ``current``."""
    for op, value in items:
        todo = {p for p in current if len(p) < KEY and not p.endswith(" ")}
        if not todo:
            return current
        done = current - todo
        new: set[str] | None
        if op is _c.LITERAL:
            new = {p + chr(value) for p in todo}
        elif op is _c.IN:
            chars = _charset(value)
            new = None if chars is None else {p + c for p in todo for c in chars}
        elif op is _c.SUBPATTERN:
            new = _extend(value[3], todo)
        elif op is _c.BRANCH:
            new = set()
            for branch in value[1]:
                part = _extend(branch, todo)
                if part is None:
                    return None
                new |= part
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            new = _repeat(value, todo)
        elif op in (_c.ASSERT, _c.ASSERT_NOT, _c.AT):
            continue
        else:
            return None
        if new is None or len(new) > _LIMIT:
            return None
        current = done | new
    return current


def _repeat(value: tuple[int, int, Any], todo: set[str]) -> set[str] | None:
    low, high, items = value
    result: set[str] = set()
    step: set[str] | None = todo
    for count in range(min(high, KEY) + 1):
        if step is None:
            return None
        if count >= low:
            result |= step
        step = _extend(items, step)
    return result | (step or set()) if high > KEY else result


def first_keys(pattern: str) -> frozenset[str] | None:
    """The first KEY characters a match of ``pattern`` can start with (followed by a
    space when the match is shorter), or ANYWHERE."""
    if _parser is None:
        return ANYWHERE
    try:
        prefixes = _extend(_parser.parse(pattern), {""})
    except Exception:  # noqa: BLE001 - an unreadable pattern is tried everywhere
        return ANYWHERE
    if prefixes is None:
        return ANYWHERE
    keys = {p if len(p) == KEY or p.endswith(" ") else p + " " for p in prefixes}
    if any(len(k) < 2 for k in keys):
        return ANYWHERE
    return frozenset(keys)


def word_key(word: str) -> str:
    """The key a word is looked up by: its first three characters, or the word and a space."""
    return word[:KEY] if len(word) >= KEY else word + " "
