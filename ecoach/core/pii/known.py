"""Known names (the engagement's people and organisations, and names found once) matched
everywhere, in all the forms they are written in."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ecoach.core.pii import lexicon
from ecoach.core.pii.spans import Found

_LEGAL_FORM = re.compile(
    r"\s+(?:B\.?V\.?|N\.?V\.?|V\.?O\.?F\.?|Inc\.?|Ltd\.?|LLC|GmbH|plc|Corp\.?|LLP|AG|S\.A\.)$", re.I)
_ORG_PREFIX = re.compile(r"^(?:stichting|gemeente|vereniging|foundation)\s+", re.I)


@dataclass(frozen=True, slots=True)
class Variant:
    surface: str
    kind: str
    key: str
    any_case: bool


def person_variants(name: str) -> list[str]:
    """'Jan de Vries' -> the full name, 'Jan', 'de Vries', 'De Vries', 'Vries', 'J. de Vries',
    and the joined forms e-mail names and handles use ('jandevries', 'jan.devries', ...)."""
    tokens = name.split()
    if not tokens:
        return []
    variants = [" ".join(tokens)]
    if len(tokens) == 1:
        return variants
    inter = lexicon.interfixes()
    cut = next((i for i in range(1, len(tokens)) if tokens[i].casefold() in inter), len(tokens) - 1)
    first, middle, surname = tokens[0], tokens[1:cut], tokens[cut:]
    core = surname[-1]
    full_surname = " ".join(surname)
    variants += [first, full_surname, full_surname[:1].upper() + full_surname[1:], core]
    variants += [t for t in middle if len(t) > 1]
    variants.append(f"{first[0]}. {full_surname}")
    joined = "".join(surname).casefold()
    for sep in ("", ".", "_", "-"):
        variants.append(f"{first.casefold()}{sep}{joined}")
    variants += [f"{first[0].casefold()}{joined}", f"{first[0].casefold()}.{joined}"]
    return list(dict.fromkeys(v for v in variants if len(v) > 1))


def organisation_variants(name: str) -> list[str]:
    """'Acme B.V.' -> 'Acme B.V.', 'Acme'; 'Stichting Welzijn' -> also 'Welzijn'."""
    name = " ".join(name.split())
    variants = [name, _LEGAL_FORM.sub("", name)]
    variants.append(_ORG_PREFIX.sub("", variants[-1]))
    return list(dict.fromkeys(v for v in variants if len(v) > 1))


def organisation_key(name: str) -> str:
    """One key for 'Acme B.V.', 'Acme' and 'ACME': same organisation, same pseudonym."""
    return organisation_variants(name)[-1].casefold() if name.strip() else ""


def variant(surface: str, kind: str, key: str) -> Variant:
    """Case does not matter unless the word is also an ordinary word ('Roos', 'Bos', 'Will')."""
    single = " " not in surface
    any_case = not (single and (lexicon.is_common(surface) or surface.casefold() in lexicon.not_names()))
    return Variant(surface, kind, key, any_case)


class VariantMatcher:
    """Finds every variant in a text, longest first, word-bounded, with possessives: "Jan's"
    (the 's stays outside the span) and Dutch "Jans" (inside, the pseudonym gets 's)."""

    def __init__(self, variants: Iterable[Variant]) -> None:
        self._exact: dict[str, Variant] = {}
        self._folded: dict[str, Variant] = {}
        for v in variants:
            self._exact.setdefault(v.surface, v)
            if v.any_case:
                self._folded.setdefault(v.surface.casefold(), v)
        surfaces = sorted({*self._exact, *(v.surface for v in self._folded.values())}, key=len, reverse=True)
        self._regex = None
        if surfaces:
            alternation = "|".join(re.escape(s) for s in surfaces)
            self._regex = re.compile(
                rf"(?<![\w@.+-])(?:{alternation})(?=(?:['’]s)?(?![\w@]|[.-]\w))|"
                rf"(?<![\w@.+-])(?:{alternation})s(?![\w@]|[.-]\w)", re.I)

    def find(self, text: str) -> list[Found]:
        if self._regex is None:
            return []
        found = []
        for m in self._regex.finditer(text):
            word, suffix = m.group(), ""
            v = self._lookup(word)
            if v is None and word.endswith("s"):
                word, suffix = word[:-1], "'s"
                v = self._lookup(word)
            if v is not None:
                found.append(Found(m.start(), m.end(), v.kind, v.key, suffix=suffix))
        return found

    def _lookup(self, word: str) -> Variant | None:
        exact = self._exact.get(word)
        if exact is not None:
            return exact
        return self._folded.get(word.casefold())
