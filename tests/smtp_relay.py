"""A real SMTP relay on loopback for tests and benchmarks (aiosmtpd in its own thread).

It keeps every accepted mail in arrival order, can refuse chosen recipients with a
given reply (``550 5.1.1 ...`` or ``451 4.7.1 ...``), and can be stopped and started again
on the same port to play a relay outage.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    @property
    def message_id(self) -> str:
        return str(message_from_bytes(self.raw, policy=default_policy)["Message-ID"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class _Handler:
    def __init__(self, relay: SmtpRelay) -> None:
        self._relay = relay

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        refusal = self._relay.refusal_for(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        self._relay.record(Received(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(raw)))
        return "250 2.0.0 Message accepted for delivery"


class SmtpRelay:
    def __init__(self, port: int | None = None) -> None:
        self.host = HOST
        self.port = port or free_port()
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._refuse: dict[str, str] = {}
        self._controller: Controller | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Listen (again) on the same port."""
        if self._controller is not None:
            return
        controller = Controller(_Handler(self), hostname=self.host, port=self.port,
                                server_hostname="relay.test", ready_timeout=10)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening: connections are refused until ``start()``."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    # -- behaviour ---------------------------------------------------------------------
    def refuse(self, recipient: str, reply: str) -> None:
        """Answer RCPT TO for ``recipient`` with ``reply``, e.g. "550 5.1.1 No such user"."""
        with self._lock:
            self._refuse[recipient.lower()] = reply

    def accept(self, recipient: str) -> None:
        with self._lock:
            self._refuse.pop(recipient.lower(), None)

    def refusal_for(self, recipient: str) -> str | None:
        with self._lock:
            return self._refuse.get(recipient.lower())

    # -- what arrived ------------------------------------------------------------------
    def record(self, message: Received) -> None:
        with self._lock:
            self._messages.append(message)

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def message_ids(self) -> list[str]:
        return [m.message_id for m in self.messages]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


@pytest.fixture
def smtp_relay() -> Iterator[SmtpRelay]:
    relay = SmtpRelay()
    relay.start()
    try:
        yield relay
    finally:
        relay.stop()
