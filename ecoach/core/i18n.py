"""Message catalogues (Babel, nl and en), compiled in memory from the ``.po`` sources.

Shared by the web pages and the mails ecoach sends, so both speak the same words.
Each language folder holds ``messages.po`` and may hold one catalogue per area
(``mail.po``, ``scheduler.po``, ...); they are merged in name order.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def catalogue_files(language: str) -> list[Path]:
    return sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po"))


def read_catalogue(language: str) -> Catalog:
    """Every ``.po`` file of a language as one catalogue."""
    merged = Catalog(locale=language)
    for po in catalogue_files(language):
        with po.open("rb") as handle:
            for message in read_po(handle, locale=language):
                if message.id and message.id not in merged:
                    merged[message.id] = message
    return merged


@cache
def translations(language: str) -> Translations:
    language = language if language in ("nl", "en") else "en"
    buffer = io.BytesIO()
    write_mo(buffer, read_catalogue(language))
    buffer.seek(0)
    return Translations(buffer)


def gettext_for(language: str):  # type: ignore[no-untyped-def]
    return translations(language).gettext
