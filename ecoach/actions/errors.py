"""Errors that actions raise: a stable code, an English message (translated by the web
layer through the message catalogues) and an HTTP status for the transports."""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    """Marks a message for extraction; translated where it is shown."""
    return message


class ActionError(Exception):
    status = 400
    language: str | None = None  # set when the reader's language is known (coachee pages)

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.code = code
        self.message = message
        self.params = params

    def translated(self, gettext: Any) -> str:
        text = gettext(self.message)
        return text % self.params if self.params else text


class NotFound(ActionError):
    status = 404


class Forbidden(ActionError):
    status = 403


class Conflict(ActionError):
    status = 409


class TooMany(ActionError):
    status = 429
