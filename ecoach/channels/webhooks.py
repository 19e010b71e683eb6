"""Sending one webhook delivery over HTTP(S), guarded against server-side request forgery.

A coach chooses the URL, so ecoach must not become a way into its own network: the host
name is resolved at send time and every address it resolves to must be public (unless
``webhooks.allow_private_addresses``); the connection then goes to exactly those checked
addresses (the resolver below is the connector's own, so a DNS answer that changes
between a check and the connect cannot slip by). Redirects are not followed, proxies
from the environment are not used, and the whole request has ``webhooks.timeout_seconds``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from ecoach.actions.webhook_deliveries import Prepared, SendResult
from ecoach.core.webhooks import address_allowed
from ecoach.settings import WebhookSettings

log = logging.getLogger(__name__)


class _Refused(OSError):
    pass


class CheckedResolver(AbstractResolver):
    """Resolves as usual, then refuses the host if any of its addresses is not allowed."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._allow_private = allow_private
        self.refused: str | None = None

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for entry in found:
            if not address_allowed(entry["host"], allow_private=self._allow_private):
                self.refused = entry["host"]
                raise _Refused(f"{host} resolves to {entry['host']}, a private or local address")
        return found

    async def close(self) -> None:
        await self._inner.close()


def _literal_refused(url: str, allow_private: bool) -> str | None:
    host = (urlsplit(url).hostname or "").strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: the resolver checks what it resolves to
    return None if address_allowed(host, allow_private=allow_private) else host


async def send(prepared: Prepared, settings: WebhookSettings) -> SendResult:
    """POST the delivery; what happened, in a line the coach can read."""
    refused = _literal_refused(prepared.url, settings.allow_private_addresses)
    if refused:
        return SendResult(False, f"not sent: {refused} is a private or local address")
    resolver = CheckedResolver(settings.allow_private_addresses)
    connector = aiohttp.TCPConnector(resolver=resolver, force_close=True, use_dns_cache=False)
    timeout = aiohttp.ClientTimeout(total=settings.timeout_seconds)
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as client:
            async with client.post(prepared.url, data=prepared.body, headers=prepared.headers,
                                   allow_redirects=False) as response:
                return _result(response)
    except asyncio.TimeoutError:
        return SendResult(False, f"timeout after {settings.timeout_seconds:g} s")
    except aiohttp.ClientConnectorError as exc:
        if resolver.refused:
            return SendResult(False, f"not sent: {resolver.refused} is a private or local address")
        return SendResult(False, f"cannot connect: {_reason(exc)}")
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return SendResult(False, f"{type(exc).__name__}: {_reason(exc)}")


def _result(response: aiohttp.ClientResponse) -> SendResult:
    status = f"HTTP {response.status} {response.reason or ''}".strip()
    if 200 <= response.status < 300:
        return SendResult(True, status)
    if 300 <= response.status < 400:
        return SendResult(False, f"{status}: redirects are not followed")
    return SendResult(False, status)


def _reason(exc: Any) -> str:
    return (str(getattr(exc, "os_error", None) or exc) or type(exc).__name__)[:250]
