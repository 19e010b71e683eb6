"""The one error the invoicing core raises, shaped like ``ecoach.actions.ActionError``
(a code, an English message marked for translation, parameters) so an action can hand
it on unchanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def N_(message: str) -> str:  # noqa: N802 - the gettext marker babel extracts
    return message


class InvoiceError(ValueError):
    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.code = code
        self.message = message
        self.params = params

    def translated(self, gettext: Callable[[str], str]) -> str:
        """The message in the reader's language; parameters that are marked words
        ("Street", "City") are translated too, values from outside pass unchanged."""
        params = {k: gettext(v) if isinstance(v, str) else v for k, v in self.params.items()}
        text = gettext(self.message)
        return text % params if params else text
