"""The Jinja2 environments, one per language, with the Babel catalogues installed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ecoach.core.i18n import translations
from ecoach.core.types import LANGUAGES

TEMPLATES = Path(__file__).with_name("templates")


class I18n:
    def __init__(self) -> None:
        self.translations = {lang: translations(lang) for lang in LANGUAGES}
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
