"""No byte of a coachee's words, name or address is readable where the database keeps its
bytes, before and after erasure, on both databases (issue 9, "What it must show").

A real ``ecoach serve`` with a real Dovecot mailbox and SMTP relay. Unique markers go in
through every way in: the coachee's name, address and sponsor, a chat message on the
coachee's websocket, the coach's chat answer, a mail (subject, text, an attachment's name
and content) read from Dovecot, and the coach's answer by mail through the outbox. Then the
SQLite file with its write-ahead log and shared-memory file, or a plain ``pg_dump``, is
searched: none of them occurs (the coach's own name does: a documented exception).

The coach erases the coachee while the coachee's chat is open: on SQLite through the
coach's page (the server's own process), on PostgreSQL with ``ecoach erase`` (another
process: its event reaches the server over NOTIFY). The chat closes; the search finds no
marker, and neither the engagement's wrapped data key nor any of its ciphertext; the
erasure record exists.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import START
from tests.dovecot import ImapAccount, dovecot, dovecot_server, wait_until  # noqa: F401 - fixtures
from tests.privacy_scan import dump, occurrences
from tests.server_process import ServerProcess
from tests.smtp_relay import SmtpRelay, smtp_relay  # noqa: F401 - the fixture

COACH, PASSWORD = "coach@coaching.test", "scan wachtwoord 1"
COACH_NAME = "Trainermarkeerqq"  # the coach's own name: stored readable (documented)
ADDRESS = "adresmarkeerqq@example.test"
MARKERS = {
    "name": "Naammarkeerqq", "address": "adresmarkeerqq", "sponsor": "Sponsormarkeerqq",
    "chat": "Chatmarkeerqq", "answer": "Antwoordmarkeerqq", "subject": "Onderwerpmarkeerqq",
    "mail": "Mailtekstmarkeerqq", "file": "Bijlagenaammarkeerqq", "content": "Bijlageinhoudmarkeerqq",
    "mail answer": "Mailantwoordmarkeerqq",
}


@pytest.fixture
def server(db_url: str, tmp_path: Path, dovecot: ImapAccount, smtp_relay: SmtpRelay) -> Iterator[ServerProcess]:
    box = {"name": "main", "host": dovecot.host, "port": dovecot.port, "security": "none",
           "username": dovecot.user, "password": dovecot.password, "poll_seconds": 1}
    server = ServerProcess(
        tmp_path, db_url, ECOACH_MAIL__ENABLED="true", ECOACH_MAIL__DOMAIN="coaching.test",
        ECOACH_MAIL__NOTIFY_COACH="off", ECOACH_MAIL__SMTP_HOST=smtp_relay.host,
        ECOACH_MAIL__SMTP_PORT=str(smtp_relay.port), ECOACH_MAIL__MAILBOXES=json.dumps([box]),
    )
    server.cli("coach", "add", "--name", COACH_NAME, "--email", COACH, "--password", PASSWORD, "--language", "en")
    yield server
    server.stop()


def coachee_mail() -> bytes:
    mail = EmailMessage()
    mail["From"] = f"{MARKERS['name']} <{ADDRESS}>"
    mail["To"] = "coach@coaching.test"
    mail["Subject"] = f"Over {MARKERS['subject']}"
    mail["Date"] = format_datetime(START)
    mail["Message-ID"] = "<scan-1@example.test>"
    mail.set_content(f"Beste coach, {MARKERS['mail']} en verder.")
    mail.add_attachment(f"inhoud: {MARKERS['content']}".encode(), maintype="text", subtype="plain",
                        filename=f"{MARKERS['file']}.txt")
    return mail.as_bytes()


class Coach:
    """The coach in HTTP: the API with a token, pages with a login."""

    def __init__(self, server: ServerProcess, http: aiohttp.ClientSession, token: str) -> None:
        self.server, self.http, self.token = server, http, token

    async def api(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        method = self.http.post if payload is not None else self.http.get
        async with method(self.server.url + path, json=payload, headers=headers) as response:
            assert response.status < 300, await response.text()
            return await response.json()

    async def texts(self, engagement_id: int) -> list[str]:
        return [x["text"] for x in (await self.api(f"/api/v1/engagements/{engagement_id}/exchanges"))["exchanges"]]

    async def form(self, path: str, **fields: str) -> aiohttp.ClientResponse:
        page = await (await self.http.get(self.server.url + path)).text()
        csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        return await self.http.post(self.server.url + path, data={"_csrf": csrf, **fields}, allow_redirects=False)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def test_markers_are_nowhere_before_and_after_erasure(  # type: ignore[no-untyped-def]
        server: ServerProcess, dovecot: ImapAccount, smtp_relay: SmtpRelay, http, db_url: str, tmp_path: Path) -> None:
    out = server.cli("engagement", "add", "--coach", COACH, "--name", MARKERS["name"], "--email", ADDRESS,
                     "--sponsor-name", MARKERS["sponsor"], "--language", "en")
    engagement_id, chat_token = int(out.split()[1]), out.rsplit("/c/", 1)[1].strip()
    coach = Coach(server, http, server.cli("coach", "token", "--email", COACH).strip())
    server.start()

    # Chat both ways: the coachee on their websocket, the coach through the API.
    socket = await http.ws_connect(server.url.replace("http", "ws") + f"/c/{chat_token}/ws",
                                   headers={"Origin": server.url})
    await socket.send_json({"type": "message", "client_id": "scan-chat-1", "text": f"Hoi {MARKERS['chat']}"})
    assert (await _frame(socket, "ack"))["client_id"] == "scan-chat-1"
    await coach.api(f"/api/v1/engagements/{engagement_id}/messages",
                    {"client_id": "scan-answer-1", "text": f"Dag {MARKERS['answer']}"})
    # Mail in, from Dovecot; the coach's answer out by mail, through the outbox and the relay.
    await dovecot.append(coachee_mail())
    await wait_until(lambda: _has_mail(coach, engagement_id), timeout=30)
    await coach.api(f"/api/v1/engagements/{engagement_id}/messages",
                    {"client_id": "scan-mail-1", "text": f"Per mail: {MARKERS['mail answer']}", "channel": "mail"})
    await wait_until(lambda: smtp_relay.messages, timeout=30)
    assert smtp_relay.messages[0].rcpt_tos == (ADDRESS,)
    assert len(await coach.texts(engagement_id)) == 4

    before = occurrences(db_url, tmp_path, [*MARKERS.values(), COACH_NAME])
    assert before.pop(COACH_NAME) > 0  # the coach's own name is kept readable (README: Privacy)
    assert before == {m: 0 for m in MARKERS.values()}, before
    secrets = await _secrets_of(db_url, engagement_id)  # the wrapped data key, a ciphertext
    assert all(_count(dump(db_url, tmp_path), s) for s in secrets)

    # Erased while the coachee's chat is open.
    if db_url.startswith("sqlite"):
        assert (await coach.form("/login", email=COACH, password=PASSWORD)).status == 303
        done = await coach.form(f"/engagements/{engagement_id}/erase", confirm=MARKERS["name"])
        assert done.status == 303 and done.headers["Location"].startswith("/erasures/")
    else:
        erased = server.cli("erase", "engagement", str(engagement_id), "--yes")  # another process
        assert f"engagement {engagement_id} erased" in erased
    closing = await _frame(socket, "error")
    assert (closing["code"], closing["fatal"]) == ("engagement_erased", True)
    await socket.close()

    # The server empties SQLite's write-ahead log once the erasure committed (PostgreSQL's
    # dump holds no deleted row).
    await wait_until(lambda: not any(_count(dump(db_url, tmp_path), s) for s in secrets), timeout=30)
    after = occurrences(db_url, tmp_path, [*MARKERS.values(), COACH_NAME])
    assert after.pop(COACH_NAME) > 0
    assert after == {m: 0 for m in MARKERS.values()}, after
    assert await _erasures(db_url) == [("engagement", engagement_id)]


async def _frame(socket: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        frame = json.loads((await socket.receive(timeout=30)).data)
        if frame.get("type") == kind:
            return frame


async def _has_mail(coach: Coach, engagement_id: int) -> bool:
    return any(MARKERS["mail"] in text for text in await coach.texts(engagement_id))


def _count(data: bytes, secret: bytes) -> int:
    return data.count(secret) + data.count(secret.hex().encode())


async def _rows(db_url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    if db_url.startswith("sqlite"):
        with sqlite3.connect(make_url(db_url).database or "") as conn:
            return [tuple(r) for r in conn.execute(sql.replace("$1", "?"), args).fetchall()]
    conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return [tuple(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


async def _secrets_of(db_url: str, engagement_id: int) -> list[bytes]:
    [(wrapped,)] = await _rows(db_url, "SELECT w.wrapped FROM data_key_wrap w JOIN engagement e "
                                       "ON e.data_key_id = w.data_key_id WHERE e.id = $1", engagement_id)
    [(body,)] = await _rows(db_url, "SELECT body_text FROM exchange WHERE engagement_id = $1 ORDER BY id LIMIT 1",
                            engagement_id)
    return [bytes(wrapped), bytes(body)]


async def _erasures(db_url: str) -> list[tuple[Any, ...]]:
    return await _rows(db_url, "SELECT kind, subject_id FROM erasure")
