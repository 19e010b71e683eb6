"""Bad invoice input is refused with a specific, translatable message."""

from __future__ import annotations

import ast
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ecoach.core.i18n import gettext_for
from ecoach.core.invoicing import (
    Address,
    Client,
    InvoiceError,
    Line,
    Unit,
    Vat,
    VatCategory,
    clean_text,
    compute,
)
from tests.invoicing_support import EXEMPT_REASON, D, belgian_sponsor, coachee, invoice, practice, session


@pytest.mark.parametrize(("build", "code"), [
    (lambda: practice(kvk="1234567"), "kvk"),
    (lambda: practice(kvk=""), "missing"),
    (lambda: practice(iban="NL91ABNA0417164301"), "iban"),
    (lambda: practice(vat_number="NL123456789B99"), "vat_number"),
    (lambda: practice(email="not a mail"), "email"),
    (lambda: Address("Straat 1", "12345", "Utrecht"), "postal_code"),
    (lambda: Address("Straat 1", "1234 AB", "Utrecht", "Nederland"), "country"),
    (lambda: Address(" \x00 ", "1234 AB", "Utrecht"), "missing"),
    (lambda: Vat.standard(19), "vat_rate"),
    (lambda: Vat(VatCategory.exempt, Decimal("0")), "vat_reason"),
    (lambda: Vat(VatCategory.exempt, Decimal("9"), EXEMPT_REASON), "vat_rate"),
    (lambda: Vat(VatCategory.standard, Decimal("21"), "why"), "vat_reason"),
    (lambda: Line("x", 0.1, Unit.piece, D("1"), Vat.standard()), "not_decimal"),  # type: ignore[arg-type]
    (lambda: Line("x", D("1"), Unit.piece, D("NaN"), Vat.standard()), "not_decimal"),
    (lambda: Line("x", D("1"), Unit.piece, "tien", Vat.standard()), "not_decimal"),  # type: ignore[arg-type]
    (lambda: Line("x", D("1"), Unit.piece, D("-5"), Vat.standard()), "price"),
    (lambda: Line("x", D("1"), Unit.minute, D("80"), Vat.standard(), base_quantity=D("0")), "base_quantity"),
    (lambda: Line("\x07", D("1"), Unit.piece, D("1"), Vat.standard()), "missing"),
    (lambda: Line("x", D("1"), Unit.piece, D("1"), Vat.standard(), start=date(2026, 11, 5),
                  end=date(2026, 11, 4)), "period"),
    (lambda: coachee(kvk="12345678"), "client_kind"),
    (lambda: coachee(language="de"), "language"),
])
def test_bad_parts_are_refused(build, code: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvoiceError) as caught:
        build()
    assert caught.value.code == code


@pytest.mark.parametrize(("changes", "code"), [
    ({"lines": None}, "no_lines"),
    ({"due_date": None}, "due_date"),
    ({"due_date": date(2026, 11, 30)}, "due_date"),
    ({"period_end": None}, "period"),
    ({"period_start": date(2026, 12, 1)}, "period"),
])
def test_bad_invoices_are_refused(changes: dict, code: str) -> None:
    with pytest.raises(InvoiceError) as caught:
        changes = dict(changes)
        lines = [] if changes.pop("lines", "") is None else [session()]
        compute(invoice(lines, **changes))
    assert caught.value.code == code


def test_vat_rules_that_need_the_whole_invoice() -> None:
    with pytest.raises(InvoiceError, match="share one reason"):
        compute(invoice([session(vat=Vat.exempt("art. 11 lid 1 g")), session(vat=Vat.exempt("KOR"))]))
    with pytest.raises(InvoiceError, match="client's VAT number"):
        compute(invoice([session(vat=Vat.reverse_charge())], Client(
            "S-9", "Firma", Address("Rue 1", "1000", "Bruxelles", "BE"), organisation=True)))
    with pytest.raises(InvoiceError, match="another country"):
        compute(invoice([session(vat=Vat.reverse_charge())]))
    with pytest.raises(InvoiceError, match="credit note instead"):
        compute(invoice([Line("Korting", D("-1"), Unit.piece, D("10"), Vat.standard())]))
    assert compute(invoice([session(vat=Vat.reverse_charge())], belgian_sponsor())).vat == 0


def test_messages_are_translated_to_dutch() -> None:
    with pytest.raises(InvoiceError) as caught:
        Address("", "1234 AB", "Utrecht")
    assert caught.value.translated(gettext_for("nl")) == "Straat ontbreekt."
    assert caught.value.translated(gettext_for("en")) == "Street is missing."
    with pytest.raises(InvoiceError) as caught:
        practice(kvk="123")
    assert caught.value.translated(gettext_for("nl")) == "Een KvK-nummer heeft 8 cijfers, niet 123."


def test_input_is_normalised() -> None:
    seller = practice(iban="nl91 abna 0417 1643 00", vat_number="nl 0000.99998.B57", kvk="1234 5678")
    assert (seller.iban, seller.vat_number, seller.kvk) == ("NL91ABNA0417164300", "NL000099998B57", "12345678")
    assert coachee().address.postal_code == "2512 AB"
    assert Address("Rue 1", "1000", "Bruxelles", "be").country == "BE"
    assert clean_text("  a\x00b \u202e\r\n c\ufffe ") == "ab \u202e c"
    assert clean_text("a\r\nb\rc", multiline=True) == "a\nb\nc"
    assert Line("x", "2.50", Unit.hour, "80", Vat.standard()).quantity == D("2.50")  # type: ignore[arg-type]


def test_the_invoicing_core_imports_nothing_of_ecoach_outside_core() -> None:
    package = Path(__file__).resolve().parents[1] / "ecoach" / "core" / "invoicing"
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [
                alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                assert not name.startswith("ecoach") or name.startswith("ecoach.core"), (module.name, name)
