"""Monthly invoices from billable items: one per client and month, numbered in order."""

from __future__ import annotations

from datetime import date
from itertools import count

import pytest

from ecoach.core.invoicing import (
    BillableItem,
    InvoiceError,
    Line,
    Unit,
    Vat,
    compute,
    credit_note_for,
    monthly_invoices,
    to_csv,
    to_ubl,
)
from tests.invoicing_support import EXEMPT_REASON, ISSUED, D, coachee, practice, sponsor, xsd_errors
from tests.ubl_rules import check


def _numbers() -> tuple[list[str], object]:
    taken: list[str] = []
    counter = count(1)

    def next_number() -> str:
        taken.append(f"2026-{next(counter):04d}")
        return taken[-1]

    return taken, next_number


def _session(client, day: date, price: str = "95.00", vat: Vat | None = None) -> BillableItem:  # type: ignore[no-untyped-def]
    return BillableItem(client, day, "Coachsessie", D("1"), Unit.piece, D(price), vat or Vat.standard(21))


def _minutes(client, day: date, minutes: str) -> BillableItem:  # type: ignore[no-untyped-def]
    return BillableItem(client, day, "Schriftelijke coaching", D(minutes), Unit.minute, D("80"),
                        Vat.standard(21), base_quantity=D("60"), combine="written")


def test_one_invoice_per_client_and_month_in_a_stable_order() -> None:
    anna, bert = coachee(number="C-2", name="Anna"), sponsor(number="S-1", name="Bert B.V.")
    items = [_session(bert, date(2026, 11, 20)), _session(anna, date(2026, 11, 3)),
             _session(anna, date(2026, 10, 28)), _minutes(anna, date(2026, 11, 5), "12"),
             _minutes(anna, date(2026, 11, 25), "33"), _session(anna, date(2026, 11, 17), "120.00",
                                                             Vat.exempt(EXEMPT_REASON))]
    taken, next_number = _numbers()
    invoices = monthly_invoices(items, seller=practice(), issue_date=ISSUED, next_number=next_number)
    assert [(i.number, i.client.name, i.period_start) for i in invoices] == [
        ("2026-0001", "Anna", date(2026, 10, 1)),
        ("2026-0002", "Anna", date(2026, 11, 1)),
        ("2026-0003", "Bert B.V.", date(2026, 11, 1)),
    ]
    november = invoices[1]
    assert (november.period_end, november.due_date) == (date(2026, 11, 30), date(2026, 12, 15))
    # 45 minutes of written coaching in one line, spanning the days it covers; lines by date
    assert [(ln.description, ln.quantity, ln.start, ln.end) for ln in november.lines] == [
        ("Coachsessie", D("1"), date(2026, 11, 3), date(2026, 11, 3)),
        ("Schriftelijke coaching", D("45"), date(2026, 11, 5), date(2026, 11, 25)),
        ("Coachsessie", D("1"), date(2026, 11, 17), date(2026, 11, 17)),
    ]
    assert compute(november).payable == D("95.00") * D("1.21") + D("60.00") * D("1.21") + D("120.00")
    for item in invoices:
        xml = to_ubl(item)
        assert xsd_errors(xml) == [] and check(xml) == []
    assert to_csv(invoices)  # the month's bookkeeping export in one file


def test_a_bad_item_stops_the_run_before_any_number_is_taken() -> None:
    anna = coachee()
    items = [_session(anna, date(2026, 11, 3)),
             BillableItem(sponsor(), date(2026, 11, 4), "Korting", D("-2"), Unit.piece, D("95"), Vat.standard(21))]
    taken, next_number = _numbers()
    with pytest.raises(InvoiceError) as caught:
        monthly_invoices(items, seller=practice(), issue_date=ISSUED, next_number=next_number)
    assert caught.value.code == "negative_total"
    assert taken == []


def test_one_client_number_with_two_different_clients_is_refused() -> None:
    items = [_session(coachee(), date(2026, 11, 3)), _session(coachee(name="Someone else"), date(2026, 11, 4))]
    with pytest.raises(InvoiceError) as caught:
        monthly_invoices(items, seller=practice(), issue_date=ISSUED, next_number=lambda: "x")
    assert caught.value.code == "client_changed" and "C-0042" in str(caught.value)


def test_items_with_a_different_price_stay_separate_lines() -> None:
    anna = coachee()
    items = [_minutes(anna, date(2026, 11, 5), "10"),
             BillableItem(anna, date(2026, 11, 6), "Schriftelijke coaching", D("10"), Unit.minute, D("90"),
                          Vat.standard(21), base_quantity=D("60"), combine="written")]
    [single] = monthly_invoices(items, seller=practice(), issue_date=ISSUED, next_number=lambda: "1")
    assert [ln.unit_price for ln in single.lines] == [D("80"), D("90")]


def test_no_items_no_invoices() -> None:
    assert monthly_invoices([], seller=practice(), issue_date=ISSUED, next_number=lambda: "1") == []


def test_credit_note_for_a_whole_invoice_or_some_lines() -> None:
    [original] = monthly_invoices([_session(sponsor(), date(2026, 11, 3)), _session(sponsor(), date(2026, 11, 9))],
                                  seller=practice(), issue_date=ISSUED, next_number=lambda: "2026-0050")
    whole = credit_note_for(original, number="2026-C01", issue_date=date(2026, 12, 3))
    assert compute(whole).payable == compute(original).payable
    part = credit_note_for(original, number="2026-C02", issue_date=date(2026, 12, 3),
                           lines=[Line("Geannuleerde sessie 9 november", D("1"), Unit.piece, D("95"),
                                       Vat.standard(21))])
    assert compute(part).payable == D("114.95")
    for note in (whole, part):
        xml = to_ubl(note)
        assert xsd_errors(xml) == [] and check(xml) == []
    with pytest.raises(InvoiceError):
        credit_note_for(whole, number="x", issue_date=date(2026, 12, 4))
