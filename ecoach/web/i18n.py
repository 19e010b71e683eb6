"""The Jinja2 environments, one per language, with the Babel catalogues installed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from ecoach.core import formats, notices, zones
from ecoach.core.i18n import translations
from ecoach.core.types import LANGUAGES
from ecoach.web.confirm import CONFIRMATIONS

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
        env.globals["confirmations"] = CONFIRMATIONS
        env.filters["when"] = lambda dt, zone="UTC": format_when(dt, zone, language)
        env.filters["ago"] = lambda dt, now: format_ago(dt, now, language)
        env.filters["day"] = lambda value, zone=None, year=True: formats.day(value, zone, language, year=year)
        env.filters["date"] = lambda value: formats.plain_date(value, language)
        env.filters["duration"] = lambda minutes: formats.duration(int(minutes or 0), language)
        env.filters["language_name"] = lambda code: formats.language_name(code, language)
        env.filters["zone_label"] = lambda zone: zones.label(zone, language)
        env.filters["exchange_html"] = lambda x, zone: exchange_html(x, zone, language)
        env.filters["exchange_text"] = lambda x, zone: exchange_text(x, zone, language)
        env.filters["shape"] = lambda x, viewer: notices.shape(x.direction, x.author, x.meta, viewer)
        return env

    def gettext(self, language: str) -> Any:
        return self.translations.get(language, self.translations["en"]).gettext

    def render(self, language: str, template: str, context: dict[str, Any]) -> str:
        env = self.envs.get(language, self.envs["en"])
        return env.get_template(template).render(context)


def exchange_html(x: Any, zone: str, language: str) -> Markup:
    """An exchange's body for the page: a notice in the reader's language and zone, else
    the stored (sanitised) HTML."""
    found = notices.of(x.meta)
    return Markup(notices.render_html(found, language, zone) if found else x.body_html)


def exchange_text(x: Any, zone: str, language: str) -> str:
    found = notices.of(x.meta)
    return notices.render_text(found, language, zone) if found else x.body_text


def format_when(dt: datetime | None, zone: str, language: str) -> str:
    return formats.moment(dt, zone, language)


def format_ago(dt: datetime | None, now: datetime, language: str) -> str:
    return formats.ago(dt, now, language)
