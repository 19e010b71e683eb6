"""Word lists the name detector decides by.

The Dutch and international name and place lists come from the ``deduce`` package
(rule-based de-identification of Dutch text, LGPL): first names, surnames, tussenvoegsels,
residences and municipalities, streets. Only its data files are read, never its pipeline, so
nothing is built or cached at run time. The short curated lists beside this module hold what
those lists lack for coaching text: frequent nl/en words that are also names, and capitalised
words that are not names (days, languages, tools, roles).
"""

from __future__ import annotations

import importlib.util
import logging
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

WORDS_DIR = Path(__file__).resolve().parent / "words"

# Words that put a name after them even at the start of a sentence ("Mevrouw Jansen belde").
TITLES = frozenset("""
heer meneer mijnheer mevrouw juffrouw dhr dhr. mevr mevr. mw mw. dr dr. drs drs. ir ir. ing ing. prof
prof. mr mr. mrs mrs. ms ms. miss sir madam dokter professor oom tante opa oma
""".split())

# Verbs after which a first name that is also a word is the subject: "Rose said", "Roos zei".
SPEECH_VERBS = frozenset("""
said says asked asks told tells thinks thought feels felt wrote writes called calls wants wanted
zei zegt vroeg vraagt vindt vond schreef schrijft belde belt denkt dacht voelt voelde wil wilde
""".split())

# Words that open a mail or chat line and are followed by the addressee's name.
GREETINGS = frozenset("""
hoi hi hallo hello hey dear beste lieve dag goedemorgen goedemiddag goedenavond morning
""".split())

# Closing words after which the next line is usually the writer's name.
CLOSINGS = frozenset("""
groet groeten groetjes gr liefs regards cheers thanks bedankt dank best wishes love xx x
""".split())

# After these the capitalised words are an organisation, not a person ("ik werk bij Philips").
ORGANISATION_CONTEXT = (
    "werk bij", "werkt bij", "werkte bij", "werkzaam bij", "in dienst bij", "baan bij",
    "solliciteren bij", "gesolliciteerd bij", "stage bij", "klant van", "bedrijf",
    "work at", "works at", "worked at", "working at", "work for", "works for", "working for",
    "employed by", "employed at", "job at", "joined", "company", "interview at", "intern at",
)

# After these a capitalised word that is a known place is a place, not a person.
PLACE_CONTEXT = frozenset("in uit naar te bij rond nabij vanuit from to near around at".split())

# After these a capitalised word that is no person's name is taken for a town ("in Leeds").
IN_PLACE = frozenset("in te uit nabij near around outside".split())

# Words before or after capitalised words that make them an organisation.
ORGANISATION_PREFIXES = frozenset("""
stichting gemeente vereniging ministerie universiteit hogeschool ziekenhuis provincie waterschap
coöperatie cooperatie zorggroep ggz bureau foundation university hospital council
college academie academy school
""".split())
ORGANISATION_SUFFIXES = frozenset("""
b.v. bv b.v n.v. nv n.v v.o.f. vof inc inc. ltd ltd. llc gmbh plc corp corp. co. llp ag s.a.
groep group holding holdings consultancy consulting ziekenhuis zorg
""".split())

# Endings of Dutch street names ("Kerkstraat 12", "Oudegracht 50").
STREET_SUFFIXES = (
    "straat", "laan", "weg", "plein", "gracht", "kade", "singel", "dijk", "pad", "hof", "dreef",
    "steeg", "markt", "park", "baan", "ring", "dam", "boulevard", "allee", "erf", "wal", "burgwal",
    "haven", "kanaal", "veld", "straatje", "pleintje", "hoven",
)


def _deduce_lookup_dir() -> Path | None:
    spec = importlib.util.find_spec("deduce")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "lookup" / "src"


def _read_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _deduce_list(*parts: str) -> frozenset[str]:
    """One deduce lookup list (its items less its exceptions), case-folded."""
    base = _deduce_lookup_dir()
    if base is None:
        log.warning("the deduce package is missing: names are found without its name lists")
        return frozenset()
    folder = base.joinpath(*parts)
    items = {w.casefold() for w in _read_lines(folder / "items.txt")}
    return frozenset(items - {w.casefold() for w in _read_lines(folder / "exceptions.txt")})


def _curated(name: str) -> frozenset[str]:
    words: set[str] = set()
    for line in _read_lines(WORDS_DIR / name):
        words.update(w.casefold() for w in line.split())
    return frozenset(words)


@cache
def first_names() -> frozenset[str]:
    return _deduce_list("names", "lst_first_name")


@cache
def surnames() -> frozenset[str]:
    return _deduce_list("names", "lst_surname")


@cache
def interfixes() -> frozenset[str]:
    """Tussenvoegsels: 'van', 'de', 'van der', "in 't", ..."""
    found = _deduce_list("names", "lst_interfix")
    return found or frozenset({"van", "de", "der", "den", "van der", "van den", "van de", "ter", "ten"})


@cache
def interfix_heads() -> frozenset[str]:
    """The first words of the tussenvoegsels: most words need no further look."""
    return frozenset(i.split()[0] for i in interfixes())


@cache
def places() -> frozenset[str]:
    return (_deduce_list("locations", "lst_placename", "lst_residence")
            | _deduce_list("locations", "lst_placename", "lst_municipality"))


@cache
def streets() -> frozenset[str]:
    return _deduce_list("locations", "lst_street")


@cache
def common_words() -> frozenset[str]:
    """Frequent words that are also names: ordinary words at a sentence start or in lower case."""
    dutch = (_deduce_list("whitelist", "lst_common_word")
             | _deduce_list("whitelist", "lst_stop_word"))
    return _curated("common.txt") | dutch


@cache
def not_names() -> frozenset[str]:
    return _curated("not_names.txt") | TITLES | GREETINGS | ORGANISATION_PREFIXES


def is_common(word: str) -> bool:
    return word.casefold() in common_words()


def is_first_name(word: str) -> bool:
    return word.casefold() in first_names()
