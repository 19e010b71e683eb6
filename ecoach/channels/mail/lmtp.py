"""Optional inbound LMTP server (aiosmtpd) for coaches who run their own MTA.

The MTA hands each mail over LMTP; ecoach answers per recipient (RFC 2033):
- at RCPT time, an address that is not ours, or a reply address whose token is not
  genuine, is refused with 550, so the MTA bounces it to the sender at once;
- after DATA, each recipient gets ``250`` only once its mail is committed (the same
  pipeline as IMAP), or ``451`` when storing failed, so the MTA tries again later and
  the dedupe step keeps the retry from being stored twice.

The server runs on the application's event loop (``loop.create_server`` with aiosmtpd's
``LMTP`` protocol) rather than in aiosmtpd's threaded ``Controller``: the database engine
belongs to this loop. With several server processes, only the one named by
``mail.lmtp_process`` listens (``ecoach.app``), so the port is bound once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.lmtp import LMTP
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions.mail_inbound import get_default_owner, take_in_mail
from ecoach.core.clock import Clock
from ecoach.core.reply_tokens import find_tokens, read_token
from ecoach.logbook import mail_queries
from ecoach.settings import Settings

log = logging.getLogger(__name__)

ACCEPTED = "250 2.1.5 OK"
STORED = "250 2.0.0 Stored"
UNKNOWN = "550 5.1.1 No such recipient here"
BAD_TOKEN = "550 5.1.1 This reply address is not valid"
TRY_LATER = "451 4.3.0 Could not store the mail now; try again later"
SOURCE = "lmtp"


class RecipientCheck:
    """Which envelope recipients are ours: our plain address, or a reply address whose
    token is genuine and names an engagement that exists."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._mail = settings.mail
        self._secret = settings.secret
        self._sessions = sessions
        self._plain = {self._mail.sender.lower(), f"{self._mail.reply_local}@{self._mail.domain}".lower()}

    async def refusal(self, address: str) -> str | None:
        """None when the address is ours, else the reply to refuse it with."""
        bare = address.strip().strip("<>").strip()
        if bare.lower() in self._plain:
            return None
        mail = self._mail
        tokens = find_tokens([bare], local=mail.reply_local, domain=mail.domain, form=mail.reply_form)
        if not tokens:
            return BAD_TOKEN if self._looks_like_reply(bare) else UNKNOWN
        engagement_id = read_token(self._secret, tokens[0])
        if engagement_id is None:
            return BAD_TOKEN
        async with self._sessions() as session:
            found = await mail_queries.engagement_exists(session, engagement_id)
        return None if found else BAD_TOKEN

    def _looks_like_reply(self, address: str) -> bool:
        local, _, domain = address.rpartition("@")
        return domain.lower() == self._mail.domain.lower() and local.lower().startswith(self._mail.reply_local.lower())


class LmtpHandler:
    """aiosmtpd handler hooks: check recipients, then take the mail in per recipient."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._settings = settings
        self._sessions = sessions
        self._clock = clock
        self._check = RecipientCheck(settings, sessions)
        self.owner_coach_id: int | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        try:
            refusal = await self._check.refusal(address)
        except Exception:  # noqa: BLE001 - the database is away: let the MTA try again
            log.exception("LMTP: could not check recipient %s", address)
            return TRY_LATER
        if refusal:
            log.info("LMTP: refused recipient %s (%s)", address, refusal)
            return refusal
        envelope.rcpt_tos.append(address)
        return ACCEPTED

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or b"")
        replies = [await self._take(raw, envelope.mail_from or "", rcpt) for rcpt in envelope.rcpt_tos]
        return "\r\n".join(replies)

    async def _take(self, raw: bytes, mail_from: str, recipient: str) -> str:
        # As a delivery agent would: the envelope sender and recipient become headers, so
        # an empty return path (a bounce) and the reply address are seen by the pipeline.
        stamped = (f"Return-Path: <{_header_safe(mail_from)}>\r\n"
                   f"Delivered-To: {_header_safe(recipient)}\r\n").encode("utf-8") + raw
        try:
            outcome = await take_in_mail(
                self._sessions, stamped, source=SOURCE, settings=self._settings, clock=self._clock,
                owner_coach_id=await self._owner(),
            )
        except Exception:  # noqa: BLE001 - nothing committed: the MTA keeps it and retries
            log.exception("LMTP: storing mail for %s failed", recipient)
            return TRY_LATER
        log.info("LMTP: mail for %s taken in as %s", recipient, outcome.kind)
        return STORED

    async def _owner(self) -> int | None:
        email = self._settings.mail.lmtp_coach_email
        async with self._sessions() as session:
            if email:
                return await mail_queries.get_coach_id_by_email(session, email)
            return await get_default_owner(session)


def _header_safe(value: str) -> str:
    return "".join(ch for ch in value if ch >= " " and ch not in "<>")[:320]


class LmtpServer:
    """``start()`` listens on ``mail.lmtp_host:lmtp_port``; ``stop()`` closes."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession], clock: Clock, *,
                 port: int | None = None) -> None:
        self._settings = settings
        self.handler = LmtpHandler(settings, sessions, clock)
        self.host = settings.mail.lmtp_host
        self.port = port if port is not None else settings.mail.lmtp_port
        self._server: asyncio.AbstractServer | None = None

    def _protocol(self) -> LMTP:
        # An oversized mail is still taken (recorded with a notice, the sender told):
        # only far beyond the limit does the MTA get 552.
        limit = max(self._settings.mail.max_bytes * 5, 32 * 1024 * 1024)
        return LMTP(self.handler, data_size_limit=limit, enable_SMTPUTF8=True, decode_data=False,
                    hostname=self._settings.mail.domain, ident="ecoach LMTP",
                    loop=asyncio.get_running_loop())

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, host=self.host, port=self.port)
        sockets = self._server.sockets or ()
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("LMTP server listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
