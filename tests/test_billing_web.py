"""The billing pages over HTTP: practice, products, an engagement's package and payer, a
reply's minutes, the monthly run and its downloads; CSRF; clear refusals; and a coach who
never reaches another coach's billing."""

from __future__ import annotations

import io
import re
import zipfile
from html import unescape
from urllib.parse import quote

import pytest

from tests.billing_support import BUNDLE, COACHEE_ADDRESS, PRACTICE, SPONSOR, add_practice, add_product, sell
from tests.booking_support import setup
from tests.invoicing_support import xsd_errors
from tests.moments import local_now
from tests.support import app_client, csrf_of, login, seed, settings_for

FINGERPRINT = re.compile(r'name="fingerprint" value="([0-9a-f]+)"')
PDF_LINK = re.compile(r'href="/billing/invoices/(\d+)\.pdf"')


def _month(clock) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """The coach's (Amsterdam) month as YYYY-MM and its year, at the clock's moment."""
    local = local_now(clock)
    return f"{local:%Y-%m}", local.year


async def _post(client, path: str, data: dict[str, str], page: str | None = None):  # type: ignore[no-untyped-def]
    token = await csrf_of(client, page or path)
    return await client.post(path, data={"_csrf": token, **data}, allow_redirects=False)


@pytest.mark.awkward_clock
async def test_a_month_from_practice_to_downloads_over_http(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    M, Y = _month(clock)  # the coach's month, at the test's moment
    a = await seed(db_url, clock.now(), email="ella@example.org", language="en")
    b = await seed(db_url, clock.now(), email="other@example.org")
    eid = a["engagement_id"]
    async with app_client(settings_for(db_url), clock) as client, app_client(settings_for(db_url), clock) as other:
        await login(client, a["email"])
        refused = await _post(client, "/billing/practice", {**PRACTICE, "iban": "NL00 BANK 0000 0000 00"})
        assert refused.status == 400 and "is not a valid IBAN" in await refused.text()
        assert (await _post(client, "/billing/practice", PRACTICE)).status == 303
        assert "Coachpraktijk Ëlla Smit" in await (await client.get("/billing/practice")).text()
        empty = await _post(client, "/billing/products", {**BUNDLE, "sessions": "", "minutes": ""})
        assert empty.status == 400 and "A bundle holds sessions" in await empty.text()
        assert (await _post(client, "/billing/products", BUNDLE)).status == 303
        page = await (await client.get(f"/engagements/{eid}/billing")).text()
        product = re.search(r'<option value="(\d+)"[^>]*>Bundel', page).group(1)  # type: ignore[union-attr]
        billing = f"/engagements/{eid}/billing"
        assert (await _post(client, f"{billing}/plan", {"product": product}, billing)).status == 303
        bad_postcode = await _post(client, f"{billing}/payer", {**COACHEE_ADDRESS, "payer": "coachee",
                                                                "postal_code": "12345"}, billing)
        assert bad_postcode.status == 400 and "is not a Dutch postal code" in await bad_postcode.text()
        assert (await _post(client, f"{billing}/payer", {**COACHEE_ADDRESS, "payer": "coachee"}, billing)).status == 303
        # A reply with the coach's minutes (the form without JavaScript): 50 of 60 minutes, low.
        reply = await _post(client, f"/engagements/{eid}/messages",
                            {"text": "Mooi werk deze week.", "channel": "chat", "client_id": "reply-web-0001",
                             "minutes": "50"}, f"/engagements/{eid}")
        assert reply.status == 303
        bad = await _post(client, f"/engagements/{eid}/messages", {"text": "x", "channel": "chat",
                                                                  "client_id": "reply-web-0002", "minutes": "-5"},
                          f"/engagements/{eid}")
        assert bad.status == 400 and "whole number of minutes" in await bad.text()
        engagement_page = unescape(await (await client.get(f"/engagements/{eid}")).text())
        assert 'name="minutes"' in engagement_page and "10 of 60 minutes of written coaching left" in engagement_page
        assert "This package is running low." in engagement_page
        # The month: preview, issue, downloads.
        month = await (await client.get(f"/billing/invoices?month={M}")).text()
        assert "Noël Jansen-Çelik" in month
        fingerprint = FINGERPRINT.search(month).group(1)  # type: ignore[union-attr]
        issued = await _post(client, "/billing/invoices/issue", {"month": M, "fingerprint": fingerprint},
                             f"/billing/invoices?month={M}")
        assert issued.status == 303
        again = await _post(client, "/billing/invoices/issue", {"month": M, "fingerprint": fingerprint},
                            f"/billing/invoices?month={M}")
        assert again.status == 409 and "has changed since you looked" in await again.text()
        month = await (await client.get(f"/billing/invoices?month={M}")).text()
        invoice_id = PDF_LINK.search(month).group(1)  # type: ignore[union-attr]
        xml = await client.get(f"/billing/invoices/{invoice_id}.xml")
        assert xml.headers["Content-Disposition"].startswith(f'attachment; filename="{Y}-0001.xml"')
        assert xsd_errors(await xml.read()) == []
        pdf = await client.get(f"/billing/invoices/{invoice_id}.pdf")
        assert pdf.content_type == "application/pdf" and (await pdf.read()).startswith(b"%PDF")
        csv = await client.get(f"/billing/months/{M}.csv")
        assert csv.content_type == "text/csv" and f"{Y}-0001" in (await csv.read()).decode("utf-8-sig")
        archive = zipfile.ZipFile(io.BytesIO(await (await client.get(f"/billing/months/{M}.zip")).read()))
        assert archive.namelist() == [f"{Y}-0001.xml", f"invoices-{M}.csv"]
        assert (await client.get("/billing/months/2026-13.csv")).status == 400
        assert (await client.get(f"/billing/months/{M}.csv?client=../../x")).status == 400
        # Without the form's CSRF token: refused.
        forged = await client.post(f"/billing/invoices/{invoice_id}/credit", data={}, allow_redirects=False)
        assert forged.status == 403

        # Another coach reaches none of it.
        await login(other, b["email"])
        for path in (f"/billing/invoices/{invoice_id}.pdf", f"/billing/invoices/{invoice_id}.xml",
                     f"/engagements/{eid}/billing"):
            assert (await other.get(path)).status == 404, path
        assert (await _post(other, f"/billing/invoices/{invoice_id}/credit", {}, "/billing/invoices")).status == 404
        assert (await _post(other, f"/engagements/{eid}/billing/plan", {"product": product},
                            "/billing/invoices")).status == 404
        assert f"{Y}-0001" not in (await (await other.get(f"/billing/months/{M}.csv")).read()).decode("utf-8-sig")
        assert "Noël" not in await (await other.get(f"/billing/invoices?month={M}")).text()
        mine = f"/engagements/{b['engagement_id']}/billing"
        assert (await _post(other, f"{mine}/plan", {"product": product}, mine)).status == 404  # A's product

        # The credit note, asked for on the page (the form's confirmation is in a <details>).
        credited = await _post(client, f"/billing/invoices/{invoice_id}/credit", {}, f"/billing/invoices?month={M}")
        assert credited.status == 303 and credited.headers["Location"].endswith("done=credited")
        month = await (await client.get(f"/billing/invoices?month={M}")).text()
        assert f"{Y}-0002" in month and "credited" in month


@pytest.mark.awkward_clock
async def test_a_sponsor_pays_for_two_engagements_on_one_invoice(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    M, Y = _month(clock)  # the coach's month, at the test's moment
    coach = await make_coach(email="ella@example.org", language="en")
    await add_practice(sessions, coach, clock.now())
    product = await add_product(sessions, coach, clock.now(), {**BUNDLE, "minutes": "0", "sessions": "5"})
    first = (await make_engagement(coach, coachee_name="Bram")).engagement
    second = (await make_engagement(coach, coachee_name="Cees")).engagement
    billed = await sell(sessions, coach, first.id, product, clock.now(), payer=SPONSOR, organisation=True)
    await sell(sessions, coach, second.id, product, clock.now(), payer=None)
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, "ella@example.org")
        page = f"/engagements/{second.id}/billing"
        assert "Zorggroep De Linde B.V." in await (await client.get(page)).text()
        chosen = await _post(client, f"{page}/payer", {"payer": "organisation", "client": str(billed.plan.client_id)},
                             page)
        assert chosen.status == 303
        month = await (await client.get(f"/billing/invoices?month={M}")).text()
    assert month.count("Zorggroep De Linde B.V.") == 1 and month.count("<li>Bundel") == 2


async def test_the_booking_page_says_plainly_when_the_package_is_used_up(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    await add_practice(sessions, s.coach, clock.now(), refuse_when_used_up="on")
    product = await add_product(sessions, s.coach, clock.now(), {**BUNDLE, "sessions": "1"})
    await sell(sessions, s.coach, s.engagement_ids[0], product, clock.now())
    path = f"/book/{s.tokens[0]}"
    async with app_client(settings_for(db_url, public_url="http://127.0.0.1:8080"), clock) as client:
        page = await (await client.get(path)).text()
        starts = re.findall(r'<a class="slot" [^>]*data-start="([^"]+)"', page)
        type_id = re.search(r'href="\?type=(\d+)&', page).group(1)  # type: ignore[union-attr]
        booked = await _post(client, path, {"type": type_id, "start": unescape(starts[-1]), "zone": "Europe/Amsterdam"},
                             page=f"{path}?type={type_id}&start={quote(unescape(starts[-1]))}")
        assert booked.status == 303
        # Neither the times (step 1) nor a picked time's summary (step 2) is offered any more.
        page = unescape(await (await client.get(path)).text())
        assert "De sessies van uw coachingpakket zijn op" in page and "data-start=" not in page
        summary = unescape(await (await client.get(path, params={"type": type_id, "start": unescape(starts[0])})).text())
        assert "De sessies van uw coachingpakket zijn op" in summary and 'name="start"' not in summary
        login_page = await (await client.get("/login")).text()
        token = re.search(r'name="_csrf" value="([^"]+)"', login_page).group(1)  # type: ignore[union-attr]
        refused = await client.post(path, data={"_csrf": token, "type": type_id, "start": unescape(starts[0]),
                                                "zone": "Europe/Amsterdam"}, allow_redirects=False)
        assert refused.status == 409
        assert "De sessies van uw coachingpakket zijn op" in unescape(await refused.text())
