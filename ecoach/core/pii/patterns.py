"""Contact data found by its form: e-mail addresses, links, phone numbers, bank accounts,
citizen service numbers (BSN), street addresses and postcodes, dates of birth.

Phone numbers are found by ``phonenumbers`` (Google's libphonenumber), IBANs and BSNs are
checked by ``python-stdnum``; the rest are regular expressions with bounded repetition, so a
hostile text costs time in proportion to its length.
"""

from __future__ import annotations

import re

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum.nl import bsn as stdnum_bsn

from ecoach.core.pii import lexicon
from ecoach.core.pii.spans import ADDRESS, BIRTHDATE, BSN, EMAIL, IBAN, PHONE, URL, Found

_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
_EMAIL_SPELLED = re.compile(
    r"\b[\w.+-]{1,64}\s?[\[(]\s?(?:at|apenstaartje)\s?[\])]\s?[\w-]{1,63}"
    r"(?:\s?[\[(]\s?(?:dot|punt)\s?[\])]\s?[\w-]{1,63}){1,4}", re.I)
_TLDS = r"(?:nl|be|com|org|net|eu|de|uk|io|info|biz|co|me|app|nu|online|dev|fr|es|it|ai|email)"
_URL = re.compile(
    r"\b(?:https?://|www\.)[^\s<>\"'`]{1,2000}"
    r"|\b(?:[a-z0-9][a-z0-9-]{0,62}\.){1,6}" + _TLDS + r"\b(?:/[^\s<>\"'`]{0,2000})?", re.I)
_URL_TRAILING = ".,;:!?)]}'\"’”»"

# Phone types that belong to services, not people: 0800 help lines stay readable.
_SERVICE_NUMBERS = {phonenumbers.PhoneNumberType.TOLL_FREE, phonenumbers.PhoneNumberType.PREMIUM_RATE,
                    phonenumbers.PhoneNumberType.SHARED_COST}
# Numbers written like phone numbers that libphonenumber calls invalid (made up, mistyped):
# international with + or 00, or ten or eleven digits starting with 0 (Dutch, British).
_PHONE_LIKE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)[1-9]\d{0,2}[\s.-]{0,2}(?:\(0\)[\s.-]{0,2})?\d(?:[\s.-]?\d){6,11}"
    r"|0[1-9](?:[\s.-]{0,3}\d){8,9})(?!\w)")

_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b", re.I)
_NL_IBAN_FORM = re.compile(r"NL\d{2}[A-Z]{4}\d{10}")
_NINE_DIGITS = re.compile(r"(?<![\d.,-])(?:\d{3}[. ]?\d{3}[. ]?\d{3}|\d{4}[. ]?\d{2}[. ]?\d{3})(?![\d]|[.,-]\d)")
_BSN_CONTEXT = re.compile(
    r"\b(?:bsn|burgerservicenummer|sofi-?nummer|citizen service number)\b[\s:.-]{0,5}(?:is\s+)?"
    r"(\d(?:[. ]?\d){7,8})(?!\d)", re.I)

_STREET = re.compile(
    r"\b(?:(?:[A-Z][\w'’.-]{0,30}|van|de|der|den|het|'t|la|le)\s){0,3}"
    r"[A-Z][\w'’-]{0,30}?(?:" + "|".join(lexicon.STREET_SUFFIXES) + r")"
    r"\s{1,3}\d{1,5}(?:\s?[a-zA-Z]\b|[-/ ]?(?:hs|bis|[IVX]{1,4}|\d{1,4})\b)?")
_POSTBOX = re.compile(r"\b(?:Postbus|P\.?O\.? Box|PO Box)\s{1,3}\d{1,6}\b", re.I)
_NUMBERED = re.compile(r"\b((?:[A-Z][\w'’-]{1,30}\s){0,2}[A-Z][\w'’-]{2,30})\s{1,3}\d{1,5}[a-zA-Z]?\b")
_EN_STREET = re.compile(
    r"\b\d{1,5}[a-zA-Z]?,?\s(?:[A-Z][\w'’-]{1,30}\s){1,3}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|"
    r"Drive|Dr|Close|Way|Court|Ct|Place|Pl|Square|Sq|Boulevard|Blvd|Terrace|Crescent|Gardens|"
    r"Grove|Hill|Row|Mews|Park)\b\.?")
_POSTCODE = re.compile(
    r"\b[1-9]\d{3}\s?(?!SA|SD|SS)[A-Z]{2}\b(?:\s{1,3}[A-Z][\w'’-]{1,40}(?:[ -][A-Z][\w'’-]{1,40})?)?"
    r"|\b[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}\b")
_ADDRESS_GAP = re.compile(r"[\s,]{0,4}")

_MONTHS = (r"(?:januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|"
           r"december|january|february|march|may|june|july|october|jan|feb|mrt|mar|apr|jun|jul|"
           r"aug|sept|sep|okt|oct|nov|dec)")
_DATE = (r"(?:\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2}"
         r"|\d{1,2}(?:st|nd|rd|th|e)?\s(?:of\s)?" + _MONTHS + r"\.?\s\d{4}"
         r"|" + _MONTHS + r"\.?\s\d{1,2}(?:st|nd|rd|th)?,?\s\d{4}|(?:19|20)\d{2})")
_BIRTH = re.compile(
    r"\b(?:geboren|geb\.|geboortedatum|geboortedag|born|birth\s?date|date of birth|d\.o\.b\.?|dob)"
    r"(?![\w])[\s:]{0,3}(?:(?:op|on|in|is|was|de|the)\s){0,2}(" + _DATE + r")(?!\d)", re.I)


def find_emails(text: str) -> list[Found]:
    found = [Found(m.start(), m.end(), EMAIL, m.group().casefold()) for m in _EMAIL.finditer(text)]
    found += [Found(m.start(), m.end(), EMAIL, re.sub(r"\W", "", m.group().casefold()))
              for m in _EMAIL_SPELLED.finditer(text)]
    return found


def find_urls(text: str) -> list[Found]:
    found = []
    for m in _URL.finditer(text):
        raw = m.group().rstrip(_URL_TRAILING)
        key = re.sub(r"^(?:https?://)?(?:www\.)?", "", raw.casefold()).rstrip("/")
        if len(key) > 3:
            found.append(Found(m.start(), m.start() + len(raw), URL, key))
    return found


def find_phones(text: str) -> list[Found]:
    found = []
    for m in phonenumbers.PhoneNumberMatcher(text, "NL", leniency=phonenumbers.Leniency.VALID):
        if phonenumbers.number_type(m.number) not in _SERVICE_NUMBERS:
            key = phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
            found.append(Found(m.start, m.end, PHONE, key))
    for m in _PHONE_LIKE.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if not digits.startswith("0800") and not digits.startswith("0900"):
            found.append(Found(m.start(), m.end(), PHONE, _phone_key(digits)))
    return found


def _phone_key(digits: str) -> str:
    """The E.164 form where the digits give it, so '06-1234 5678' and '+31612345678' agree."""
    if digits.startswith("00"):
        return "+" + digits[2:]
    if digits.startswith("310") and len(digits) == 12:
        return "+31" + digits[3:]
    if digits.startswith("0"):
        return "+31" + digits[1:]
    return "+" + digits


def find_bank_accounts(text: str) -> list[Found]:
    found = []
    for m in _IBAN.finditer(text):
        compact = re.sub(r"\s", "", m.group()).upper()
        if stdnum_iban.is_valid(compact) or _NL_IBAN_FORM.fullmatch(compact):
            found.append(Found(m.start(), m.end(), IBAN, compact))
    return found


def find_citizen_numbers(text: str) -> list[Found]:
    """Nine digits that pass the elfproef, or any 8-9 digits right after 'BSN'."""
    found = []
    for m in _NINE_DIGITS.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if stdnum_bsn.is_valid(digits):
            found.append(Found(m.start(), m.end(), BSN, digits))
    for m in _BSN_CONTEXT.finditer(text):
        found.append(Found(m.start(1), m.end(1), BSN, re.sub(r"\D", "", m.group(1)).zfill(9)))
    return found


def find_birthdates(text: str) -> list[Found]:
    return [Found(m.start(1), m.end(1), BIRTHDATE, m.group(1).casefold())
            for m in _BIRTH.finditer(text)]


def find_addresses(text: str) -> list[Found]:
    """Street and number, Dutch and UK postcodes (with the town after a Dutch one); parts
    that follow each other ("Kerkstraat 12, 3511 AB Utrecht") become one address."""
    parts = [(m.start(), m.end()) for rx in (_STREET, _EN_STREET, _POSTCODE, _POSTBOX) for m in rx.finditer(text)]
    parts += _known_streets(text)
    merged: list[list[int]] = []
    for start, end in sorted(parts):
        if merged and (start <= merged[-1][1] or _ADDRESS_GAP.fullmatch(text, merged[-1][1], start)):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [Found(s, e, ADDRESS, " ".join(text[s:e].casefold().replace(",", " ").split()))
            for s, e in merged]


def _known_streets(text: str) -> list[tuple[int, int]]:
    """'Rapenburg 12', 'Lange Voorhout 3': a street from the list followed by a number."""
    streets, common = lexicon.streets(), lexicon.common_words()
    found = []
    for m in _NUMBERED.finditer(text):
        words = m.group(1).split()
        for first in range(len(words)):
            name = " ".join(words[first:]).casefold()
            if len(name) >= 6 and name in streets and name not in common:
                found.append((m.start(1) + m.group(1).index(words[first]), m.end()))
                break
    return found


DETECTORS = (find_emails, find_urls, find_phones, find_bank_accounts, find_citizen_numbers,
             find_birthdates, find_addresses)


def find_contact_data(text: str) -> list[Found]:
    return [f for detector in DETECTORS for f in detector(text)]
