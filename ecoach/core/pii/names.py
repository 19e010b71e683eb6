"""Names nobody told us about: people, organisations and places, found by heuristics.

A capitalised word in the middle of a sentence is a name unless it is a known non-name
(weekday, language, tool, role); Dutch and English capitalise little else. At the start of a
sentence or line a word is a name only if the first-name list has it and it is no frequent
word, or a title, a greeting or a closing line stands before it. Neighbouring name words,
tussenvoegsels ("van der") and initials ("J.") join into one name. Context then decides the
kind: "werk bij X" or a legal form (B.V., Ltd) makes an organisation, a known residence a
place. Recall comes first: the coach reviews the preview.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ecoach.core.pii import lexicon
from ecoach.core.pii.known import organisation_key
from ecoach.core.pii.spans import ORGANISATION, PERSON, PLACE, Found

_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-](?=[^\W\d_]))*")
_POSSESSIVE = re.compile(r"['’]s$")
_CONTRACTION = re.compile(r"I['’]|[^'’]+['’](?:m|ve|d|ll|re|t)$")  # I'm, I've, We're, Don't
_LONGEST_NAME = 7  # words: "Anna Maria van der Berg-Jansen"; longer runs are several names
_SENTENCE_END = set(".!?:;…\"“”‘'([•*–—-")
_NAME = r"[A-Z][\w&'’-]*"
_JOIN = r"(?:[A-Z][\w&'’-]*|&|en|and|van|de|der|den|het|voor|of|the|'t)"
_ORG_BY_SUFFIX = re.compile(
    rf"{_NAME}(?:\s{_JOIN}){{0,3}}\s(?:B\.V\.|B\.V|BV|N\.V\.|NV|V\.O\.F\.|VOF|Inc\.?|Ltd\.?|LLC|GmbH|"
    rf"plc|Corp\.?|LLP|AG|S\.A\.|Groep|Group|Holding|Consultancy|Consulting|Council|Trust|Partners|"
    rf"Foundation|Agency|Authority|Bank|Hospital|University|College|Ziekenhuis|Zorg|Advocaten|"
    rf"Accountants)(?![\w])")
_ORG_BY_PREFIX = re.compile(
    rf"(?i:\b(?:stichting|gemeente|vereniging|ministerie van|universiteit(?: van)?|hogeschool|"
    rf"ziekenhuis|provincie|waterschap|zorggroep|university of|foundation|hospital|academie))"
    rf"\s(?:{_JOIN}\s){{0,3}}{_NAME}")


@dataclass(frozen=True, slots=True)
class Token:
    start: int
    end: int  # without a possessive 's
    word: str
    starts_sentence: bool
    after: str  # the previous word, lower case, or "" at the start
    before: str  # the next word, lower case


def tokenise(text: str) -> list[Token]:
    matches = list(_WORD.finditer(text))
    tokens: list[Token] = []
    prev_end, prev_word = 0, ""
    for i, m in enumerate(matches):
        word = _POSSESSIVE.sub("", m.group())
        gap = text[prev_end:m.start()]
        following = matches[i + 1].group().casefold() if i + 1 < len(matches) else ""
        tokens.append(Token(m.start(), m.start() + len(word), word,
                            _starts_sentence(gap, prev_word, not tokens), prev_word.casefold(), following))
        prev_end, prev_word = m.end(), word
    return tokens


def _starts_sentence(gap: str, prev_word: str, first: bool) -> bool:
    if first or "\n" in gap:
        return True
    stripped = gap.strip()
    if not stripped or stripped[-1] not in _SENTENCE_END:
        return False
    # "dr. Jansen", "J. de Vries", "mevr. Bos": the dot ends an abbreviation, not a sentence.
    initial = len(prev_word) == 1 and prev_word.isupper()
    abbreviation = initial or f"{prev_word.casefold()}." in lexicon.TITLES
    return not (stripped == "." and abbreviation)


def _capitalised(word: str) -> bool:
    return word[:1].isupper() and not (len(word) > 1 and word.isupper())


def _is_name_word(tok: Token, protected: frozenset[str]) -> bool:
    folded = tok.word.casefold()
    if not _capitalised(tok.word) or len(tok.word) < 2 or folded in lexicon.not_names() or tok.word in protected:
        return False
    if _CONTRACTION.match(tok.word) or (len(tok.word.split("-")[0]) > 1 and tok.word.split("-")[0].isupper()):
        return False  # I'm, We're; API-token, HR-adviseur
    if not tok.starts_sentence or tok.after in lexicon.TITLES or tok.after.rstrip(".") in lexicon.TITLES:
        return True
    if tok.after in lexicon.CLOSINGS:
        return True
    if folded not in lexicon.first_names():
        return False
    # "Rose said ...": a first name that is also a word is a name before a verb of speech.
    return folded not in lexicon.common_words() or tok.before in lexicon.SPEECH_VERBS


def find_names(text: str, protected: frozenset[str] = frozenset()) -> list[Found]:
    """People, organisations and places in one text (without known names: see known.py)."""
    tokens = tokenise(text)
    found = [_classify(text, tokens, group) for group in _groups(text, tokens, protected)]
    found += find_organisations(text)
    return found


def _groups(text: str, tokens: list[Token], protected: frozenset[str]) -> list[list[Token]]:
    """Runs of name words, joined by single spaces, tussenvoegsels and initials."""
    groups: list[list[Token]] = []
    current: list[Token] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        joined = _interfix_run(text, tokens, i, current, protected)
        if joined:
            if current and not _adjacent(text, current, joined[0].start):
                groups.append(current)  # "Jan, de Vries": two names
                current = []
            current += joined
            i += len(joined)
            continue
        adjacent = bool(current) and _adjacent(text, current, tok.start) and len(current) < _LONGEST_NAME
        if _is_name_word(tok, protected) or _is_initial(text, tok, tokens, i):
            if not adjacent and current:
                groups.append(current)
                current = []
            current.append(tok)
        elif current:
            groups.append(current)
            current = []
        i += 1
    if current:
        groups.append(current)
    return [_trim(g) for g in groups if _trim(g)]


def _adjacent(text: str, current: list[Token], start: int) -> bool:
    """One space between two words of a name, or the dot of an initial ("J. Vries")."""
    gap = text[current[-1].end:start]
    return gap == " " or (gap in (". ", ".") and len(current[-1].word) == 1)


def _interfix_run(text: str, tokens: list[Token], i: int, current: list[Token],
                  protected: frozenset[str]) -> list[Token]:
    """'van der' + 'Berg' after a first name, or before a known surname ('met de Vries')."""
    inter = lexicon.interfixes()
    if tokens[i].word.casefold() not in lexicon.interfix_heads():
        return []
    for size in (3, 2, 1):
        if i + size >= len(tokens):
            continue
        run = tokens[i:i + size]
        words = " ".join(t.word for t in run)
        spaced = all(text[a.end:b.start] == " " for a, b in zip(run, tokens[i + 1:i + size + 1]))
        if words.casefold() in inter and not words[0].isupper() and spaced:
            head = tokens[i + size]
            surname = head.word.casefold() in lexicon.surnames()
            joined = bool(current) and _adjacent(text, current, run[0].start)
            plain = head.word.casefold() in lexicon.not_names() or head.word in protected
            if _capitalised(head.word) and not plain and (joined or surname):
                return [*run, head]
    return []


def _is_initial(text: str, tok: Token, tokens: list[Token], i: int) -> bool:
    """'J.' before a name word or a tussenvoegsel: 'J. de Vries', 'J.P. Balkenende'."""
    if len(tok.word) != 1 or not tok.word.isupper() or text[tok.end:tok.end + 1] != ".":
        return False
    following = tokens[i + 1] if i + 1 < len(tokens) else None
    return following is not None and following.start - tok.end <= 2 and (
        following.word.casefold() in lexicon.interfixes() or _capitalised(following.word))


def _trim(group: list[Token]) -> list[Token]:
    """A name ends on a name word: no trailing initials or tussenvoegsels."""
    while group and (len(group[-1].word) == 1 or not _capitalised(group[-1].word)):
        group = group[:-1]
    return group


def _classify(text: str, tokens: list[Token], group: list[Token]) -> Found:
    start, end = group[0].start, group[-1].end
    surface = " ".join(text[start:end].split())
    folded = surface.casefold()
    before = text[max(0, start - 40):start].casefold()
    before_words = before.split()
    if any(before.rstrip().endswith(c) for c in lexicon.ORGANISATION_CONTEXT):
        return Found(start, end, ORGANISATION, organisation_key(surface))
    after_place_word = bool(before_words) and before_words[-1] in lexicon.PLACE_CONTEXT
    person_like = folded in lexicon.first_names() or folded in lexicon.surnames()
    if folded in lexicon.places() and (after_place_word or not person_like):
        return Found(start, end, PLACE, folded)
    # "in Gent", "near Leeds": a town the Dutch list does not know
    if before_words and before_words[-1] in lexicon.IN_PLACE and not person_like and len(group) == 1:
        return Found(start, end, PLACE, folded)
    return Found(start, end, PERSON, folded)


def find_organisations(text: str) -> list[Found]:
    """Words with a legal form ('Bakker B.V.', 'Acme Ltd') or an organisation word before
    them ('Stichting De Regenboog', 'gemeente Utrecht', 'University of Leeds')."""
    found = []
    for rx in (_ORG_BY_SUFFIX, _ORG_BY_PREFIX):
        for m in rx.finditer(text):
            start, surface = m.start(), m.group()
            first = surface.split()[0]
            # A sentence may open on an ordinary word before the name: "Bij Bakker B.V. ..."
            if rx is _ORG_BY_SUFFIX and lexicon.is_common(first) and first.casefold() not in lexicon.interfixes():
                start += len(first) + 1
                surface = surface[len(first) + 1:]
            found.append(Found(start, m.end(), ORGANISATION, organisation_key(surface)))
    return found
