"""The kinds of personal data and one found occurrence of it."""

from __future__ import annotations

from dataclasses import dataclass

PERSON = "person"
ORGANISATION = "organisation"
PLACE = "place"
EMAIL = "email"
PHONE = "phone"
ADDRESS = "address"
URL = "url"
IBAN = "iban"
BSN = "bsn"
BIRTHDATE = "birthdate"
OTHER = "other"

KINDS = (PERSON, ORGANISATION, PLACE, EMAIL, PHONE, ADDRESS, URL, IBAN, BSN, BIRTHDATE, OTHER)

# When found spans overlap they become one span of the kind ranked highest here: a name inside
# an e-mail address or a URL goes with the address, a place after a postcode with the address.
PRIORITY = {OTHER: 100, EMAIL: 90, URL: 85, IBAN: 80, PHONE: 70, BSN: 65, BIRTHDATE: 60,
            ADDRESS: 55, ORGANISATION: 50, PERSON: 40, PLACE: 30}


@dataclass(frozen=True, slots=True)
class Found:
    """A span of one text that holds personal data.

    ``key`` says which person, address or number it is: two spans with the same kind and key
    get the same pseudonym. ``suffix`` follows the pseudonym (the 's of Dutch "Jans" becomes
    "Persoon A's"). ``coach`` is set for spans the coach marked by hand.
    """

    start: int
    end: int
    kind: str
    key: str
    suffix: str = ""
    coach: bool = False
