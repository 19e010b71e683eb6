"""The engagement page's one note box over HTTP (no JavaScript): the "Private note" tab's
"share" box posts to /engagements/N/messages with mode=note&shared=1; a shared note
reaches the coachee's chat page, a private one stays on the coach's page; another coach
reaches neither."""

from __future__ import annotations

from html import unescape

from tests.contract_support import post
from tests.support import app_client, login, seed, settings_for

A, B = "anna@example.org", "bert@example.org"


async def test_a_shared_note_reaches_the_chat_page_and_a_private_one_does_not(  # type: ignore[no-untyped-def]
        db_url: str, clock) -> None:
    ids = await seed(db_url, clock.now(), email=A, language="en")
    await seed(db_url, clock.now(), email=B, language="en")
    base = f"/engagements/{ids['engagement_id']}"
    note_tab = f"{base}?mode=note"
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, A)
        tab = await (await client.get(note_tab)).text()
        assert 'name="shared" value="1"' in tab and 'name="mode" value="note"' in tab
        for text, shared in (("PRIVATE-NOTE-TEXT", {}), ("SHARED-NOTE-TEXT", {"shared": "1"})):
            response = await post(client, note_tab, f"{base}/messages",
                                  {"mode": "note", "text": text, "client_id": f"note-{len(shared)}-0001", **shared})
            assert response.status == 303, await response.text()
        coach_page = unescape(await (await client.get(base)).text())
        assert "PRIVATE-NOTE-TEXT" in coach_page and "SHARED-NOTE-TEXT" in coach_page
        chat = unescape(await (await client.get(f"/c/{ids['chat_token']}")).text())
        assert "SHARED-NOTE-TEXT" in chat and "a note from your coach" in chat
        assert "PRIVATE-NOTE-TEXT" not in chat

    async with app_client(settings_for(db_url), clock) as other:
        await login(other, B)
        response = await post(other, "/", f"{base}/messages",
                              {"mode": "note", "shared": "1", "text": "INTRUDER", "client_id": "note-9-0001"})
        assert response.status == 404
    async with app_client(settings_for(db_url), clock) as client:
        assert "INTRUDER" not in await (await client.get(f"/c/{ids['chat_token']}")).text()
