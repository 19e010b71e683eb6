"""Translations (Babel catalogues, nl and en) and the Jinja2 environments that use them.

The ``.po`` files under ``web/locale`` are the source; they are compiled in memory at
start-up, so there is no build step and no stale ``.mo`` file.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ecoach.core.types import LANGUAGES

LOCALE_DIR = Path(__file__).with_name("locale")
TEMPLATES = Path(__file__).with_name("templates")


def load_translations(language: str) -> Translations:
    po = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


class I18n:
    def __init__(self) -> None:
        self.translations = {lang: load_translations(lang) for lang in LANGUAGES}
        self.envs = {lang: self._env(lang) for lang in LANGUAGES}

    def _env(self, language: str) -> Environment:
        env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(self.translations[language], newstyle=True)  # type: ignore[attr-defined]
        env.globals["lang"] = language
        env.filters["when"] = lambda dt, zone="UTC": format_when(dt, zone, language)
        env.filters["ago"] = lambda dt, now: format_ago(dt, now, language)
        return env

    def gettext(self, language: str) -> Any:
        return self.translations.get(language, self.translations["en"]).gettext

    def render(self, language: str, template: str, context: dict[str, Any]) -> str:
        env = self.envs.get(language, self.envs["en"])
        return env.get_template(template).render(context)


def format_when(dt: datetime | None, zone: str, language: str) -> str:
    if dt is None:
        return ""
    return format_datetime(dt.astimezone(ZoneInfo(zone)), "d MMM y, HH:mm", locale=language)


def format_ago(dt: datetime | None, now: datetime, language: str) -> str:
    if dt is None:
        return ""
    return format_timedelta(now - dt, granularity="minute", threshold=1.5, locale=language)
