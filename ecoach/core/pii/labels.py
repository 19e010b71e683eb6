"""The pseudonyms' wording, Dutch and English (catalogue ``pseudonyms.po``), and the
pattern that recognises a pseudonym already in a text, in either language."""

from __future__ import annotations

import re
from functools import cache

from ecoach.core.i18n import gettext_for
from ecoach.core.pii.resolve import letters


def N_(message: str) -> str:
    """Marks a label for the catalogue; it is translated when an export is rendered."""
    return message


LETTER_LABELS = {"person": N_("Person %(letter)s"), "organisation": N_("Organisation %(letter)s"),
                 "place": N_("Place %(letter)s")}
NUMBER_LABELS = {"email": N_("[e-mail %(number)s]"), "phone": N_("[phone %(number)s]"),
                 "address": N_("[address %(number)s]"), "url": N_("[link %(number)s]"),
                 "iban": N_("[bank account %(number)s]"), "bsn": N_("[citizen service number %(number)s]"),
                 "birthdate": N_("[date of birth %(number)s]"), "other": N_("[redacted %(number)s]")}


def label(language: str, kind: str, number: int) -> str:
    """The pseudonym of the ``number``-th (from 0) person, address, ... of a kind."""
    gettext = gettext_for(language)
    if kind in LETTER_LABELS:
        return gettext(LETTER_LABELS[kind]) % {"letter": letters(number)}
    return gettext(NUMBER_LABELS[kind]) % {"number": number + 1}


def _template_regex(template: str, fill: str) -> str:
    return fill.join(re.escape(piece) for piece in re.split(r"%\(\w+\)s", template))


@cache
def label_pattern() -> re.Pattern[str]:
    parts = set()
    for language in ("nl", "en"):
        gettext = gettext_for(language)
        parts |= {r"(?<!\w)" + _template_regex(gettext(t), "[A-Z]{1,3}") + r"(?!\w)" for t in LETTER_LABELS.values()}
        parts |= {_template_regex(gettext(t), r"\d{1,6}") for t in NUMBER_LABELS.values()}
    return re.compile("|".join(sorted(parts)))


@cache
def label_words() -> frozenset[str]:
    """'Persoon', 'Person', ...: never a name, so 'Persoon A' is not hidden again."""
    return frozenset(gettext_for(lang)(t).split()[0] for lang in ("nl", "en") for t in LETTER_LABELS.values())
