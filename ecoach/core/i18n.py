"""Message catalogues (Babel, nl and en), compiled in memory from the ``.po`` sources.

Shared by the web pages and the mails ecoach sends, so both speak the same words.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


@cache
def translations(language: str) -> Translations:
    language = language if language in ("nl", "en") else "en"
    po = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def gettext_for(language: str):  # type: ignore[no-untyped-def]
    return translations(language).gettext
