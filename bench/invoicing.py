"""Invoicing: a month-end run for a practice, and the cost of each document.

    .venv/bin/python bench/invoicing.py [--clients 200] [--sessions 4]

Builds billable items for ``--clients`` clients (``--sessions`` sessions each plus eight
short written replies that combine into one line), groups them into monthly invoices,
then times per invoice: the amounts, the UBL, the PDF; and the whole month's CSV.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from decimal import Decimal

from common import summary  # type: ignore[import-not-found]

from ecoach.core.invoicing import (
    Address, BillableItem, Client, Seller, Unit, Vat, compute, monthly_invoices, to_csv, to_pdf, to_ubl,
)


def _items(clients: int, sessions: int) -> list[BillableItem]:
    items = []
    for n in range(clients):
        client = Client(f"C-{n:05d}", f"Coachee {n}", Address(f"Straat {n}", "3511 AB", "Utrecht"),
                        language="nl" if n % 3 else "en")
        vat = Vat.standard(21) if n % 2 else Vat.exempt("Vrijgesteld (art. 11 lid 1 o Wet OB)")
        for s in range(sessions):
            items.append(BillableItem(client, date(2026, 11, 1 + s * 7), "Coachsessie", Decimal(1), Unit.piece,
                                      Decimal("95.00"), vat))
        for r in range(8):
            items.append(BillableItem(client, date(2026, 11, 2 + r * 3), "Schriftelijke coaching", Decimal(7 + r),
                                      Unit.minute, Decimal("80"), vat, base_quantity=Decimal(60), combine="w"))
    return items


def _timed(fn, values) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for value in values:
        start = time.perf_counter()
        fn(value)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=4)
    args = parser.parse_args()
    seller = Seller("Coachpraktijk Bench", Address("Oudegracht 1", "3511 AB", "Utrecht"), "12345678",
                    "NL000099998B57", "NL91ABNA0417164300", "bench@example.nl")
    items = _items(args.clients, args.sessions)
    numbers = iter(range(1, 10**6))
    start = time.perf_counter()
    invoices = monthly_invoices(items, seller=seller, issue_date=date(2026, 12, 1),
                                next_number=lambda: f"2026-{next(numbers):05d}")
    grouping = (time.perf_counter() - start) * 1000
    print(f"{len(items)} items -> {len(invoices)} invoices, grouping {grouping:.1f} ms")
    print(f"amounts  {summary(_timed(compute, invoices))}")
    print(f"UBL      {summary(_timed(to_ubl, invoices))}")
    print(f"PDF      {summary(_timed(to_pdf, invoices))}")
    start = time.perf_counter()
    data = to_csv(invoices)
    print(f"CSV      {(time.perf_counter() - start) * 1000:.1f} ms for the month ({len(data)} bytes)")


if __name__ == "__main__":
    main()
