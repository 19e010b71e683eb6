"""The amounts of an invoice, computed once and shared by UBL, CSV and PDF.

EN 16931 order of calculation (and so the rounding rules):

1. Line net amount (BT-131) = quantity × price / base quantity, rounded to cents.
2. Per VAT category and rate (BG-23): taxable amount (BT-116) = the sum of its line net
   amounts; VAT (BT-117) = taxable × rate / 100, rounded to cents. VAT is computed on
   the breakdown, never summed from rounded line VAT.
3. Totals: net (BT-106 = BT-109) = Σ line nets; VAT (BT-110) = Σ breakdown VAT;
   gross (BT-112) = net + VAT; payable (BT-115) = gross.

Rounding is half up (0.005 → 0.01), away from zero for negative lines.

A bookkeeping export wants VAT per line, and its sum must equal the breakdown's VAT:
each line gets its exact share rounded, and the cents the rounding lost or gained are
handed out by largest remainder, so Σ line VAT = BT-117 to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ecoach.core.invoicing.errors import N_, InvoiceError
from ecoach.core.invoicing.model import Invoice, Line, Vat, VatCategory

CENT = Decimal("0.01")
HUNDRED = Decimal("100")


def money(value: Decimal) -> Decimal:
    """Rounded to cents, half up (half away from zero)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_net(line: Line) -> Decimal:
    return money(line.quantity * line.unit_price / line.base_quantity)


@dataclass(frozen=True)
class LineAmounts:
    line: Line
    net: Decimal
    vat: Decimal  # this line's share of its breakdown's VAT (for bookkeeping)

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


@dataclass(frozen=True)
class VatBreakdown:
    vat: Vat
    taxable: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Totals:
    lines: tuple[LineAmounts, ...]
    breakdown: tuple[VatBreakdown, ...]  # sorted: standard rates high to low, then the rest
    net: Decimal
    vat: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat

    @property
    def payable(self) -> Decimal:
        return self.gross


def _share(nets: list[Decimal], rate: Decimal, tax: Decimal) -> list[Decimal]:
    """Split ``tax`` over lines in proportion to their nets, to the cent, summing exactly."""
    exact = [net * rate / HUNDRED for net in nets]
    shares = [money(e) for e in exact]
    left = int((tax - sum(shares, Decimal("0"))) / CENT)
    step = CENT if left > 0 else -CENT
    # Largest remainder first: the line whose rounding lost (or gained) the most moves.
    order = sorted(range(len(nets)), key=lambda i: (exact[i] - shares[i]) * (1 if left > 0 else -1),
                   reverse=True)
    for i in order[: abs(left)]:
        shares[i] += step
    return shares


def _breakdown_order(vat: Vat) -> tuple[int, Decimal]:
    position = {VatCategory.standard: 0, VatCategory.zero: 1, VatCategory.exempt: 2,
                VatCategory.reverse_charge: 3}
    return (position[vat.category], -vat.rate)


def compute(invoice: Invoice) -> Totals:
    """Every amount of ``invoice``, after checking the rules that need the whole of it."""
    check_invoice(invoice)
    nets = [line_net(line) for line in invoice.lines]
    groups: dict[tuple[str, Decimal], list[int]] = {}
    for index, line in enumerate(invoice.lines):
        groups.setdefault(line.vat.key, []).append(index)
    vat_of_line = [Decimal("0")] * len(nets)
    breakdown = []
    for indexes in groups.values():
        vat = invoice.lines[indexes[0]].vat
        taxable = sum((nets[i] for i in indexes), Decimal("0"))
        tax = money(taxable * vat.rate / HUNDRED)
        for i, share in zip(indexes, _share([nets[i] for i in indexes], vat.rate, tax), strict=True):
            vat_of_line[i] = share
        breakdown.append(VatBreakdown(vat, taxable, tax))
    breakdown.sort(key=lambda b: _breakdown_order(b.vat))
    totals = Totals(
        lines=tuple(LineAmounts(line, net, tax)
                    for line, net, tax in zip(invoice.lines, nets, vat_of_line, strict=True)),
        breakdown=tuple(breakdown),
        net=sum(nets, Decimal("0")),
        vat=sum((b.tax for b in breakdown), Decimal("0")),
    )
    if totals.payable < 0:
        raise InvoiceError("negative_total", N_("The total is negative: make a credit note instead."))
    return totals


def check_invoice(invoice: Invoice) -> None:
    """The rules that need the whole invoice; each failure names what to change."""
    if not invoice.lines:
        raise InvoiceError("no_lines", N_("An invoice needs at least one line."))
    if invoice.due_date is None and not invoice.is_credit_note:
        raise InvoiceError("due_date", N_("An invoice needs a due date."))
    if invoice.due_date is not None and invoice.due_date < invoice.issue_date:
        raise InvoiceError("due_date", N_("The due date cannot be before the invoice date."))
    if (invoice.period_start is None) != (invoice.period_end is None):
        raise InvoiceError("period", N_("A period needs both its first and its last day."))
    if invoice.period_start and invoice.period_end and invoice.period_end < invoice.period_start:
        raise InvoiceError("period", N_("A period cannot end before it starts."))
    if invoice.is_credit_note and invoice.credited is None:
        raise InvoiceError("credited", N_("A credit note names the invoice it credits."))
    if not invoice.is_credit_note and invoice.credited is not None:
        raise InvoiceError("credited", N_("Only a credit note credits another invoice."))
    _check_reasons(invoice)


def _check_reasons(invoice: Invoice) -> None:
    # The reason is printed once per VAT breakdown (BT-120), so one reason per category.
    for category in (VatCategory.exempt, VatCategory.reverse_charge):
        reasons = {line.vat.exemption_reason for line in invoice.lines if line.vat.category is category}
        if len(reasons) > 1:
            raise InvoiceError("vat_reason", N_("All exempt (or reverse-charged) lines of one invoice "
                                                "share one reason."))
    if any(line.vat.category is VatCategory.reverse_charge for line in invoice.lines):
        if not invoice.client.vat_number:
            raise InvoiceError("reverse_charge", N_("Reverse-charged VAT needs the client's VAT number."))
        if invoice.client.address.country == invoice.seller.address.country:
            raise InvoiceError("reverse_charge", N_("VAT is reverse-charged only for a client in "
                                                    "another country."))
