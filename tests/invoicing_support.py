"""Practices, clients and invoices for the invoicing tests, and the vendored UBL schema."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

from lxml import etree

from ecoach.core.invoicing import Address, Client, Invoice, Line, Seller, Unit, Vat, credit_note_for

UBL_DIR = Path(__file__).resolve().parent / "ubl21"
D = Decimal
ISSUED = date(2026, 12, 1)
DUE = date(2026, 12, 15)
EXEMPT_REASON = "Vrijgesteld van btw op grond van art. 11, lid 1, onderdeel o, Wet OB 1968 (CRKBO)"


@cache
def ubl_schema(kind: str = "Invoice") -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(UBL_DIR / "maindoc" / f"UBL-{kind}-2.1.xsd"), parser))


def xsd_errors(xml: bytes) -> list[str]:
    document = etree.fromstring(xml)
    schema = ubl_schema(etree.QName(document).localname)
    schema.validate(document)
    return [f"{e.line}: {e.message}" for e in schema.error_log]


def practice(**changes: object) -> Seller:
    values: dict[str, object] = dict(
        name="Coachpraktijk Ëlla Smit", address=Address("Oudegracht 12a", "3511 AB", "Utrecht"),
        kvk="12345678", vat_number="NL000099998B57", iban="NL91 ABNA 0417 1643 00",
        email="ella@coachpraktijk.example", trade_name="Coaching met Inzicht", phone="+31 30 123 4567")
    values.update(changes)
    return Seller(**values)  # type: ignore[arg-type]


def coachee(**changes: object) -> Client:
    values: dict[str, object] = dict(number="C-0042", name="Noël Jansen-Çelik",
                                     address=Address("Laan van Ïnsulinde 3", "2512 ab", "Den Haag"),
                                     email="noel@example.nl")
    values.update(changes)
    return Client(**values)  # type: ignore[arg-type]


def sponsor(**changes: object) -> Client:
    values: dict[str, object] = dict(
        number="S-0007", name="Zorggroep De Linde B.V.", organisation=True, kvk="87654321",
        vat_number="NL000099998B57", contact="Afdeling P&O, t.a.v. mevr. De Boer",
        address=Address("Postbus 100", "1000 AA", "Amsterdam"), reference="KP-4711",
        order_reference="PO-2026-118", email="crediteuren@delinde.example")
    values.update(changes)
    return Client(**values)  # type: ignore[arg-type]


def belgian_sponsor() -> Client:
    return Client(number="S-0009", name="Bruxelles Conseil SA", organisation=True,
                  vat_number="BE0403170701", address=Address("Rue de la Loi 16", "1000", "Bruxelles", "BE"),
                  language="en")


def session(price: str = "95.00", vat: Vat | None = None, day: int = 3, text: str = "Coachsessie (video)") -> Line:
    return Line(text, D("1"), Unit.piece, D(price), vat or Vat.standard(21), start=date(2026, 11, day))


def written(minutes: str, vat: Vat | None = None, per_hour: str = "80.00") -> Line:
    return Line("Schriftelijke coaching", D(minutes), Unit.minute, D(per_hour), vat or Vat.standard(21),
                base_quantity=D("60"), start=date(2026, 11, 1), end=date(2026, 11, 30))


def invoice(lines: list[Line], client: Client | None = None, number: str = "2026-0101", **changes: object) -> Invoice:
    values: dict[str, object] = dict(number=number, issue_date=ISSUED, seller=practice(),
                                     client=client or sponsor(), lines=tuple(lines), due_date=DUE,
                                     period_start=date(2026, 11, 1), period_end=date(2026, 11, 30))
    values.update(changes)
    return Invoice(**values)  # type: ignore[arg-type]


def scenarios() -> dict[str, Invoice]:
    """Invoices that cover the VAT mixes, parties and rounding a practice meets."""
    exempt = Vat.exempt(EXEMPT_REASON)
    mixed = invoice([session(), session("49.99", Vat.standard(9), 10, "Werkboek 'Grip op stress'"),
                     written("45"), session("120.00", exempt, 17, "Loopbaancoaching (CRKBO)")])
    found = {
        "sponsor_21_only": invoice([session(), session(day=10), written("95")]),
        "sponsor_21_9_exempt": mixed,
        "coachee_exempt_only": invoice([session("85.00", exempt), session("85.00", exempt, 24)], coachee()),
        "coachee_21_and_9": invoice([session(), Line("Boek", D("2"), Unit.piece, D("24.95"), Vat.standard(9))],
                                    coachee(language="en")),
        "eu_reverse_charge": invoice([session("150.00", Vat.reverse_charge()), written("30", Vat.reverse_charge())],
                                     belgian_sponsor()),
        "rounding_cents": invoice([Line("Kort consult", D("1"), Unit.piece, D("0.07"), Vat.standard(21))
                                   for _ in range(3)] + [written("7"), written("1", Vat.standard(9), "0.50")]),
        "negative_line": invoice([session(), Line("Korting bundel", D("-1"), Unit.piece, D("10.00"),
                                                  Vat.standard(21))]),
        "hostile_text": invoice([session(text="<b>Sessie</b> & \"quotes\" 'apos' ]]> \x00\x07\x1b[31m"
                                              "\u202e € ë ï\n=cmd|' /C calc'!A0")], coachee(
            name="Robert'); DROP TABLE clients;-- <x>", number="=1+1")),
        "credit_note": credit_note_for(mixed, number="2026-C001", issue_date=date(2026, 12, 5)),
        "zero_rated_and_21": invoice([session("40.00", Vat.zero(), text="Export van werkboeken"), session()]),
        "monthly_subscription": invoice([Line("Abonnement mailcoaching (3 maanden)", D("1"), Unit.month,
                                              D("249.00"), Vat.standard(21), start=date(2026, 11, 1),
                                              end=date(2026, 11, 30))], coachee()),
    }
    # Distinct numbers (the mixed one keeps 2026-0101: the credit note credits it).
    return {name: item if item is mixed or item.is_credit_note else replace(item, number=f"2026-{200 + n}")
            for n, (name, item) in enumerate(found.items())}
