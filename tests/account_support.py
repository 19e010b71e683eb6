"""Helpers for account tests: TOTP codes from the setup page, 2FA set up, mail links."""

from __future__ import annotations

import html
import re
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

import pyotp
from aiohttp.test_utils import TestClient

from tests.support import PASSWORD, csrf_of

SECRET = re.compile(r'<code class="secret">([A-Z2-7 ]+)</code>')
CODES = re.compile(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>")
LINK = re.compile(r"(https?://\S+/(?:password/reset|invite)/[A-Za-z0-9_-]+)")


def code(secret: str, now: Any, steps: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(now) + steps)


async def setup_2fa(client: TestClient, now: Any) -> tuple[str, list[str]]:
    """Turn 2FA on through the pages; returns the secret and the recovery codes."""
    page = await (await client.get("/account/2fa")).text()
    secret = SECRET.search(page)
    assert secret, page[:2000]
    plain = secret.group(1).replace(" ", "")
    response = await client.post("/account/2fa", data={"_csrf": await csrf_of(client, "/account/2fa"),
                                                       "code": code(plain, now)})
    assert response.status == 200, await response.text()
    codes = CODES.findall(await response.text())
    assert len(codes) == 10
    return plain, codes


async def password_step(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    token = await csrf_of(client, "/login")
    return await client.post("/login", allow_redirects=False,
                             data={"_csrf": token, "email": email, "password": password, "next": "/"})


async def code_step(client: TestClient, value: str) -> Any:
    token = await csrf_of(client, "/login/2fa")
    return await client.post("/login/2fa", allow_redirects=False, data={"_csrf": token, "code": value, "next": "/"})


def mail_text(raw: bytes) -> str:
    message = message_from_bytes(raw, policy=default_policy)
    part = message.get_body(("plain",))
    return part.get_content() if part is not None else ""  # type: ignore[union-attr]


def link_in(raw: bytes) -> str:
    found = LINK.search(mail_text(raw))
    assert found, mail_text(raw)
    return html.unescape(found.group(1))
