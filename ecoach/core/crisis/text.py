"""Text as the crisis lexicon sees it: words in one canonical spelling, each with the place
in the original text it came from.

The canonical spelling is what the lexicon's patterns are written against: lower case,
no diacritics ("suïcide" -> "suicide"), no apostrophes ("don't" -> "dont", "zo'n" ->
"zon"), words joined by a hyphen written as one ("self-harm" -> "selfharm"), letters
spelled out one by one joined ("K I L L" -> "kill"), digits inside a word read as the
letters they stand for ("su1c1de" -> "suicide"), and stretched words read back (a run of
three or more of a letter becomes one when that makes a lexicon word, "diiie" -> "die",
else two, "dooood" -> "dood"). Characters nobody sees (zero-width spaces and
joiners, soft hyphens, direction marks, NUL and other control characters, lone surrogates)
are dropped inside a word, so they cannot split one. Look-alike Cyrillic and Greek letters
are read as Latin ones.

Sentences end at ``. ! ? ;`` and at a blank line; a line break after a short line (under
60 characters: not hard-wrapped mail) ends the sentence for the scope of a negation or a
time marker, but a phrase may still run across it ("ik wil\ndood").
Every step is a single pass over the text: the cost is linear in its length.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

_INVISIBLE = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_APOSTROPHES = "'\u2019\u2018`\u00b4\u02bc"
_IN_WORD = rf"[\w\u0300-\u036f{_INVISIBLE}\ud800-\udfff{_APOSTROPHES}]"
# A token: four or more letters spelled out one by one ("K I L L"), a word (letters,
# digits, combining marks, apostrophes and invisible characters, lone surrogates included)
# with any hyphenated parts ("self-harm"), or any other character that is not a space.
_TOKEN = re.compile(
    rf"(?<!\w)[^\W\d_](?: [^\W\d_]){{3,}}(?!\w)|{_IN_WORD}+(?:-{_IN_WORD}+)*|[^\w\s]"
)
_SENTENCE_END = frozenset(".!?;\u2026")
_DROPPED = frozenset("\"\u201c\u201d\u201e\u00ab\u00bb*_()[]{}<>|~^")
_HARD_WRAP = 60
_LEET = str.maketrans("013457@$", "oieastas")
_REPEATS = re.compile(r"([^\W\d_])\1\1")
_REPEATS_RUN = re.compile(r"(.)\1{2,}")
_NEWLINE = re.compile(r"\n")
_HOMOGLYPHS = dict(zip("аеорсухіјѕԁɡοαειντκρ", "aeopcyxijsdgoaeivtkp"))
BOUNDARY = "."


def _fold_char(char: str) -> str:
    if char in _APOSTROPHES:
        return ""
    if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Mn", "Me"):
        return ""
    char = _HOMOGLYPHS.get(char.lower(), char)
    decomposed = unicodedata.normalize("NFKD", char)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


class _FoldTable(dict[int, str]):
    """Per-character folding for ``str.translate``, remembered for the first 20,000
    characters seen (a hostile text full of distinct characters cannot grow it further)."""

    def __missing__(self, code: int) -> str:
        value = _fold_char(chr(code))
        if len(self) < 20_000:
            self[code] = value
        return value


_FOLD = _FoldTable()


def canonical_word(word: str, repeats: bool = True, vocabulary: frozenset[str] = frozenset()) -> str:
    """One word in the lexicon's spelling (``repeats``: the text may have letters three
    times in a row; a stretched word is cut to the lexicon's word when ``vocabulary`` has
    it with single letters there, "diiie" -> "die", else to double ones, "dooood" -> "dood")."""
    folded = word.lower() if word.isascii() and word.isalpha() else word.translate(_FOLD)
    if len(folded) > 1 and ("-" in folded or " " in folded):
        folded = folded.replace("-", "").replace(" ", "")
    if not folded.isalpha() and any(c.isdigit() for c in folded) and any(c.isalpha() for c in folded):
        folded = folded.translate(_LEET)
    if repeats and len(folded) > 2 and _REPEATS_RUN.search(folded):
        single = _REPEATS_RUN.sub(r"\1", folded)
        folded = single if single in vocabulary else _REPEATS_RUN.sub(r"\1\1", folded)
    return folded


@dataclass(frozen=True)
class Words:
    """The canonical words of a text: ``line`` is ``" w1 w2 ... "`` (each word between
    single spaces, a sentence end as ``.``), ``at[k]`` where word k begins in ``line``,
    ``start[k]``/``end[k]`` its place in the original text, ``sentences`` the indexes of
    the words that begin a sentence (after a ``.``, or on a new line after a short one)."""

    tokens: tuple[str, ...]
    start: tuple[int, ...]
    end: tuple[int, ...]
    at: tuple[int, ...]
    line: str
    sentences: tuple[int, ...]

    def token_at(self, offset: int) -> int:
        """The index of the word that begins at or before ``offset`` in ``line``."""
        return bisect_right(self.at, offset) - 1

    def sentence(self, first: int, last: int) -> tuple[int, int]:
        """Word indexes [lo, hi) of the sentence around words first..last-1."""
        k = bisect_right(self.sentences, first) - 1
        lo = self.sentences[k] if k >= 0 else 0
        k = bisect_right(self.sentences, last - 1)
        hi = self.sentences[k] if k < len(self.sentences) else len(self.tokens)
        return lo, hi


def _line_breaks(text: str, begin: int, end: int, starts: list[int]) -> tuple[set[int], set[int]]:
    """(hard, soft): indexes of the tokens after a blank line, and after a short line."""
    hard: set[int] = set()
    soft: set[int] = set()
    line_start = begin
    for newline in _NEWLINE.finditer(text, begin, end):
        blank = not text[line_start : newline.start()].strip()
        k = bisect_right(starts, newline.start())
        if 0 < k < len(starts) and (blank or newline.start() - line_start < _HARD_WRAP):
            (hard if blank else soft).add(k)
        line_start = newline.end()
    return hard, soft


def words(text: str, spans: list[tuple[int, int]], vocabulary: frozenset[str] = frozenset()) -> Words:
    """The canonical words of the given (start, end) spans of ``text``; each span is its
    own paragraph. ``vocabulary``: the lexicon's words, to read stretched words by."""
    tokens: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    sentences: list[int] = []
    repeats = _REPEATS.search(text) is not None
    for begin, end in spans:
        raw = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text, begin, end)]
        hard, soft = _line_breaks(text, begin, end, [r[1] for r in raw]) if "\n" in text else (set(), set())
        hard.add(0)
        for k, (token, start, stop) in enumerate(raw):
            if k in hard and tokens and tokens[-1] != BOUNDARY:
                tokens.append(BOUNDARY)
                starts.append(start)
                ends.append(start)
            if not repeats and token.isascii() and token.isalpha():
                word = token.lower()  # the common case, without a call
            else:
                word = _word(token, repeats, vocabulary)
            if not word or (word == BOUNDARY and (not tokens or tokens[-1] == BOUNDARY)):
                continue
            if k in soft or word == BOUNDARY:
                sentences.append(len(tokens) + (word == BOUNDARY))
            elif tokens and tokens[-1] == BOUNDARY:
                sentences.append(len(tokens))
            tokens.append(word)
            starts.append(start)
            ends.append(stop)
    at: list[int] = []
    position = 1
    for word in tokens:
        at.append(position)
        position += len(word) + 1
    line = " " + " ".join(tokens) + " "
    return Words(tuple(tokens), tuple(starts), tuple(ends), tuple(at), line, tuple(sorted(set(sentences))))


def _word(token: str, repeats: bool, vocabulary: frozenset[str]) -> str:
    if token in _DROPPED:
        return ""
    if token in _SENTENCE_END:
        return BOUNDARY
    return canonical_word(token, repeats, vocabulary)
