"""The group page's Cancel (asks first) and Move for a group session, in-process on both
databases: CSRF on every form, another coach gets 404, a session of another group or an
unknown id is a 404, a bad or taken time a 4xx with its message, a cancelled session a 409."""

from __future__ import annotations

import re

from sqlalchemy import select

from ecoach.logbook.booking_models import Booking
from tests.group_support import post, same_server
from tests.support import app_client, login, seed, settings_for
from tests.test_groups import _db, _group_of_three, _session_type


async def _group_with_session(db_url, clock, owner):  # type: ignore[no-untyped-def]
    a, members, gid = await _group_of_three(db_url, clock, owner)
    type_id = await _session_type(db_url, a["coach_id"], clock.now())
    page = await (await owner.get(f"/groups/{gid}?type={type_id}")).text()
    starts = re.findall(r'<option value="([^"]+T[^"]+)"', page)
    booked = await post(owner, f"/groups/{gid}/sessions", f"/groups/{gid}", type_id=str(type_id),
                        start=starts[-1])  # not the first, which starts now
    assert booked.status == 303, await booked.text()
    bid = await _db(db_url, lambda session: session.scalar(select(Booking.id)))
    return a, gid, bid


async def test_cancel_asks_first_and_is_the_coachs_own(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    async with app_client(settings_for(db_url), clock) as owner, same_server(owner) as stranger:
        _a, gid, bid = await _group_with_session(db_url, clock, owner)
        path = f"/groups/{gid}/sessions/{bid}/cancel"
        group_page = await (await owner.get(f"/groups/{gid}")).text()
        assert f'action="{path}"' in group_page
        assert f"/groups/{gid}/sessions/{bid}/move" in group_page
        asked = await owner.get(path)  # the question as a page (without JavaScript)
        assert asked.status == 200 and "Cancel this group session?" in await asked.text()
        forged = await owner.post(path, data={}, allow_redirects=False)
        assert forged.status == 403
        other = await seed(db_url, clock.now(), email="jan@example.org", coachee="Kim")
        await login(stranger, other["email"])
        assert (await stranger.get(path)).status == 404
        assert (await post(stranger, path, "/groups")).status == 404
        assert (await post(owner, f"/groups/{gid}/sessions/999999/cancel", f"/groups/{gid}")).status == 404
        assert (await post(owner, f"/groups/{gid}/sessions/nonsense/cancel", f"/groups/{gid}")).status == 404
        assert await _db(db_url, lambda s: s.scalar(select(Booking.status))) == "confirmed"
        done = await post(owner, path, f"/groups/{gid}")
        assert done.status == 303 and "done=cancelled" in done.headers["Location"]
        assert await _db(db_url, lambda s: s.scalar(select(Booking.status))) == "cancelled"
        again = await post(owner, path, f"/groups/{gid}")
        assert again.status == 409 and "cancelled already" in await again.text()
        assert (await owner.get(path)).status == 409


async def test_move_to_a_free_time(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    async with app_client(settings_for(db_url), clock) as owner, same_server(owner) as stranger:
        _a, gid, bid = await _group_with_session(db_url, clock, owner)
        path = f"/groups/{gid}/sessions/{bid}/move"
        page = await owner.get(path)
        assert page.status == 200
        starts = re.findall(r'<option value="([^"]+T[^"]+)"', await page.text())
        assert starts
        forged = await owner.post(path, data={"start": starts[0]}, allow_redirects=False)
        assert forged.status == 403
        other = await seed(db_url, clock.now(), email="jan@example.org", coachee="Kim")
        await login(stranger, other["email"])
        assert (await stranger.get(path)).status == 404
        assert (await post(stranger, path, "/groups", start=starts[0])).status == 404
        bad = await post(owner, path, path, start="tomorrow-ish")
        assert 400 <= bad.status < 500 and 'role="alert"' in await bad.text()
        moved = await post(owner, path, path, start=starts[0])
        assert moved.status == 303 and "done=moved" in moved.headers["Location"]
        booking = await _db(db_url, lambda s: s.scalar(select(Booking)))
        assert booking.starts_at.isoformat() == starts[0] and booking.sequence == 1
