"""An IMAP connection for the reader (aioimaplib), and the wire details around it.

Every command gives up when the connection drops or stays silent, so a dead server never
hangs the reader; ``open`` logs in (with STARTTLS when asked), selects the folder and
reads its UIDVALIDITY; ``acknowledge`` moves mail out of the folder (MOVE, else COPY,
\\Deleted, EXPUNGE); ``wait_for_news`` waits with IDLE, or polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Awaitable, Iterable
from typing import TypeVar

from aioimaplib import IMAP4, STOP_WAIT_SERVER_PUSH
from aioimaplib.aioimaplib import Command, IMAP4ClientProtocol

from ecoach.settings import Mailbox

T = TypeVar("T")
LINES_PER_PIECE = 200
COMMAND_SECONDS = 60.0  # a command with no answer for this long means a dead connection
BODY_SECONDS = 600.0  # ... except a batch of mail (up to 20 MB) on a slow line

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_FETCH = re.compile(rb"^\d+ FETCH \(")
_UID = re.compile(rb"\bUID (\d+)")
_EXISTS = re.compile(rb"^(\* )?\d+ EXISTS")


class MailboxProblem(Exception):
    """The mailbox refuses us (login, folder): the admin has to look; we retry meanwhile."""


class _Protocol(IMAP4ClientProtocol):
    """aioimaplib's protocol, with two changes:
    - it notes every ``n EXISTS``, whichever command it comes with: a mail that arrives
      during a SEARCH is announced in the SEARCH's answer (aioimaplib drops it there);
    - it hands received data on a few hundred lines at a time: aioimaplib parses a chunk
      recursively, a line per level, so a burst of short lines (a server reporting a
      thousand EXPUNGEs) would overflow the stack. A split is like any TCP segmenting."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.changed = asyncio.Event()

    def data_received(self, d: bytes) -> None:
        start = 0
        while start < len(d):
            end = start
            for _ in range(LINES_PER_PIECE):
                end = d.find(b"\n", end) + 1
                if end == 0:
                    end = len(d)
                    break
            super().data_received(d[start:end])
            start = end

    def _untagged_response(self, line: bytes):  # type: ignore[no-untyped-def]
        if _EXISTS.match(line):
            self.changed.set()
        return super()._untagged_response(line)


class _Client(IMAP4):
    def create_client(self, host, port, loop, conn_lost_cb=None, ssl_context=None) -> None:  # type: ignore[no-untyped-def]
        loop = loop or asyncio.get_running_loop()
        self.protocol = _Protocol(loop, conn_lost_cb)
        self._client_task = loop.create_task(loop.create_connection(lambda: self.protocol, host, port, ssl=ssl_context))


class Connection:
    """One logged-in IMAP connection with its folder selected. Every command gives up when
    the connection drops or stays silent, so a dead server never hangs the reader."""

    def __init__(self, imap: _Client, box: Mailbox) -> None:
        self.imap = imap
        self.box = box
        self.lost = asyncio.Event()
        self.uidvalidity = 0
        imap.protocol.conn_lost_cb = lambda _exc: self._on_lost()

    def _on_lost(self) -> None:
        self.lost.set()
        self.imap.protocol.idle_queue.put_nowait(STOP_WAIT_SERVER_PUSH)

    def has(self, capability: str) -> bool:
        return self.imap.has_capability(capability)

    async def call(self, step: Awaitable[T], timeout: float = COMMAND_SECONDS) -> T:
        task = asyncio.ensure_future(step)
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            done, _ = await asyncio.wait({task, lost}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if task in done:
            return task.result()
        task.cancel()
        raise ConnectionError("IMAP connection lost" if lost in done else "IMAP server stopped answering")

    async def ok(self, step: Awaitable, what: str, timeout: float = COMMAND_SECONDS) -> list[bytes]:  # type: ignore[type-arg]
        response = await self.call(step, timeout)
        if response.result != "OK":
            text = b" ".join(bytes(line) for line in response.lines[-1:]).decode(errors="replace")
            raise MailboxProblem(f"{what}: {response.result} {text}")
        return response.lines

    async def open(self) -> None:
        box = self.box
        await self.call(self.imap.wait_hello_from_server())
        if box.security == "starttls":
            await self._starttls()
        await self.ok(self.imap.login(box.username, box.password), f"login as {box.username!r} refused")
        lines = await self.ok(self.imap.select(mailbox_name(box.folder)), f"folder {box.folder!r} cannot be opened")
        match = _UIDVALIDITY.search(b" ".join(bytes(line) for line in lines))
        if match is None:
            raise MailboxProblem(f"folder {box.folder!r}: the server sent no UIDVALIDITY")
        self.uidvalidity = int(match.group(1))
        # Already there is fine (NO [ALREADYEXISTS]); a real problem shows at the first move.
        await self.call(self.imap.create(mailbox_name(box.processed_folder)))

    async def _starttls(self) -> None:
        if not self.has("STARTTLS"):
            raise MailboxProblem("the server offers no STARTTLS")
        protocol = self.imap.protocol
        response = await self.call(protocol.execute(Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)))
        if response.result != "OK":
            raise MailboxProblem(f"STARTTLS refused: {response.lines[-1:]!r}")
        loop = asyncio.get_running_loop()
        protocol.transport = await self.call(loop.start_tls(
            protocol.transport, protocol, ssl.create_default_context(), server_hostname=self.box.host))
        await self.call(protocol.capability())  # capabilities may differ after TLS

    async def uids(self) -> list[int]:
        lines = await self.ok(self.imap.uid_search("ALL", charset=None), "UID SEARCH")
        return sorted(int(n) for line in lines[:-1] for n in bytes(line).split() if n.isdigit())

    async def sizes(self, uids: list[int]) -> list[tuple[int, int]]:
        """(uid, size) of these mails, in UID order (those still there)."""
        lines = await self.ok(self.imap.uid("fetch", uid_set(uids), "(UID RFC822.SIZE)"), "UID FETCH sizes")
        found = {}
        for line in lines:
            uid, size = _UID.search(line), _SIZE.search(line)
            if _FETCH.match(line) and uid and size:
                found[int(uid.group(1))] = int(size.group(1))
        return sorted(found.items())

    async def bodies(self, uids: list[int]) -> dict[int, bytes]:
        lines = await self.ok(self.imap.uid("fetch", uid_set(uids), "(UID BODY.PEEK[])"), "UID FETCH",
                              timeout=BODY_SECONDS)
        return dict(fetched_bodies(lines))

    async def acknowledge(self, uids: list[int]) -> None:
        """Out of the folder: MOVE when the server has it, else COPY, \\Deleted, EXPUNGE."""
        target, numbers = mailbox_name(self.box.processed_folder), uid_set(uids)
        if self.has("MOVE"):
            await self.ok(self.imap.uid("move", numbers, target), f"move to {self.box.processed_folder!r}")
            return
        await self.ok(self.imap.uid("copy", numbers, target), f"copy to {self.box.processed_folder!r}")
        await self.ok(self.imap.uid("store", numbers, "+FLAGS.SILENT", r"(\Deleted)"), "flag \\Deleted")
        if self.has("UIDPLUS"):
            await self.ok(self.imap.uid("expunge", numbers), "UID EXPUNGE")
        else:
            await self.ok(self.imap.expunge(), "EXPUNGE")

    async def wait_for_news(self) -> None:
        """Until the folder may have changed: IDLE (re-issued after idle_seconds), else a poll."""
        if not self.has("IDLE"):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.lost.wait(), self.box.poll_seconds)
            await self.ok(self.imap.noop(), "NOOP")
            return
        idle = await self.call(self.imap.idle_start(timeout=self.box.idle_seconds))
        while True:
            pushed = await self.imap.wait_server_push(timeout=self.box.idle_seconds + COMMAND_SECONDS)
            if self.lost.is_set():
                raise ConnectionError("IMAP connection lost while idle")
            if pushed == STOP_WAIT_SERVER_PUSH or any(b"EXISTS" in bytes(line) for line in pushed):
                break
            if any(bytes(line).startswith(b"BYE") for line in pushed):
                raise ConnectionError("IMAP server said BYE")
        self.imap.idle_done()
        await self.call(idle)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            if not self.lost.is_set():
                if self.imap.has_pending_idle():
                    self.imap.idle_done()  # LOGOUT would wait for the IDLE to end
                await asyncio.wait_for(self.imap.logout(), 2)
        with contextlib.suppress(Exception):
            self.imap.protocol.transport.close()


def client_for(box: Mailbox) -> _Client:
    context = ssl.create_default_context() if box.security == "tls" else None
    return _Client(host=box.host, port=box.port, timeout=COMMAND_SECONDS, ssl_context=context)


def batches(listing: list[tuple[int, int]], max_mails: int, max_bytes: int) -> Iterable[list[int]]:
    batch: list[int] = []
    size = 0
    for uid, length in listing:
        if batch and (len(batch) >= max_mails or size + length > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(uid)
        size += length
    if batch:
        yield batch


def fetched_bodies(lines: Iterable[bytes | bytearray]) -> Iterable[tuple[int, bytes]]:
    """(uid, raw) from aioimaplib's FETCH answer: ``n FETCH (UID u BODY[] {size}``, the
    literal (a bytearray), then ``)``; the UID may also come after the literal."""
    uid: int | None = None
    body: bytes | None = None
    for line in lines:
        if isinstance(line, bytearray):
            body = bytes(line)
            continue
        if _FETCH.match(line):
            if uid is not None and body is not None:
                yield uid, body
            uid = body = None
        match = _UID.search(line)
        if match and uid is None:
            uid = int(match.group(1))
    if uid is not None and body is not None:
        yield uid, body


def uid_set(uids: Iterable[int]) -> str:
    """1,2,3,5 -> '1:3,5'."""
    ranges: list[list[int]] = []
    for uid in sorted(uids):
        if ranges and uid == ranges[-1][1] + 1:
            ranges[-1][1] = uid
        else:
            ranges.append([uid, uid])
    return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in ranges)


def mailbox_name(name: str) -> str:
    """A folder name as an IMAP quoted string, non-ASCII in modified UTF-7 (RFC 3501 5.1.3)."""
    out: list[str] = []
    wide: list[str] = []

    def flush() -> None:
        if wide:
            import base64

            encoded = base64.b64encode("".join(wide).encode("utf-16-be")).rstrip(b"=").replace(b"/", b",")
            out.append("&" + encoded.decode() + "-")
            wide.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            wide.append(ch)
    flush()
    return '"' + "".join(out).replace("\\", "\\\\").replace('"', '\\"') + '"'
