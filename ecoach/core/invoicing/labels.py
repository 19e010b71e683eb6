"""Words on the PDF and in the CSV header, in English and marked for translation
(catalogue ``invoicing.po``), and the number and date formats of each language."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from ecoach.core.i18n import gettext_for
from ecoach.core.invoicing.errors import N_
from ecoach.core.invoicing.model import DocumentKind, Unit, VatCategory

LOCALES = {"nl": "nl_NL", "en": "en_GB"}

UNIT_NAMES = {
    Unit.piece: N_("unit"),
    Unit.hour: N_("hour"),
    Unit.minute: N_("minute"),
    Unit.month: N_("month"),
}
UNIT_SHORT = {Unit.piece: "", Unit.hour: N_("h"), Unit.minute: N_("min"), Unit.month: N_("mo")}
VAT_NAMES = {
    VatCategory.standard: N_("standard"),
    VatCategory.zero: N_("zero rate"),
    VatCategory.exempt: N_("exempt"),
    VatCategory.reverse_charge: N_("reverse charge"),
}
DOCUMENT_NAMES = {DocumentKind.invoice: N_("Invoice"), DocumentKind.credit_note: N_("Credit note")}


class Words:
    """Translation and formatting for one language."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LOCALES else "en"
        self.locale = LOCALES[self.language]
        self._ = gettext_for(self.language)

    def gettext(self, message: str, **params: object) -> str:
        """``message`` translated (babel extracts the calls by this name), with ``params``."""
        text = self._(message)
        return text % params if params else text

    def money(self, value: Decimal) -> str:
        return format_currency(value, "EUR", locale=self.locale)

    def number(self, value: Decimal) -> str:
        """A quantity or rate: as many decimals as it has, in the language's notation."""
        return format_decimal(value.normalize(), format="#,##0.######", locale=self.locale)

    def date(self, value: date) -> str:
        return format_date(value, "d MMMM y", locale=self.locale)

    def short_date(self, value: date) -> str:
        return format_date(value, "dd-MM-y" if self.language == "nl" else "d MMM y", locale=self.locale)

    def unit(self, unit: Unit) -> str:
        return self._(UNIT_NAMES[unit])

    def unit_short(self, unit: Unit) -> str:
        short = UNIT_SHORT[unit]
        return self._(short) if short else ""

    def vat_name(self, category: VatCategory) -> str:
        return self._(VAT_NAMES[category])

    def document(self, kind: DocumentKind) -> str:
        return self._(DOCUMENT_NAMES[kind])
