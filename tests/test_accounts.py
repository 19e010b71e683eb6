"""Coach accounts: sessions page, password change, 2FA, reset by mail, administration,
API tokens, and the command line."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.account_support import code, code_step, link_in, password_step, setup_2fa
from tests.dovecot import wait_until
from tests.smtp_relay import smtp_relay  # noqa: F401 - the fixture
from tests.support import PASSWORD, app_client, csrf_of, login, seed, settings_for

NEW_PASSWORD = "a brand new sentence 2026"


async def logged_in(client) -> bool:  # type: ignore[no-untyped-def]
    return (await client.get("/", allow_redirects=False)).status == 200


async def test_sessions_page_and_log_out_everywhere(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    settings = settings_for(db_url)
    async with app_client(settings, clock) as laptop, app_client(settings, clock) as phone, \
            app_client(settings, clock) as tablet:
        for client in (laptop, phone, tablet):
            await login(client, a["email"])
        page = await (await laptop.get("/account")).text()
        assert page.count('action="/account/sessions/') == 3  # two to end, and "everywhere else"
        assert "this browser" in page or "deze browser" in page
        ended = page.split('action="/account/sessions/')[1].split("/end")[0]
        await laptop.post(f"/account/sessions/{ended}/end", data={"_csrf": await csrf_of(laptop, "/account")})
        assert [await logged_in(c) for c in (laptop, phone, tablet)].count(False) == 1
        await laptop.post("/account/sessions/end-others", data={"_csrf": await csrf_of(laptop, "/account")})
        assert [await logged_in(c) for c in (laptop, phone, tablet)] == [True, False, False]


async def test_password_change_ends_every_other_session(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    settings = settings_for(db_url)
    async with app_client(settings, clock) as mine, app_client(settings, clock) as other:
        await login(mine, a["email"])
        await login(other, a["email"])
        token = await csrf_of(mine, "/account")
        wrong = await mine.post("/account/password", data={"_csrf": token, "current": "not it at all",
                                                           "new": NEW_PASSWORD, "repeat": NEW_PASSWORD})
        assert wrong.status == 400
        short = await mine.post("/account/password", data={"_csrf": token, "current": PASSWORD,
                                                           "new": "short", "repeat": "short"})
        assert short.status == 400
        done = await mine.post("/account/password", allow_redirects=False, data={
            "_csrf": token, "current": PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD})
        assert done.status == 303
        assert await logged_in(mine) and not await logged_in(other)
        await login(other, a["email"], NEW_PASSWORD)
        assert (await password_step(other, a["email"], PASSWORD)).status == 400  # the old one is gone


async def test_two_factor_login(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org", language="en")
    settings = settings_for(db_url)
    async with app_client(settings, clock) as client, app_client(settings, clock) as other:
        await login(client, a["email"])
        await login(other, a["email"])
        wrong = await client.post("/account/2fa", data={"_csrf": await csrf_of(client, "/account/2fa"),
                                                        "code": "000000"})
        assert wrong.status == 400 and "not right" in await wrong.text()
        secret, recovery = await setup_2fa(client, clock.now())
        assert await logged_in(client) and not await logged_in(other)  # enabling 2FA ended the others
        # Password alone is half a login.
        step = await password_step(other, a["email"])
        assert step.status == 303 and step.headers["Location"].startswith("/login/2fa")
        assert not await logged_in(other)
        ws = await other.ws_connect("/ws")
        assert (await ws.receive_json(timeout=5))["code"] == "login_required"
        await ws.close()
        assert (await code_step(other, "123456")).status == 400
        clock.advance(seconds=30)
        assert (await code_step(other, code(secret, clock.now()))).status == 303
        assert await logged_in(other)
        # The same code never works twice; a recovery code works once.
        await other.post("/logout", data={"_csrf": await csrf_of(other, "/")})
        await password_step(other, a["email"])
        assert (await code_step(other, code(secret, clock.now()))).status == 400
        assert (await code_step(other, recovery[0].upper())).status == 303
        await other.post("/logout", data={"_csrf": await csrf_of(other, "/")})
        await password_step(other, a["email"])
        assert (await code_step(other, recovery[0])).status == 400
        assert "Recovery codes left: 9" in await (await client.get("/account")).text()


async def test_practice_can_require_2fa(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org", language="en")
    async with app_client(settings_for(db_url, accounts={"require_2fa": True}), clock) as client:
        await login(client, a["email"])
        for path in ("/", f"/engagements/{a['engagement_id']}", "/account"):
            response = await client.get(path, allow_redirects=False)
            assert (response.status, response.headers["Location"]) == (303, "/account/2fa"), path
        ws = await client.ws_connect("/ws")
        assert (await ws.receive_json(timeout=5))["code"] == "login_required"
        await ws.close()
        assert "requires two-factor" in await (await client.get("/account/2fa")).text()
        await setup_2fa(client, clock.now())
        assert await logged_in(client)
        refused = await client.post("/account/2fa/disable", data={
            "_csrf": await csrf_of(client, "/account"), "password": PASSWORD})
        assert refused.status == 403


async def test_reset_by_mail(db_url, clock, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org", language="en")
    settings = settings_for(db_url, mail={"enabled": True, "domain": "coaching.test", "smtp_host": smtp_relay.host,
                                          "smtp_port": smtp_relay.port})
    async with app_client(settings, clock) as client, app_client(settings, clock) as logged:
        await login(logged, a["email"])
        pages = []
        for email in ("a@example.org", "nobody@example.org"):
            token = await csrf_of(client, "/password/forgot")
            response = await client.post("/password/forgot", data={"_csrf": token, "email": email})
            pages.append((response.status, (await response.text()).replace(email, "EMAIL")))
        assert pages[0] == pages[1]  # nothing tells whether the address exists
        await wait_until(lambda: smtp_relay.messages)
        [mail] = smtp_relay.messages
        assert mail.rcpt_tos == ("a@example.org",)
        path = urlsplit(link_in(mail.raw)).path
        token = await csrf_of(client, path)
        mismatch = await client.post(path, data={"_csrf": token, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD + "x"})
        assert mismatch.status == 400
        done = await client.post(path, allow_redirects=False, data={"_csrf": token, "new": NEW_PASSWORD,
                                                                     "repeat": NEW_PASSWORD})
        assert done.status == 303 and done.headers["Location"] == "/login?reset=1"
        assert not await logged_in(logged)  # every session ended
        again = await client.post(path, data={"_csrf": token, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD})
        assert again.status == 404  # single use
        await login(client, a["email"], NEW_PASSWORD)
        # A link runs out.
        token = await csrf_of(logged, "/password/forgot")
        await logged.post("/password/forgot", data={"_csrf": token, "email": a["email"]})
        await wait_until(lambda: len(smtp_relay.messages) == 2)
        path = urlsplit(link_in(smtp_relay.messages[1].raw)).path
        clock.advance(minutes=31)
        assert (await logged.get(path)).status == 404


async def test_admin_invites_deactivates_and_hands_over(db_url, clock, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    admin = await seed(db_url, clock.now(), email="admin@example.org", language="en")
    other = await seed(db_url, clock.now(), email="leaving@example.org", coachee="Bram")
    settings = settings_for(db_url, mail={"enabled": True, "domain": "coaching.test", "smtp_host": smtp_relay.host,
                                          "smtp_port": smtp_relay.port})
    async with app_client(settings, clock) as client, app_client(settings, clock) as leaving, \
            app_client(settings, clock) as newcomer:
        await login(client, admin["email"])
        await login(leaving, other["email"])
        assert (await leaving.get("/admin/coaches")).status == 403  # not an administrator
        token = await csrf_of(client, "/admin/coaches")
        invited = await client.post("/admin/coaches", data={"_csrf": token, "name": "Nieuwe Coach",
                                                            "email": "new@example.org", "language": "nl"})
        assert invited.status == 200 and "invitation is on its way" in await invited.text()
        await wait_until(lambda: smtp_relay.messages)
        path = urlsplit(link_in(smtp_relay.messages[0].raw)).path
        assert path.startswith("/invite/")
        token = await csrf_of(newcomer, path)
        chosen = await newcomer.post(path, allow_redirects=False,
                                     data={"_csrf": token, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD})
        assert (chosen.status, chosen.headers["Location"]) == (303, "/account/2fa")
        assert await logged_in(newcomer)
        page = await (await client.get("/admin/coaches")).text()
        ids = {line.split("/admin/coaches/")[1].split("/")[0] for line in page.split('action="')
               if line.startswith("/admin/coaches/")}
        assert len(ids) == 2
        await client.post(f"/admin/coaches/{other['coach_id']}/deactivate", data={"_csrf": await csrf_of(client, "/")})
        assert not await logged_in(leaving)
        assert (await password_step(leaving, other["email"])).status == 400
        api = await leaving.get("/api/v1/engagements", headers={"Authorization": f"Bearer {other['api_token']}"})
        assert api.status == 401
        new_id = next(i for i in ids if i != str(other["coach_id"]))
        moved = await client.post(f"/admin/coaches/{other['coach_id']}/hand-over", allow_redirects=False,
                                  data={"_csrf": await csrf_of(client, "/"), "to": new_id})
        assert moved.headers["Location"].endswith("moved=1")
        assert "Bram" in await (await newcomer.get("/")).text()
        self_off = await client.post(f"/admin/coaches/{admin['coach_id']}/deactivate",
                                     data={"_csrf": await csrf_of(client, "/")})
        assert self_off.status == 403


async def test_api_tokens_scoped_listed_and_revoked(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org", language="en")
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, a["email"])
        created = await client.post("/account/tokens", data={"_csrf": await csrf_of(client, "/account"),
                                                             "name": "reader", "scope": "read"})
        text = await created.text()
        token = text.split('class="token-value" value="')[1].split('"')[0]
        auth = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/api/v1/engagements", headers=auth)).status == 200
        refused = await client.post("/api/v1/engagements", headers=auth, json={"coachee_name": "X"})
        assert refused.status == 403 and (await refused.json())["error"]["code"] == "token_read_only"
        page = await (await client.get("/account")).text()
        assert "reader" in page and "never used" not in page.split("reader")[1].split("</li>")[0]
        token_id = page.split("reader")[1].split('action="/account/tokens/')[1].split("/")[0]
        await client.post(f"/account/tokens/{token_id}/revoke", data={"_csrf": await csrf_of(client, "/account")})
        assert (await client.get("/api/v1/engagements", headers=auth)).status == 401


def test_cli_manages_accounts(db_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.server_process import ServerProcess

    server = ServerProcess(tmp_path, db_url)
    # One real ``python -m ecoach`` proves the command works as installed; the rest run in
    # this interpreter (the same code, without a second of start-up each).
    server.cli("coach", "add", "--name", "Anna", "--email", "anna@example.org", "--password", PASSWORD)
    server.cli_here("coach", "add", "--name", "Bram", "--email", "bram@example.org", "--password", PASSWORD)
    listed = server.cli_here("coach", "list")
    assert "anna@example.org  Anna  role=admin  active" in listed and "role=coach" in listed
    token = server.cli_here("coach", "token", "--email", "bram@example.org", "--name", "sync",
                            "--scope", "read").strip()
    assert len(token) > 20
    tokens = server.cli_here("coach", "tokens", "--email", "bram@example.org")
    assert "sync  scope=read" in tokens and "last_used=never" in tokens
    token_id = tokens.split()[0]
    assert "revoked" in server.cli_here("coach", "revoke-token", "--email", "bram@example.org", token_id)
    assert "deactivated" in server.cli_here("coach", "deactivate", "--email", "bram@example.org")
    assert "0 engagement(s)" in server.cli_here("coach", "hand-over", "--from", "bram@example.org",
                                                "--to", "anna@example.org")
    assert "off" in server.cli_here("coach", "reset-2fa", "--email", "anna@example.org")


@pytest.mark.parametrize("password", ["short", "x" * 129, "passwordpassword"])
def test_password_rules(password: str) -> None:
    from ecoach.actions.errors import ActionError
    from ecoach.actions.passwords import check_new_password

    with pytest.raises(ActionError):
        check_new_password(password)
    assert check_new_password("één zin met spaties 🌱") == "één zin met spaties 🌱"
