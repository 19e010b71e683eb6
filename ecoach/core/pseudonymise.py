"""Anonymised export for supervision and intervision: pseudonyms for personal data.

``pseudonymise(texts, language=..., people=..., organisations=..., marks=..., keep=...)``
takes the exchanges the coach selected (Dutch and/or English) and gives them back with every
name, e-mail address, phone number, address, organisation, bank account, BSN and date of
birth replaced, plus each replacement (where, what kind, which pseudonym) for the preview.

Pseudonyms, in the export's language (catalogue ``pseudonyms.po``):
- people, organisations and places get letters, because text must stay readable:
  "Persoon A" / "Person A", "Organisatie A", "Plaats A". The engagement's known people take
  the first letters in the order given (pass the coachee first: the coachee is then
  "Persoon A" in every export of the engagement), then unknown names by first appearance.
- contact data get numbered tokens in brackets: "[e-mail 1]", "[telefoon 2]" / "[phone 2]",
  "[adres 1]", "[link 1]", "[rekeningnummer 1]", "[BSN 1]", "[geboortedatum 1]", and what
  the coach marked without a kind "[weggelaten 1]" / "[redacted 1]".
The same person, address or number gets the same pseudonym in every text of one export.
Pseudonyms are never detected again, so running the output through once more changes nothing.

What is replaced: the known people in all their forms ("Jan", "De Vries", "Jans", "jan", the
joined forms e-mail addresses use), names found by ``pii.names`` (see there), every e-mail
address and every link (a path or a domain may name someone), phone numbers (help lines such
as 0800-0113 and 112 stay readable), street addresses, Dutch and UK postcodes, IBANs, nine-digit
numbers that pass the BSN elfproef, and dates next to "geboren"/"born". Recall comes first;
the coach reviews the preview, marks what was missed (``RangeMark``, ``StringMark``) and lists
false alarms in ``keep``. The caller passes plain text (an exchange's text, not its HTML) and
leaves private notes out.

Invisible characters (zero-width spaces and joiners, direction marks, soft hyphens, NUL) are
looked through: "Ja\\u200bn" is found as "Jan" and replaced with the invisible character.
Everything outside the replaced spans is returned exactly as given.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ecoach.core.pii import known, labels, lexicon, names, patterns, resolve
from ecoach.core.pii.spans import KINDS, OTHER, PERSON, Found

__all__ = ["KnownPerson", "RangeMark", "StringMark", "Replacement", "Pseudonymised",
           "PseudonymiseError", "pseudonymise", "KINDS"]


_INVISIBLE = re.compile("[\x00\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


class PseudonymiseError(ValueError):
    """A mark or name the coach gave cannot be used; the message says which and why."""


@dataclass(frozen=True)
class KnownPerson:
    """Someone the engagement knows: coachee, coach, sponsor, or a name the coach added."""

    name: str
    emails: Sequence[str] = ()


@dataclass(frozen=True)
class RangeMark:
    """Characters ``start``..``end`` of text number ``text_index``, marked by the coach."""

    text_index: int
    start: int
    end: int
    kind: str = OTHER


@dataclass(frozen=True)
class StringMark:
    """A literal string the coach marked: replaced wherever it occurs (any case)."""

    text: str
    kind: str = OTHER


@dataclass(frozen=True)
class Replacement:
    text_index: int
    start: int  # in the text as given
    end: int
    kind: str
    pseudonym: str
    original: str
    out_start: int  # in the pseudonymised text, for highlighting the preview
    out_end: int
    by_coach: bool


@dataclass(frozen=True)
class Pseudonymised:
    texts: tuple[str, ...]
    replacements: tuple[Replacement, ...]

    def in_text(self, index: int) -> list[Replacement]:
        return [r for r in self.replacements if r.text_index == index]


class _View:
    """What the detectors read: the text without its invisible characters and with the
    pseudonyms already in it blanked out (a lower-case word of the same length, so they
    are neither found again nor change how the words around them are read); and the way
    back to the text's own offsets."""

    def __init__(self, text: str) -> None:
        removed = [m.start() for m in _INVISIBLE.finditer(text)]
        view = _INVISIBLE.sub("", text) if removed else text
        self._gaps = [pos - i for i, pos in enumerate(removed)]  # view offset of each removal
        self.protected = [(m.start(), m.end()) for m in labels.label_pattern().finditer(view)]
        self.text = _blank(view, self.protected)

    def start(self, offset: int) -> int:
        return offset + bisect.bisect_right(self._gaps, offset)

    def end(self, offset: int) -> int:
        return self.start(offset - 1) + 1 if offset else 0

    def back(self, f: Found) -> Found:
        if not self._gaps:
            return f
        return Found(self.start(f.start), self.end(f.end), f.kind, f.key, f.suffix, f.coach)


def pseudonymise(texts: Sequence[str], *, language: str = "nl", people: Sequence[KnownPerson] = (),
                 organisations: Sequence[str] = (), marks: Sequence[RangeMark | StringMark] = (),
                 keep: Sequence[str] = ()) -> Pseudonymised:
    """Replace the personal data in ``texts`` consistently; ``keep`` lists strings found by
    mistake that the coach wants left as they are (marks still apply to them)."""
    _check(texts, marks)
    views = [_View(t) for t in texts]
    matcher, reserved, known_aliases = _known_matcher(people, organisations)
    found = [_find(v, matcher) for v in views]
    echo = _echo_matcher(views, found)
    found = [f + _unprotected(v, echo.find(v.text)) for v, f in zip(views, found)]
    kept = {" ".join(k.casefold().split()) for k in keep if k.strip()}
    spans = []
    for i, (text, view, found_here) in enumerate(zip(texts, views, found)):
        back = [view.back(f) for f in found_here]
        back = [f for f in back if " ".join(text[f.start:f.end].casefold().split()) not in kept]
        spans.append(resolve.merge(text, back + _coach_marks(i, text, marks)))
    person_of = resolve.cluster_people([f for s in spans for f in s], known_aliases)
    numbers = resolve.number_in_order(spans, reserved, person_of)
    return _render(texts, spans, numbers, person_of, language)


def _check(texts: Sequence[str], marks: Sequence[RangeMark | StringMark]) -> None:
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise PseudonymiseError(f"text {i + 1} is not text but {type(text).__name__}")
    for mark in marks:
        if mark.kind not in KINDS:
            raise PseudonymiseError(f"unknown kind {mark.kind!r} for a mark; use one of {', '.join(KINDS)}")
        if isinstance(mark, StringMark):
            if not mark.text.strip():
                raise PseudonymiseError("a marked string is empty")
        elif not 0 <= mark.text_index < len(texts):
            raise PseudonymiseError(f"a mark points to text {mark.text_index + 1}, but there are {len(texts)}")
        elif not 0 <= mark.start < mark.end <= len(texts[mark.text_index]):
            raise PseudonymiseError(
                f"a mark from {mark.start} to {mark.end} lies outside text {mark.text_index + 1} "
                f"({len(texts[mark.text_index])} characters) or is empty")


def _known_matcher(people: Sequence[KnownPerson], organisations: Sequence[str]):  # type: ignore[no-untyped-def]
    """The known names as one matcher; the (kind, key) pairs that take the first letters;
    each folded person variant -> that person's key."""
    variants, reserved, aliases = [], [], {}
    for i, person in enumerate(people):
        if not person.name.strip() and not person.emails:
            raise PseudonymiseError(f"known person {i + 1} has neither a name nor an e-mail address")
        key = f"{resolve.KNOWN_PREFIX}{i}"
        reserved.append((PERSON, key))
        for surface in known.person_variants(person.name):
            variants.append(known.variant(surface, PERSON, key))
            aliases.setdefault(surface.casefold(), key)
        variants += [known.Variant(e.strip(), "email", e.strip().casefold(), True) for e in person.emails if e.strip()]
    for name in organisations:
        key = known.organisation_key(name)
        if key:
            reserved.append(("organisation", key))
            variants += [known.variant(s, "organisation", key) for s in known.organisation_variants(name)]
    return known.VariantMatcher(variants), reserved, aliases


def _blank(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """Each span becomes a lower-case word of its length: read as any other word."""
    if not spans:
        return text
    pieces, pos = [], 0
    for start, end in sorted(spans):
        start = max(start, pos)
        if end > start:
            pieces += [text[pos:start], "x" * (end - start)]
            pos = end
    return "".join(pieces) + text[pos:]


def _find(view: _View, matcher: known.VariantMatcher) -> list[Found]:
    """Contact data first; names are then read with the contact data blanked out, as they
    will be in the output, so that a second run reads every word the way the first did."""
    contact = patterns.find_contact_data(view.text)
    blanked = _blank(view.text, [(f.start, f.end) for f in contact])
    found = contact + names.find_names(blanked, labels.label_words()) + matcher.find(view.text)
    return _unprotected(view, found)


def _unprotected(view: _View, found: list[Found]) -> list[Found]:
    """Drop what touches a pseudonym already there (idempotence)."""
    protected = view.protected
    if not protected:
        return found
    starts = [s for s, _ in protected]

    def clear(f: Found) -> bool:
        i = bisect.bisect_left(starts, f.end)
        return not any(s < f.end and f.start < e for s, e in protected[max(0, i - 2):i])

    return [f for f in found if clear(f)]


def _echo_matcher(views: Sequence[_View], found: Sequence[Sequence[Found]]) -> known.VariantMatcher:
    """Names found somewhere are hidden everywhere: also at the start of a sentence, where
    the detector alone would not call a word a name (same case only)."""
    variants = []
    for view, spans in zip(views, found):
        for f in spans:
            if f.kind in ("person", "organisation", "place") and not f.key.startswith(resolve.KNOWN_PREFIX):
                surface = " ".join(view.text[f.start:f.end].split())
                forms = known.person_variants(surface) if f.kind == PERSON else [surface]
                variants += [known.Variant(s, f.kind, f.key if s == surface else s.casefold(), False)
                             for s in forms if s == surface or not lexicon.is_common(s)]
    return known.VariantMatcher(variants)


def _coach_marks(index: int, text: str, marks: Sequence[RangeMark | StringMark]) -> list[Found]:
    found = []
    for mark in marks:
        if isinstance(mark, RangeMark):
            if mark.text_index == index:
                key = " ".join(text[mark.start:mark.end].casefold().split())
                found.append(Found(mark.start, mark.end, mark.kind, key, coach=True))
            continue
        literal = mark.text.strip()
        pattern = re.escape(literal)
        pattern = (r"(?<!\w)" if literal[0].isalnum() else "") + pattern + (r"(?!\w)" if literal[-1].isalnum() else "")
        key = " ".join(literal.casefold().split())
        found += [Found(m.start(), m.end(), mark.kind, key, coach=True)
                  for m in re.finditer(pattern, text, re.I)]
    return found


def _render(texts: Sequence[str], spans: Sequence[Sequence[Found]], numbers: dict[tuple[str, str], int],
            person_of: dict[str, str], language: str) -> Pseudonymised:
    out_texts, replacements = [], []
    for i, text in enumerate(texts):
        pieces, pos, length = [], 0, 0
        for f in spans[i]:
            key = person_of.get(f.key, f.key) if f.kind == PERSON else f.key
            label = labels.label(language, f.kind, numbers[(f.kind, key)]) + f.suffix
            pieces += [text[pos:f.start], label]
            out_start = length + f.start - pos
            length = out_start + len(label)
            replacements.append(Replacement(i, f.start, f.end, f.kind, label, text[f.start:f.end],
                                            out_start, length, f.coach))
            pos = f.end
        pieces.append(text[pos:])
        out_texts.append("".join(pieces))
    return Pseudonymised(tuple(out_texts), tuple(replacements))
