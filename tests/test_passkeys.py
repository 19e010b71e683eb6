"""Passkeys (WebAuthn) as a second factor, over HTTP with a software authenticator: the
registration and login ceremonies, single-use challenges bound to the login attempt, the
signature counter, removal, require-2FA, the audit trail, and hostile JSON bodies."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect

from ecoach.core.passkey_origin import NoRelyingParty, relying_party
from ecoach.logbook.db import alembic_config
from tests.account_support import CODES, code_step, password_step
from tests.audit_support import entries
from tests.passkey_support import SoftAuthenticator
from tests.support import PASSWORD, app_client, csrf_of, login, seed, settings_for

ORIGIN, RP_ID = "https://coach.example", "coach.example"
NAME = "MacBook Touch ID"
ENGLISH = {"Accept-Language": "en"}  # half-way through a login, pages follow the browser's language


def settings(db_url: str, **extra: Any):  # type: ignore[no-untyped-def]
    return settings_for(db_url, public_url=ORIGIN, **extra)


async def post_json(client, path: str, body: Any, csrf: str):  # type: ignore[no-untyped-def]
    return await client.post(path, json=body, headers={"X-CSRF-Token": csrf, "Accept": "application/json"})


async def add_passkey(client, key: SoftAuthenticator, name: str = NAME, **answer: Any):  # type: ignore[no-untyped-def]
    csrf = await csrf_of(client, "/account/2fa")
    begun = await post_json(client, "/account/2fa/passkeys/options", {"name": name, "password": PASSWORD}, csrf)
    assert begun.status == 200, await begun.text()
    options = (await begun.json())["publicKey"]
    assert options["rp"]["id"] == RP_ID
    return await post_json(client, "/account/2fa/passkeys", {"credential": key.create(options, **answer)}, csrf)


async def login_options(client) -> tuple[dict[str, Any], str]:  # type: ignore[no-untyped-def]
    csrf = await csrf_of(client, "/login/2fa")
    begun = await post_json(client, "/login/2fa/passkey/options", {}, csrf)
    assert begun.status == 200, await begun.text()
    return (await begun.json())["publicKey"], csrf


async def passkey_step(client, key: SoftAuthenticator, **answer: Any):  # type: ignore[no-untyped-def]
    options, csrf = await login_options(client)
    return await post_json(client, "/login/2fa/passkey", {"credential": key.get(options, **answer), "next": "/x"},
                           csrf)


async def error_code(response) -> str:  # type: ignore[no-untyped-def]
    return (await response.json())["error"]["code"]


async def logged_in(client) -> bool:  # type: ignore[no-untyped-def]
    return (await client.get("/", allow_redirects=False)).status == 200


async def log_out(client) -> None:  # type: ignore[no-untyped-def]
    await client.post("/logout", data={"_csrf": await csrf_of(client, "/")})


def test_relying_party_comes_from_the_public_address() -> None:
    assert relying_party("https://coach.example.org/") == relying_party("https://coach.example.org:443")
    party = relying_party("https://coach.example.org:8443", "example.org")
    assert (party.rp_id, party.origin) == ("example.org", "https://coach.example.org:8443")
    assert relying_party("http://localhost:9000").origin == "http://localhost:9000"
    for url, rp_id in (("http://127.0.0.1:8080", ""), ("https://[::1]", ""), ("http://coach.example.org", ""),
                       ("https://coach.example.org", "other.org"), ("https://coach.example.org", "ample.org"),
                       ("ftp://coach.example.org", ""), ("https://coach.example.org:99999", "")):
        with pytest.raises(NoRelyingParty):
            relying_party(url, rp_id)


async def test_register_then_log_in_with_password_and_passkey(db_url, clock, sessions) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org", language="en")
    key = SoftAuthenticator(ORIGIN, RP_ID)
    async with app_client(settings(db_url), clock) as client, app_client(settings(db_url), clock) as other:
        await login(client, a["email"])
        await login(other, a["email"])
        added = await add_passkey(client, key)
        assert added.status == 200, await added.text()
        assert (await added.json())["next"].startswith("/account/2fa?done=passkey_added")
        assert await logged_in(client) and not await logged_in(other)  # the change ended the other login
        page = await (await client.get("/account/2fa")).text()
        assert NAME in page and "never used" in page and "Make recovery codes now" in page
        assert "On: logging in asks for one of your passkeys." in await (await client.get("/account")).text()
        # Password alone is half a login; the passkey completes it.
        await log_out(client)
        step = await password_step(client, a["email"])
        assert step.headers["Location"].startswith("/login/2fa")
        assert "Use a passkey" in await (await client.get("/login/2fa", headers=ENGLISH)).text()
        done = await passkey_step(client, key)
        assert done.status == 200, await done.text()
        assert (await done.json())["next"] == "/x"
        assert await logged_in(client)
        assert "last used" in await (await client.get("/account/2fa")).text()
    kinds = [e.kind for e in await entries(sessions, coach_id=a["coach_id"])]
    assert "passkey_added" in kinds
    logins = await entries(sessions, kind="login")
    assert logins[-1].detail["method"] == "passkey"


async def test_challenges_are_single_use_short_lived_and_bound_to_the_login(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org", language="en")
    b = await seed(db_url, clock.now(), email="b@example.org", language="en")
    key, stranger = SoftAuthenticator(ORIGIN, RP_ID), SoftAuthenticator(ORIGIN, RP_ID)
    roomy = settings(db_url, login_attempts=50)  # the refusals below would hit the login limit
    async with app_client(roomy, clock) as first, app_client(roomy, clock) as second:
        await login(first, a["email"])
        assert (await add_passkey(first, key)).status == 200
        await login(second, b["email"])
        assert (await add_passkey(second, stranger)).status == 200
        await log_out(first)
        await log_out(second)
        await password_step(first, a["email"])
        await password_step(second, a["email"])  # a second half-way login of the same coach
        # An answer is accepted once.
        options, csrf = await login_options(first)
        answer = key.get(options)
        assert (await post_json(first, "/login/2fa/passkey", {"credential": answer}, csrf)).status == 200
        await log_out(first)
        await password_step(first, a["email"])
        replay = await post_json(first, "/login/2fa/passkey", {"credential": answer}, await csrf_of(first, "/login/2fa"))
        assert (replay.status, await error_code(replay)) == (400, "passkey_expired")
        # A challenge belongs to the login that asked for it.
        options, _ = await login_options(first)
        elsewhere = await post_json(second, "/login/2fa/passkey", {"credential": key.get(options)},
                                    await csrf_of(second, "/login/2fa"))
        assert (elsewhere.status, await error_code(elsewhere)) == (400, "passkey_expired")
        # Short-lived: three minutes.
        options, csrf = await login_options(first)
        clock.advance(seconds=181)
        late = await post_json(first, "/login/2fa/passkey", {"credential": key.get(options)}, csrf)
        assert (late.status, await error_code(late)) == (400, "passkey_expired")
        # Origin and RP ID are the server's; another coach's passkey is not this coach's.
        for answer_kw, reason in (({"origin": "https://evil.example"}, "passkey_invalid"),
                                  ({"rp_id": "evil.example"}, "passkey_invalid")):
            refused = await passkey_step(first, key, **answer_kw)
            assert (refused.status, await error_code(refused)) == (400, reason)
        refused = await passkey_step(first, stranger)
        assert (refused.status, await error_code(refused)) == (400, "passkey_unknown")
        assert not await logged_in(first)
        # The signature counter: a copy of the authenticator that is behind is refused.
        assert (await passkey_step(first, key, step=5)).status == 200
        await log_out(first)
        await password_step(first, a["email"])
        key.counter -= 3
        cloned = await passkey_step(first, key)
        assert (cloned.status, await error_code(cloned)) == (400, "passkey_counter")
        assert (await passkey_step(first, key, step=10)).status == 200


async def test_remove_asks_first_and_the_last_factor_needs_turning_off(db_url, clock, sessions) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org", language="en")
    phone, laptop = SoftAuthenticator(ORIGIN, RP_ID), SoftAuthenticator(ORIGIN, RP_ID)
    async with app_client(settings(db_url), clock) as client, app_client(settings(db_url), clock) as other:
        await login(client, a["email"])
        assert (await add_passkey(client, phone, "Phone")).status == 200
        assert (await add_passkey(client, laptop, "Laptop")).status == 200
        again = await add_passkey(client, laptop, "Laptop again")
        assert (again.status, await error_code(again)) == (409, "passkey_exists")
        page = await (await client.get("/account/2fa")).text()
        ids = [int(part.split("/")[0]) for part in page.split('action="/account/2fa/passkeys/')[1:]]
        first_id = ids[0]
        asked = await client.get(f"/account/2fa/passkeys/{first_id}/remove")
        assert asked.status == 200 and "Remove the passkey “Phone”?" in await asked.text()
        await password_step(other, a["email"])
        assert (await passkey_step(other, laptop)).status == 200
        removed = await client.post(f"/account/2fa/passkeys/{first_id}/remove", allow_redirects=False,
                                    data={"_csrf": await csrf_of(client, "/account/2fa")})
        assert removed.status == 303
        assert await logged_in(client) and not await logged_in(other)
        page = await (await client.get("/account/2fa")).text()
        assert "Phone" not in page and "Laptop" in page
        gone = await client.post(f"/account/2fa/passkeys/{first_id}/remove", data={"_csrf": await csrf_of(client, "/")})
        assert gone.status == 404
        last = [i for i in ids if i != first_id][0]
        refused = await client.post(f"/account/2fa/passkeys/{last}/remove", data={"_csrf": await csrf_of(client, "/")})
        assert refused.status == 409 and "only second factor" in await refused.text()
        # Turning 2FA off (with the password) removes the passkeys too.
        off = await client.post("/account/2fa/disable", allow_redirects=False,
                                data={"_csrf": await csrf_of(client, "/account/2fa"), "password": PASSWORD})
        assert off.status == 303
        assert "No passkeys yet." in await (await client.get("/account/2fa")).text()
        await log_out(client)
        assert (await password_step(client, a["email"])).headers["Location"] == "/"
    kinds = [e.kind for e in await entries(sessions, coach_id=a["coach_id"])]
    assert kinds.count("passkey_added") == 2 and kinds.count("passkey_removed") == 1


async def test_a_coach_with_only_passkeys_has_2fa_and_recovery_codes(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org", language="en")
    key = SoftAuthenticator(ORIGIN, RP_ID)
    async with app_client(settings(db_url, accounts={"require_2fa": True}), clock) as client:
        await login(client, a["email"])
        assert (await client.get("/", allow_redirects=False)).headers["Location"] == "/account/2fa"
        assert (await add_passkey(client, key)).status == 200
        assert await logged_in(client)  # the passkey fulfils the practice's rule
        made = await client.post("/account/2fa/recovery-codes", data={"_csrf": await csrf_of(client, "/account/2fa")})
        codes = CODES.findall(await made.text())
        assert made.status == 200 and len(codes) == 10
        await log_out(client)
        await password_step(client, a["email"])
        assert "one of your recovery codes" in await (await client.get("/login/2fa", headers=ENGLISH)).text()
        assert (await code_step(client, codes[0])).status == 303
        assert await logged_in(client)


HOSTILE = [b"", b"[", b"[]", b"null", b"\xff\xfe", b'"\\ud800"', b'{"name": "\\u0000"}', b"[" * 10000,
           b'{"credential": 5}', b'{"credential": {"id": "' + b"A" * 5000 + b'"}}', b'{"credential": {"id": 7}}',
           b'{"credential": {"id": "AA", "rawId": "AA", "type": "public-key", "response": {"clientDataJSON": "!!",'
           b' "authenticatorData": "@", "signature": "", "attestationObject": "%%"}}}',
           b'{"credential": {"id": "AA", "rawId": "AA", "type": "public-key", "response": {"clientDataJSON":'
           b' "eyJ0eXBlIjogMX0", "attestationObject": "oA", "authenticatorData": "AA", "signature": "AA"}}}',
           b'{"name": ["x"], "password": {"a": 1}}', b'{"name": "' + b"n" * 400 + b'", "password": "x"}']


async def test_hostile_bodies_get_clear_4xx(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org", language="en")
    key = SoftAuthenticator(ORIGIN, RP_ID)
    async with app_client(settings(db_url), clock) as client, app_client(settings(db_url), clock) as stranger:
        for path in ("/login/2fa/passkey/options", "/login/2fa/passkey", "/account/2fa/passkeys/options",
                     "/account/2fa/passkeys"):
            nobody = await post_json(stranger, path, {}, await csrf_of(stranger, "/login"))
            assert (nobody.status, await error_code(nobody)) == (401, "login_required"), path
        await login(client, a["email"])
        assert (await add_passkey(client, key)).status == 200
        csrf = await csrf_of(client, "/account/2fa")
        await post_json(client, "/account/2fa/passkeys/options", {"name": "Other", "password": PASSWORD}, csrf)
        for body in HOSTILE:
            response = await client.post("/account/2fa/passkeys", data=body, headers={
                "X-CSRF-Token": csrf, "Accept": "application/json", "Content-Type": "application/json"})
            assert 400 <= response.status < 500, (body[:60], response.status)
            assert (await response.json())["error"]["message"]
        await log_out(client)
        await password_step(client, a["email"])
        csrf = await csrf_of(client, "/login/2fa")
        for body in HOSTILE:
            await post_json(client, "/login/2fa/passkey/options", {}, csrf)
            response = await client.post("/login/2fa/passkey", data=body, headers={
                "X-CSRF-Token": csrf, "Accept": "application/json", "Content-Type": "application/json"})
            assert 400 <= response.status < 500, (body[:60], response.status)
        assert (await client.get("/healthz")).status == 200


async def test_no_passkeys_where_the_server_has_no_host_name(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org", language="en")
    async with app_client(settings_for(db_url), clock) as client:  # http://127.0.0.1:8080
        await login(client, a["email"])
        page = await (await client.get("/account/2fa")).text()
        assert "Passkeys are not available on this server" in page and "data-passkey-register" not in page
        refused = await post_json(client, "/account/2fa/passkeys/options", {"name": NAME, "password": PASSWORD},
                                  await csrf_of(client, "/account/2fa"))
        assert (refused.status, await error_code(refused)) == (404, "passkeys_unavailable")


async def test_the_migration_goes_down_and_up_again(engine) -> None:  # type: ignore[no-untyped-def]
    async def run(verb: str, revision: str) -> set[str]:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: getattr(command, verb)(alembic_config(c), revision))
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))

    assert not {"coach_passkey", "passkey_challenge"} & await run("downgrade", "0016")
    assert {"coach_passkey", "passkey_challenge"} <= await run("upgrade", "1600")
