"""Cleaning and checking single values from outside: text and exact numbers."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from ecoach.core.invoicing.errors import N_, InvoiceError

# XML 1.0 forbids these (and PDF viewers show them as boxes): C0 controls but tab,
# newline and carriage return; DEL and C1 controls; surrogates; U+FFFE and U+FFFF.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean_text(value: str, *, multiline: bool = False) -> str:
    """Text from outside, safe for XML and PDF: forbidden characters dropped, line
    endings unified, outer space stripped; one line unless ``multiline``."""
    text = _FORBIDDEN.sub("", value).replace("\r\n", "\n").replace("\r", "\n")
    if not multiline:
        text = " ".join(text.split())
    return text.strip()


def required(value: str | None, what: str, *, multiline: bool = False) -> str:
    text = clean_text(value or "", multiline=multiline)
    if not text:
        raise InvoiceError("missing", N_("%(what)s is missing."), what=what)
    return text


def optional(value: str | None) -> str | None:
    text = clean_text(value or "")
    return text or None


def to_decimal(value: Any, what: str) -> Decimal:
    """A finite Decimal from a Decimal, int or string (never a float: 0.1 is not exact)."""
    if isinstance(value, float) or isinstance(value, bool):
        raise InvoiceError("not_decimal", N_("%(what)s must be an exact number, not %(value)s."),
                           what=what, value=repr(value))
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise InvoiceError("not_decimal", N_("%(what)s must be a number, not %(value)s."),
                           what=what, value=repr(value)) from None
    if not number.is_finite():
        raise InvoiceError("not_decimal", N_("%(what)s must be a number, not %(value)s."),
                           what=what, value=repr(value))
    return number
