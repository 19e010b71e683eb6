"""The anonymised export on both databases: known people replaced consistently, private
notes never included (not even when their ids are sent), marks and kept words through
the form without JavaScript, the Markdown download, and isolation between coaches."""

from __future__ import annotations

import re

from tests.support import app_client, csrf_of, login, settings_for

COACHEE = "Sanne de Vries"
NOTE = "Notitie voor mezelf: Sanne vertrouwt haar leidinggevende Pieter Bakker niet."
TEXTS = [
    ("in", "Hoi Marieke, ik ben Sanne. Mijn manager bij Acme B.V. belde me op 06-12345678 over de reorganisatie."),
    ("out", "Dag Sanne, dank je. Wat deed dat telefoontje met je?"),
    ("in", "Ik woon aan de Kerkstraat 12, 3511 AB Utrecht en mail je wel vanaf sanne.devries@example.nl. "
           "Mijn collega Jorien zegt dat het wel meevalt."),
]


async def world(make_coach, make_engagement, record_exchange):  # type: ignore[no-untyped-def]
    coach = await make_coach(name="Marieke Bos", email="marieke@example.org", language="nl")
    created = await make_engagement(coach, coachee_name=COACHEE, coachee_email="sanne.devries@example.nl",
                                    sponsor_name="Acme B.V.")
    ids = []
    for direction, text in TEXTS:
        ids.append((await record_exchange(created.engagement.id, text, direction=direction)).exchange.id)
    note = await record_exchange(created.engagement.id, NOTE, direction="internal", channel="note")
    return coach, created.engagement.id, ids, note.exchange.id


def previews(page: str) -> list[str]:
    """The preview texts, with their highlights' tags taken out."""
    found = re.findall(r'<p class="preview-text">(.*?)</p>', page, re.S)
    return [re.sub(r"<[^>]+>", "", text) for text in found]


async def test_known_people_are_replaced_and_private_notes_never_appear(  # type: ignore[no-untyped-def]
        make_coach, make_engagement, record_exchange, clock, db_url) -> None:
    coach, engagement_id, ids, note_id = await world(make_coach, make_engagement, record_exchange)
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, coach.email)
        choose = await (await client.get(f"/engagements/{engagement_id}/supervision")).text()
        assert NOTE not in choose and f'value="{note_id}"' not in choose
        assert all(f'name="x" value="{i}"' in choose for i in ids)
        csrf = await csrf_of(client, f"/engagements/{engagement_id}/supervision")
        # The note's id is sent as well, as a forged form would: it is left out.
        form = [("_csrf", csrf)] + [("x", str(i)) for i in [*ids, note_id]]
        response = await client.post(f"/engagements/{engagement_id}/supervision/preview", data=form)
        assert response.status == 200, await response.text()
        page = await response.text()
        texts = previews(page)
        assert len(texts) == 3
        whole = "\n".join(texts)
        for secret in ("Sanne", "Marieke", "Acme", "06-12345678", "Kerkstraat", "sanne.devries@example.nl",
                       "Pieter", "Notitie"):
            assert secret not in whole, secret
        # The coachee is "Persoon A" in every exchange; the coach "Persoon B".
        assert texts[0].startswith("Hoi Persoon B, ik ben Persoon A.") and "Dag Persoon A" in texts[1]
        assert page.count('<mark class="pii') >= 8
        download = await client.post(f"/engagements/{engagement_id}/supervision/download", data=form)
        assert download.status == 200
        assert download.headers["Content-Disposition"].startswith('attachment; filename="supervision-')
        assert download.headers["Content-Type"].startswith("text/markdown")
        text = await download.text()
        assert "Persoon A" in text and "## Dag 1" in text and "Coachee" in text
        for secret in (COACHEE, "Sanne", "Marieke", "Bos", "Pieter Bakker", NOTE[:20], "Utrecht"):
            assert secret not in text, secret


async def test_marks_and_false_alarms_through_the_form(  # type: ignore[no-untyped-def]
        make_coach, make_engagement, record_exchange, clock, db_url) -> None:
    coach, engagement_id, ids, _note = await world(make_coach, make_engagement, record_exchange)
    url = f"/engagements/{engagement_id}/supervision"
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, coach.email)
        csrf = await csrf_of(client, url)
        base = [("_csrf", csrf)] + [("x", str(i)) for i in ids]
        # Without JavaScript: type what was missed ("reorganisatie" says too much) and mark it.
        page = await (await client.post(f"{url}/preview", data=base + [
            ("new_mark", "reorganisatie"), ("new_kind", "other"), ("action", "mark")])).text()
        assert "reorganisatie" not in "".join(previews(page))
        assert '<input type="hidden" name="mark" value="other|reorganisatie">' in page
        # "Jorien" was replaced; the coach says it is fine to show (a false alarm for this export).
        marked = base + [("mark", "other|reorganisatie")]
        page = await (await client.post(f"{url}/preview", data=marked + [("keep_add", "Jorien")])).text()
        assert "Jorien" in "".join(previews(page))
        assert '<input type="hidden" name="keep" value="Jorien">' in page
        text = await (await client.post(f"{url}/download", data=marked + [("keep", "Jorien")])).text()
        assert "Jorien" in text and "reorganisatie" not in text
        # Unmarking brings the word back; keep_remove hides Jorien again.
        page = await (await client.post(f"{url}/preview", data=marked + [
            ("keep", "Jorien"), ("unmark", "other|reorganisatie"), ("keep_remove", "Jorien")])).text()
        assert "reorganisatie" in "".join(previews(page)) and "Jorien" not in "".join(previews(page))
        # Nothing chosen, or a mark that is too long: a clear message.
        empty = await client.post(f"{url}/preview", data=[("_csrf", csrf)])
        assert empty.status == 400 and "Kies minstens één bericht." in await empty.text()
        long = await client.post(f"{url}/preview", data=base + [("new_mark", "x" * 201), ("action", "mark")])
        assert long.status == 400


async def test_a_coach_never_exports_another_coachs_exchanges(  # type: ignore[no-untyped-def]
        make_coach, make_engagement, record_exchange, clock, db_url) -> None:
    coach, engagement_id, ids, _note = await world(make_coach, make_engagement, record_exchange)
    other = await make_coach(email="joost@example.org")
    mine = (await make_engagement(other, coachee_name="Pim")).engagement.id
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, other.email)
        assert (await client.get(f"/engagements/{engagement_id}/supervision")).status == 404
        csrf = await csrf_of(client, f"/engagements/{mine}/supervision")
        form = [("_csrf", csrf)] + [("x", str(i)) for i in ids]
        for action in ("preview", "download"):
            theirs = await client.post(f"/engagements/{engagement_id}/supervision/{action}", data=form)
            assert theirs.status == 404
            # Their exchange ids under my own engagement: nothing of theirs comes out.
            own = await client.post(f"/engagements/{mine}/supervision/{action}", data=form)
            assert own.status == 400 and "Sanne" not in await own.text()
