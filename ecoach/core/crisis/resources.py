"""Where a coachee in crisis can get help: the defaults per language.

These are defaults only. Each coach configures their own list (their practice's agreements
with the client, a local crisis service, their own phone for office hours); the defaults
are shown until they do. They are data, not interface text: name, when to contact, how.
Their wording never fires ``detect`` itself (a test holds it), so a coachee's reply that
carries them along unquoted does not raise a false alarm; a coach's own texts may, which is
one more reason the wiring should leave out what ecoach itself sent.

    resources = configured or default_resources(engagement.language)
    for resource in relevant(resources, {signal.category for signal in signals}):
        ...  # show name, description, phones (as tel: links) and url

The Dutch defaults are the national services: 113 Zelfmoordpreventie (113, free on
0800-0113, chat at 113.nl, day and night), 112 for acute danger, and Veilig Thuis
(0800-2000) for domestic violence and abuse. The English defaults are for English-speaking
coachees living in the Netherlands: the same services (113 also helps in English), and for
those abroad the local emergency number and findahelpline.com.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ecoach.core.crisis.lexicon import Category

_PHONE = re.compile(r"\+?[0-9][0-9 \-]{1,19}")
_URL = re.compile(r"https://[^\s<>\"']{1,300}")
PHONE, URL = _PHONE, _URL  # what a configured phone number and address look like (the settings form)


class ResourceError(ValueError):
    """A configured crisis resource that cannot be shown, with the field and the reason."""


@dataclass(frozen=True)
class CrisisResource:
    """One place to get help. ``categories`` are the crisis categories it is for (empty:
    every crisis); ``phones`` are dialable numbers (shown as ``tel:`` links)."""

    name: str
    description: str
    phones: tuple[str, ...] = ()
    url: str | None = None
    categories: frozenset[Category] = field(default_factory=frozenset)

    def tel_links(self) -> tuple[str, ...]:
        return tuple("tel:" + re.sub(r"[ \-]", "", phone) for phone in self.phones)

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "description": self.description, "phones": list(self.phones),
                "url": self.url, "categories": sorted(c.value for c in self.categories)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> CrisisResource:
        """A resource as a coach configured it, checked: a name, a description, and a phone
        number or an https address to reach it by."""
        name, description = str(data.get("name") or "").strip(), str(data.get("description") or "").strip()
        if not name or len(name) > 120:
            raise ResourceError("name: give a name of at most 120 characters")
        if len(description) > 500:
            raise ResourceError(f"{name}: description: at most 500 characters")
        phones = tuple(str(p).strip() for p in _list(data.get("phones")))
        for phone in phones:
            if not _PHONE.fullmatch(phone):
                raise ResourceError(f"{name}: phones: {phone!r} is not a phone number (digits, spaces, dashes, +)")
        url = str(data.get("url") or "").strip() or None
        if url is not None and not _URL.fullmatch(url):
            raise ResourceError(f"{name}: url: {url!r} must be an https:// address")
        if not phones and url is None:
            raise ResourceError(f"{name}: give a phone number or an https:// address")
        try:
            categories = frozenset(Category(str(c)) for c in _list(data.get("categories")))
        except ValueError:
            known = ", ".join(c.value for c in Category)
            raise ResourceError(f"{name}: categories: use {known}") from None
        return cls(name, description, phones, url, categories)


def _list(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


_SUICIDE = frozenset({Category.SUICIDAL, Category.SELF_HARM})
_ABUSE = frozenset({Category.DANGER, Category.VIOLENCE})

DEFAULT_RESOURCES: dict[str, tuple[CrisisResource, ...]] = {
    "nl": (
        CrisisResource(
            "113 Zelfmoordpreventie",
            "Loop je rond met gedachten over zelfmoord, of maak je je zorgen om iemand? Bel 113 of "
            "gratis 0800-0113, of chat via 113.nl. Dag en nacht bereikbaar, anoniem.",
            ("113", "0800-0113"), "https://www.113.nl", _SUICIDE),
        CrisisResource(
            "112",
            "Ben jij of is iemand anders nu in levensgevaar? Bel 112.",
            ("112",)),
        CrisisResource(
            "Veilig Thuis",
            "Bij huiselijk geweld of kindermishandeling, ook als je twijfelt: bel gratis 0800-2000, "
            "dag en nacht.",
            ("0800-2000",), "https://veiligthuis.nl", _ABUSE),
    ),
    "en": (
        CrisisResource(
            "113 Suicide Prevention (113 Zelfmoordpreventie)",
            "Is suicide on your mind, or are you worried about someone? Call 113 or 0800-0113 (free), "
            "or chat at 113.nl. Day and night, anonymous, and they help in English too.",
            ("113", "0800-0113"), "https://www.113.nl", _SUICIDE),
        CrisisResource(
            "112 (emergency)",
            "Are you or is someone else in danger right now? Call 112. Operators speak English.",
            ("112",)),
        CrisisResource(
            "Veilig Thuis (domestic violence and abuse)",
            "The Dutch advice and reporting centre for domestic violence and child abuse: call "
            "0800-2000 (free), day and night, also when you are not sure.",
            ("0800-2000",), "https://veiligthuis.nl", _ABUSE),
        CrisisResource(
            "Outside the Netherlands",
            "Call your local emergency number, or find a free, confidential helpline in your country "
            "at findahelpline.com.",
            (), "https://findahelpline.com"),
    ),
}


def default_resources(language: str | None) -> tuple[CrisisResource, ...]:
    """The defaults for the engagement's language (Dutch for any language without its own)."""
    return DEFAULT_RESOURCES.get(language or "nl", DEFAULT_RESOURCES["nl"])


def relevant(resources: Iterable[CrisisResource], categories: Iterable[Category]) -> tuple[CrisisResource, ...]:
    """All resources, those meant for one of ``categories`` first, then those for every
    crisis (112), then the rest; in acute danger those for every crisis come first.
    Otherwise in the order given."""
    wanted = frozenset(categories)
    acute = Category.DANGER in wanted

    def rank(resource: CrisisResource) -> int:
        if not resource.categories:
            return 0 if acute else 1
        return 1 - acute if resource.categories & wanted else 2

    return tuple(sorted(resources, key=rank))
