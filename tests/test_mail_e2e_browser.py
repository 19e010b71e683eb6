"""End to end by mail, in Debian's Chromium, with the real ``ecoach serve``, a real Dovecot
and a real SMTP relay:

1. a coachee's mail appended to the mailbox shows in the coach's open inbox within two
   seconds (IMAP IDLE, then the inbox websocket; polling is set to an hour);
2. the coach answers in the browser, by mail; the answer reaches the relay threaded to the
   coachee's mail (In-Reply-To, References) with a Reply-To that carries the engagement's
   signed token;
3. the coachee's reply to that answer, sent to that Reply-To, lands in the same engagement
   even though the coachee's address now belongs to two engagements (only the token can
   place it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, getaddresses
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from ecoach.core.reply_tokens import find_tokens, read_token
from tests.browser import WAIT, browser  # noqa: F401 - the fixture
from tests.conftest import START
from tests.dovecot import ImapAccount, dovecot, dovecot_server, wait_until  # noqa: F401 - fixtures
from tests.sealed_support import opened
from tests.server_process import ServerProcess
from tests.smtp_relay import SmtpRelay, smtp_relay  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser

COACH, PASSWORD = "marieke@coaching.test", "correct horse battery"
SANNE = "sanne@example.org"
SECRET = "browser-test-secret"  # what ServerProcess gives the server
FIRST_ID = "<eerste-vraag@example.org>"


@pytest.fixture
def server(tmp_path: Path, dovecot: ImapAccount, smtp_relay: SmtpRelay) -> Iterator[ServerProcess]:
    box = {"name": "main", "host": dovecot.host, "port": dovecot.port, "security": "none",
           "username": dovecot.user, "password": dovecot.password, "poll_seconds": 3600}
    server = ServerProcess(
        tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'ecoach.db'}",
        ECOACH_MAIL__ENABLED="true", ECOACH_MAIL__DOMAIN="coaching.test", ECOACH_MAIL__NOTIFY_COACH="off",
        ECOACH_MAIL__SMTP_HOST=smtp_relay.host, ECOACH_MAIL__SMTP_PORT=str(smtp_relay.port),
        ECOACH_MAIL__MAILBOXES=json.dumps([box]),
    )
    server.cli("migrate")
    server.cli("coach", "add", "--name", "Marieke Bos", "--email", COACH, "--password", PASSWORD, "--language", "nl")
    server.cli("engagement", "add", "--coach", COACH, "--name", "Sanne de Vries", "--email", SANNE)
    server.start()
    yield server
    server.stop()


def coachee_mail(subject: str, text: str, message_id: str, *, to: str = "coach@coaching.test",
                 in_reply_to: str | None = None) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Sanne de Vries <{SANNE}>"
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(START)
    mail["Message-ID"] = message_id
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
        mail["References"] = f"{FIRST_ID} {in_reply_to}"
    mail.set_content(text)
    return mail.as_bytes()


def engagements_of(db: Path, text: str) -> list[int]:
    return [engagement_id for body, engagement_id in opened(db, "exchange", "body_text", "engagement_id")
            if text in body]


async def test_mail_in_answer_out_reply_in(browser: Browser, server: ServerProcess, dovecot: ImapAccount,  # noqa: F811
                                           smtp_relay: SmtpRelay, tmp_path: Path) -> None:
    db = tmp_path / "ecoach.db"
    page = await (await browser.new_context()).new_page()
    await page.goto(server.url + "/")
    await page.fill("input[name=email]", COACH)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button.primary")
    await expect(page.locator("[data-live-inbox]")).to_be_attached(timeout=WAIT)
    # The server reads the mailbox once it has opened it and made the processed folder.
    await wait_until(lambda: _has_folder(dovecot))

    # 1. Mail in: live in the open inbox, by IDLE, within two seconds.
    await dovecot.append(coachee_mail("Nee zeggen", "Hoe zeg ik nee tegen mijn leidinggevende?", FIRST_ID))
    row = page.locator(".inbox-row", has_text="Sanne de Vries")
    await expect(row.locator(".snippet")).to_contain_text("Hoe zeg ik nee", timeout=2000)

    # 2. The coach answers by mail, in the browser.
    await row.locator("a").first.click()
    await expect(page.locator("#timeline li.exchange .body").last).to_contain_text("Hoe zeg ik nee", timeout=WAIT)
    await page.select_option("#reply select[name=channel]", "mail")
    await page.fill("#reply-text", "Begin met een kleine nee, bij iets wat weinig op het spel zet.")
    await page.click("#reply button.primary")
    await wait_until(lambda: smtp_relay.messages, timeout=30)
    [sent] = smtp_relay.messages
    answer = message_from_bytes(sent.raw, policy=default_policy)
    assert sent.rcpt_tos == (SANNE,)
    assert answer["In-Reply-To"] == FIRST_ID
    assert FIRST_ID in str(answer["References"]).split()
    assert "kleine nee" in answer.get_body(("plain",)).get_content()
    [(_, reply_to)] = getaddresses([str(answer["Reply-To"])])
    [token] = find_tokens([reply_to], local="coach", domain="coaching.test", form="{local}+{token}@{domain}")
    first_engagement = engagements_of(db, "Hoe zeg ik nee")[0]
    assert read_token(SECRET, token) == first_engagement

    # 3. Sanne starts a second engagement with the same address: her address alone no longer
    # tells which one a mail belongs to. Her reply to the answer carries the token.
    server.cli("engagement", "add", "--coach", COACH, "--name", "Sanne (teamtraject)", "--email", SANNE)
    await dovecot.append(coachee_mail("Re: Nee zeggen", "Het lukte! Ik zei nee tegen het extra project.",
                                      "<antwoord-2@example.org>", to=reply_to, in_reply_to=str(answer["Message-ID"])))
    await expect(page.locator("#timeline li.exchange .body").last).to_contain_text("Het lukte!", timeout=WAIT)
    assert engagements_of(db, "Het lukte!") == [first_engagement]
    await dovecot.wait_count("INBOX", 0)


async def _has_folder(account: ImapAccount) -> bool:
    async with account.client() as imap:
        response = await imap.list('""', '"ecoach-processed"')
        return any(b"ecoach-processed" in bytes(line) for line in response.lines[:-1])
