"""Two real ``ecoach serve`` processes on one PostgreSQL, as behind a load balancer: the
coachee's chat on A, the coach on B.

- messages go both ways live, whichever process each side is on;
- a chat link revoked on B closes the coachee's socket on A (issue 8, defect 4: it used
  to keep working on the other process);
- mail read by A's IMAP reader shows up in B's inbox at once;
- the mailbox is read by one process at a time: when A is killed (SIGKILL) in the middle
  of a batch of mail, B takes it over, and every mail is stored exactly once;
- a commitment agreement changed on B is applied to the next chat message on A (whose
  cache of policies and calendars forgets when the change's event arrives).

The reader's lease is shortened (``mail.reader_lease_seconds``) so the take-over is quick.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from email.message import EmailMessage
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from ecoach.logbook.availability_models import Commitment
from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.mail_models import InboundMail
from ecoach.logbook.models import Exchange
from tests.conftest import PASSWORD, START
from tests.dovecot import ImapAccount, wait_until
from tests.server_process import ServerProcess
from tests.conftest import fresh_keyring

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

COACH = "coach@coaching.test"
SANNE = "sanne@example.org"
PROCESSED = "ecoach-processed"
CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


def coachee_mail(n: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Sanne <{SANNE}>"
    message["To"] = COACH
    message["Subject"] = f"Verslag {n}"
    message["Date"] = format_datetime(START)
    message["Message-ID"] = f"<two-processes-{n}@example.org>"
    message.set_content(f"Verslag {n}: het gaat goed.\n")
    return message.as_bytes()


@contextmanager
def _servers(db_url: str, tmp_path: Path, **env: Any) -> Iterator[Any]:
    """``start(name)``: a server process of its own name and directory, with ``env`` (its
    settings, or ``clock_runs``); every one started is stopped at the end."""
    started: list[ServerProcess] = []

    def start(name: str) -> ServerProcess:
        (tmp_path / name).mkdir()
        server = ServerProcess(tmp_path / name, db_url, ECOACH_AUTO_MIGRATE="false", ECOACH_PROCESS_NAME=name, **env)
        server.start()
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def start_server(db_url: str, dovecot: ImapAccount, tmp_path: Path) -> Iterator[Any]:
    box = {"name": "main", "host": dovecot.host, "port": dovecot.port, "security": "none",
           "username": dovecot.user, "password": dovecot.password}
    with _servers(  # the clock runs: a killed holder's lease must run out
            db_url, tmp_path, clock_runs=True,
            ECOACH_MAIL__ENABLED="true", ECOACH_MAIL__DOMAIN="coaching.test", ECOACH_MAIL__NOTIFY_COACH="off",
            ECOACH_MAIL__NOTIFY_COACHEE_CHAT="false", ECOACH_MAIL__MAILBOXES=json.dumps([box]),
            ECOACH_MAIL__READER_LEASE_SECONDS="1.5", ECOACH_EVENTS__PING_SECONDS="1") as start:
        yield start


@pytest.fixture
def start_chat_server(db_url: str, tmp_path: Path) -> Iterator[Any]:
    """A server without mail (for what chat alone shows)."""
    with _servers(db_url, tmp_path) as start:
        yield start


async def health(server: ServerProcess) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/healthz") as response:
            return await response.json()


async def reads_the_mailbox(server: ServerProcess) -> bool:
    return (await health(server)).get("readers", {}).get("main") == "reading"


@asynccontextmanager
async def coach_on(server: ServerProcess) -> AsyncIterator[tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        page = await (await http.get(server.url + "/login")).text()
        response = await http.post(server.url + "/login", data={
            "_csrf": CSRF.search(page).group(1), "email": COACH, "password": PASSWORD, "next": "/"})  # type: ignore[union-attr]
        assert response.status == 200, await response.text()
        async with http.ws_connect(server.url.replace("http", "ws") + "/ws") as ws:
            yield http, ws


async def next_frame(ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 30) -> dict[str, Any]:
    """The next frame of this type (others, e.g. the inbox's own refreshes, are passed by)."""
    async def find() -> dict[str, Any]:
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"socket closed ({msg.type}, {msg.data}) while waiting for {kind}")
            frame = json.loads(msg.data)
            if frame.get("type") == kind:
                return frame

    return await asyncio.wait_for(find(), timeout)


async def stored(db_url: str) -> tuple[int, int, int]:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, fresh_keyring())() as session:
            mails = select(func.count()).select_from(Exchange).where(Exchange.channel == "mail")
            distinct = select(func.count(func.distinct(Exchange.external_id))).where(Exchange.channel == "mail")
            inbound = select(func.count()).select_from(InboundMail)
            return tuple([(await session.execute(q)).scalar_one() for q in (mails, distinct, inbound)])  # type: ignore[return-value]
    finally:
        await engine.dispose()


async def test_chat_both_ways_and_a_revocation_on_b_closes_the_socket_on_a(  # type: ignore[no-untyped-def]
    db_url, make_coach, make_engagement, start_server
) -> None:
    coach = await make_coach(email=COACH, language="nl")
    created = await make_engagement(coach, coachee_name="Sanne", coachee_email=SANNE)
    eid, token = created.engagement.id, created.chat_token
    a, b = await asyncio.to_thread(start_server, "a"), await asyncio.to_thread(start_server, "b")
    async with coach_on(b) as (http, coach_ws), aiohttp.ClientSession() as coachee_http:
        async with coachee_http.ws_connect(f"{a.url.replace('http', 'ws')}/c/{token}/ws") as coachee_ws:
            await coachee_ws.send_json({"type": "message", "client_id": "from-a-00001", "text": "Hallo vanaf A"})
            assert (await next_frame(coachee_ws, "ack"))["client_id"] == "from-a-00001"
            heard_on_b = await next_frame(coach_ws, "exchange")
            assert (heard_on_b["exchange"]["text"], heard_on_b["exchange"]["client_id"]) == (
                "Hallo vanaf A", "from-a-00001")

            await coach_ws.send_json({"type": "message", "engagement_id": eid, "client_id": "from-b-00001",
                                      "text": "Antwoord vanaf B"})
            heard_on_a = await next_frame(coachee_ws, "exchange")
            assert heard_on_a["exchange"]["text"] == "Antwoord vanaf B"

            page = await (await http.get(f"{b.url}/engagements/{eid}")).text()
            revoke = await http.post(f"{b.url}/engagements/{eid}/chat-link/revoke",
                                     data={"_csrf": CSRF.search(page).group(1)}, allow_redirects=False)  # type: ignore[union-attr]
            assert revoke.status == 303
            error = await next_frame(coachee_ws, "error")
            assert (error["code"], error["fatal"]) == ("chat_link_revoked", True)
            closing = await coachee_ws.receive(timeout=30)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)
        # And the old link opens nothing any more, on either process.
        for server in (a, b):
            async with coachee_http.ws_connect(f"{server.url.replace('http', 'ws')}/c/{token}/ws") as again:
                assert (await next_frame(again, "error"))["code"] == "chat_link_revoked"


async def test_mail_read_on_a_reaches_b_and_b_takes_the_mailbox_over_when_a_is_killed(  # type: ignore[no-untyped-def]
    db_url, make_coach, make_engagement, start_server, dovecot
) -> None:
    coach = await make_coach(email=COACH, language="nl")
    await make_engagement(coach, coachee_name="Sanne", coachee_email=SANNE)
    a = await asyncio.to_thread(start_server, "a")
    await wait_until(lambda: reads_the_mailbox(a))  # started first: A holds the mailbox
    b = await asyncio.to_thread(start_server, "b")
    assert (await health(b))["readers"] == {"main": "standby"}
    async with coach_on(b) as (_http, coach_ws):
        await dovecot.append(coachee_mail(0))
        arrived = await next_frame(coach_ws, "exchange")  # read and stored by A, heard on B
        assert (arrived["exchange"]["channel"], arrived["exchange"]["subject"]) == ("mail", "Verslag 0")

        await dovecot.append(*(coachee_mail(n) for n in range(1, 41)))
        await wait_until(lambda: _more_than(db_url, 1), interval=0.02)
        a.kill()  # SIGKILL, most likely in the middle of this batch
        await wait_until(lambda: reads_the_mailbox(b), timeout=60)
        await dovecot.wait_count(PROCESSED, 41, timeout=60)
    assert await dovecot.count("INBOX") == 0
    assert await stored(db_url) == (41, 41, 41)  # nothing lost, nothing twice


async def _more_than(db_url: str, count: int) -> bool:
    return (await stored(db_url))[0] > count


async def due_times(db_url: str, client_ids: list[str]) -> list[Any]:
    """The due time of the commitment each chat message got, in order."""
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, fresh_keyring())() as session:
            rows = dict((await session.execute(
                select(Exchange.external_id, Commitment.due_at).join(Commitment, Commitment.exchange_id == Exchange.id)
                .where(Exchange.external_id.in_([f"chat:{c}" for c in client_ids])))).all())
            return [rows.get(f"chat:{c}") for c in client_ids]
    finally:
        await engine.dispose()


async def test_an_agreement_changed_on_b_applies_to_the_next_chat_message_on_a(  # type: ignore[no-untyped-def]
    db_url, make_coach, make_engagement, start_chat_server
) -> None:
    coach = await make_coach(email=COACH, language="nl")
    created = await make_engagement(coach, coachee_name="Sanne")
    eid, token = created.engagement.id, created.chat_token
    a, b = await asyncio.to_thread(start_chat_server, "a"), await asyncio.to_thread(start_chat_server, "b")
    async with coach_on(b) as (http, coach_ws), aiohttp.ClientSession() as coachee_http:
        async with coachee_http.ws_connect(f"{a.url.replace('http', 'ws')}/c/{token}/ws") as coachee_ws:
            # A reads the default agreement (4 working hours for chat) and keeps it.
            await coachee_ws.send_json({"type": "message", "client_id": "cache-a-00001", "text": "Eerste vraag"})
            assert (await next_frame(coachee_ws, "ack"))["client_id"] == "cache-a-00001"
            page = await (await http.get(f"{b.url}/availability")).text()
            changed = await http.post(f"{b.url}/availability/agreement", allow_redirects=False, data={
                "_csrf": CSRF.search(page).group(1), "mail_amount": "2", "mail_unit": "days",  # type: ignore[union-attr]
                "chat_amount": "1", "chat_unit": "hours", "remind_minutes": "0"})
            assert changed.status == 303
            # Events reach A in commit order: once the coach's next message (committed on B
            # after the change) has reached the coachee on A, so has the change.
            await coach_ws.send_json({"type": "message", "engagement_id": eid, "client_id": "cache-b-00001",
                                      "text": "Ik kijk ernaar"})
            assert (await next_frame(coachee_ws, "exchange"))["exchange"]["client_id"] == "cache-b-00001"
            await coachee_ws.send_json({"type": "message", "client_id": "cache-a-00002", "text": "Tweede vraag"})
            assert (await next_frame(coachee_ws, "ack"))["client_id"] == "cache-a-00002"
    # Both sent at the server's standing clock (Wednesday 10:00 in Amsterdam: office hours).
    assert await due_times(db_url, ["cache-a-00001", "cache-a-00002"]) == [
        START + timedelta(hours=4), START + timedelta(hours=1)]
