"""Time zones as people type them: "Amsterdam", "new york", "Nederland", "Europe/Amsterdam".

Pages carry one text field instead of a 600-entry list (37 KB); the server resolves what
was typed and ``/zones?q=`` suggests matches as one types (static/ui.js). Names come from
the IANA database (zoneinfo) and CLDR's city and country names in Dutch and English (Babel).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from zoneinfo import available_timezones

from babel import Locale
from babel.core import get_global
from babel.dates import get_timezone_location

LANGUAGES = ("nl", "en")


@cache
def zone_names() -> tuple[str, ...]:
    """The zones offered: every IANA zone with a region, and UTC; old names (aliases such
    as Europe/Kiev or US/Eastern) are still understood but not suggested."""
    available = available_timezones()
    aliases = {old for old, new in get_global("zone_aliases").items() if new in available}
    names = {z for z in available if "/" in z and z not in aliases
             and not z.startswith(("Etc/", "SystemV/", "posix/", "right/", "US/", "Canada/", "Brazil/", "Mexico/",
                                   "Chile/"))}
    return tuple(sorted(names | {"UTC"}))


def _key(text: str) -> str:
    """Lower case, no accents, spaces for underscores and separators: "São_Paulo" -> "sao paulo"."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[\s_]+", " ", text).strip()


@cache
def _territories() -> dict[str, str]:
    """Zone -> its country (the first country that lists it)."""
    found: dict[str, str] = {}
    for territory, zones in get_global("territory_zones").items():
        for zone in zones:
            found.setdefault(zone, territory)
    return found


def city(zone: str, language: str) -> str:
    if zone == "UTC":
        return "UTC"
    try:
        return str(get_timezone_location(zone, locale=language, return_city=True))
    except (LookupError, ValueError):
        return zone.rsplit("/", 1)[-1].replace("_", " ")


def label(zone: str, language: str) -> str:
    """"Amsterdam (Nederland)", "New York (United States)", "UTC"."""
    name = city(zone, language)
    territory = _territories().get(zone)
    country = Locale.parse(language).territories.get(territory) if territory else None
    return f"{name} ({country})" if country and country != name else name


@cache
def _index() -> dict[str, str]:
    """Every name a zone is known by (id, city, country with a single zone) -> the zone."""
    index: dict[str, str] = {"gmt": "UTC", "utc": "UTC", "z": "UTC"}
    countries: dict[str, list[str]] = {}
    for territory, zones in get_global("territory_zones").items():
        countries[territory] = [z for z in zones if z in set(zone_names())]
    for zone in zone_names():
        index.setdefault(_key(zone), zone)
        index.setdefault(_key(zone.rsplit("/", 1)[-1]), zone)
        for language in LANGUAGES:
            index.setdefault(_key(city(zone, language)), zone)
    for language in LANGUAGES:
        names = Locale.parse(language).territories
        for territory, zones in countries.items():
            if len(zones) == 1 and territory in names:
                index.setdefault(_key(names[territory]), zones[0])
    return index


def resolve(text: str | None) -> str | None:
    """The zone meant by what was typed, or None when it is unknown or empty."""
    if not text:
        return None
    text = text.strip()
    if text in zone_names() or text in available_timezones():
        return text
    return _index().get(_key(text))


def suggest(text: str, language: str, limit: int = 8) -> list[tuple[str, str]]:
    """(zone, label) pairs whose names start with, then contain, what was typed."""
    key = _key(text)
    if not key:
        return []
    exact: list[str] = []
    starts: list[str] = []
    contains: list[str] = []
    for name, zone in _index().items():
        if name == key:
            exact.append(zone)
        elif name.startswith(key) or any(part.startswith(key) for part in name.split("/")):
            starts.append(zone)
        elif key in name:
            contains.append(zone)
    ordered = list(dict.fromkeys(exact + sorted(starts, key=lambda z: label(z, language)) + sorted(contains)))
    return [(zone, label(zone, language)) for zone in ordered[:limit]]
