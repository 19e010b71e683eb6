"""Mail that used to be lost or bloated, through the real Dovecot: a second mail with the
Message-ID of an earlier one but other content is kept (a possible duplicate the coach
sees), while the same mail delivered again is stored once; a 12 MB text mail is cut to
``mail.max_text_chars`` in the logbook, with a note, its whole original downloadable."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from sqlalchemy import select

from ecoach.logbook.mail_models import InboundMail
from ecoach.logbook.models import Exchange
from tests.conftest import START
from tests.dovecot import ImapAccount, dovecot, dovecot_server  # noqa: F401 - fixtures
from tests.support import app_client, login
from tests.test_mail_imap import PROCESSED, SANNE, exchanges, reading, settings_for


def mail(message_id: str, text: str, subject: str = "Verslag") -> bytes:
    message = EmailMessage()
    message["From"] = f"Sanne <{SANNE}>"
    message["To"] = "coach@coaching.test"
    message["Subject"] = subject
    message["Date"] = format_datetime(START)
    message["Message-ID"] = message_id
    message.set_content(text)
    return message.as_bytes()


@pytest.fixture
async def coach(make_coach, make_engagement):  # type: ignore[no-untyped-def]
    coach = await make_coach(email="coach@coaching.test")
    await make_engagement(coach, coachee_name="Sanne", coachee_email=SANNE)
    return coach


async def test_same_message_id_other_content_is_kept_and_flagged(db_url, sessions, hub, clock, dovecot, coach  # type: ignore[no-untyped-def]
                                                                 ) -> None:
    first, other = mail("<verslag@example.org>", "Week 1: rustig."), mail("<verslag@example.org>", "Week 2: druk!")
    # The first, the same again (a re-delivery, even with a header more), and another with its id.
    again = b"Received: from relay.example.org by mx.example.org\r\n" + first
    await dovecot.append(first, again, other)
    settings = settings_for(db_url, dovecot)
    async with reading(settings, sessions, hub, clock):
        await dovecot.wait_count(PROCESSED, 3)
        await dovecot.append(other)  # the second one delivered again: still stored once
        await dovecot.wait_count(PROCESSED, 4)
    rows = await exchanges(sessions)
    assert [r.body_text for r in rows] == ["Week 1: rustig.", "Week 2: druk!"]
    assert "possible_duplicate" not in rows[0].meta["flags"]
    assert "possible_duplicate" in rows[1].meta["flags"] and rows[1].meta["duplicate_of"] == rows[0].id
    async with sessions() as session:
        ledger = list((await session.execute(select(InboundMail).order_by(InboundMail.id))).scalars())
    assert [(m.outcome, m.exchange_id) for m in ledger] == [("exchange", rows[0].id), ("exchange", rows[1].id)]
    async with app_client(settings, clock) as client:
        await login(client, "coach@coaching.test")
        page = await (await client.get(f"/engagements/{rows[0].engagement_id}")).text()
    assert page.count("Mogelijk dubbel") == 1 and f'href="#x{rows[0].id}"' in page


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # size, not the database, is what is tested
async def test_a_12_mb_text_mail_is_cut_in_the_logbook_and_whole_in_its_original(  # type: ignore[no-untyped-def]
        db_url, sessions, hub, clock, dovecot, coach) -> None:
    lines = [f"Regel {n:07d} van een heel lang verslag, met tekst die doorgaat." for n in range(190_000)]
    text = "\n".join(lines) + "\nLAATSTE REGEL\n"
    assert len(text) > 12_000_000
    await dovecot.append(mail("<groot@example.org>", text, subject="Groot"))
    settings = settings_for(db_url, dovecot)
    async with reading(settings, sessions, hub, clock):
        await dovecot.wait_count(PROCESSED, 1, timeout=120)
    [row] = await exchanges(sessions)
    limit = settings.mail.max_text_chars
    assert limit < len(row.body_text) <= limit + 10 and "LAATSTE REGEL" not in row.body_text
    assert row.meta["text_capped"] >= len(text) - 5 and len(row.body_html) < 3 * limit
    async with app_client(settings, clock) as client:
        await login(client, "coach@coaching.test")
        page = await (await client.get(f"/engagements/{row.engagement_id}")).text()
        assert len(page) < 1_000_000 and "het logboek toont het begin" in page
        original = await client.get(f"/engagements/{row.engagement_id}/exchanges/{row.id}/original")
        assert original.status == 200 and b"LAATSTE REGEL" in await original.read()
    async with sessions() as session:
        assert len(list((await session.execute(select(Exchange))).scalars())) == 1
