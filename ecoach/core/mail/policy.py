"""The stdlib ``email`` default policy, with its header objects memoised.

``policy.default`` parses a header into a header object on *every* access, and
``HeaderRegistry`` builds a new class for each of those objects. The parser itself and
our walk over the MIME tree ask for the same ``Content-Type`` of a part a dozen times
(type, charset, boundary, disposition, filename...): that was two thirds of the time
spent parsing a plain mail. Header objects are immutable and the parse is a pure
function of (name, value), so the registry below returns the same object for the same
input; results are exactly those of ``policy.default``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry

# Only short values are memoised: a hostile megabyte-long header is parsed, not kept.
MAX_CACHED_VALUE = 1000
CACHED_HEADERS = 512


class MemoHeaderRegistry(HeaderRegistry):
    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}
        self._memo = lru_cache(maxsize=CACHED_HEADERS)(self._make)

    def __getitem__(self, name: str) -> Any:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls

    def _make(self, name: str, value: str) -> BaseHeader:
        return self[name](name, value)

    def __call__(self, name: str, value: str) -> BaseHeader:
        if len(value) > MAX_CACHED_VALUE:
            return self._make(name, value)
        return self._memo(name, value)


# policy.default in every respect but the memo (read-only: no header is set through it).
MAIL_POLICY = policy.default.clone(header_factory=MemoHeaderRegistry())
