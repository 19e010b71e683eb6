"""Every user-facing message has a Dutch translation, the same in every area's catalogue;
the example config documents every key."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from ecoach.core.i18n import catalogue_files, read_catalogue
from ecoach.settings import Mailbox, MailSettings, Settings, example_toml

ROOT = Path(__file__).resolve().parents[1]
METHODS = [("ecoach/**.py", "python"), ("ecoach/web/templates/**.html", "jinja2")]
OPTIONS = {"ecoach/web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def _msgids() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(ROOT), METHODS, keywords={"_": None, "gettext": None, "N_": None}, options_map=OPTIONS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return {m for m in found if m}


def _catalog(language: str) -> dict[str, str]:
    return {m.id: m.string for m in read_catalogue(language) if m.id}


def test_every_message_is_translated_to_dutch() -> None:
    msgids = _msgids()
    assert len(msgids) > 50
    nl = _catalog("nl")
    missing = sorted(m for m in msgids if not nl.get(m))
    assert not missing, f"no Dutch translation for: {missing}"


def test_area_catalogues_agree_on_each_translation() -> None:
    """The area catalogues are merged in name order and the first translation wins, so one
    message translated two ways in two areas would silently show one area the other's words."""
    for language in ("nl", "en"):
        first: dict[str, tuple[str, str]] = {}
        clashes = []
        for po in catalogue_files(language):
            with po.open("rb") as handle:
                for message in read_po(handle, locale=language):
                    if not message.id or not message.string:
                        continue
                    seen = first.setdefault(str(message.id), (po.name, str(message.string)))
                    if seen[1] != str(message.string):
                        clashes.append(f"{message.id!r}: {seen[0]} {seen[1]!r}, {po.name} {message.string!r}")
        assert not clashes, f"{language}: one message, two translations: {clashes}"


def test_english_catalogue_knows_every_message() -> None:
    en = _catalog("en")
    missing = sorted(m for m in _msgids() if m not in en)
    assert not missing, f"not in the English catalogue: {missing}"


def test_example_config_documents_every_key() -> None:
    text = (ROOT / "config/ecoach.example.toml").read_text()
    assert text == example_toml(), "regenerate config/ecoach.example.toml from ecoach.settings.example_toml()"
    for model, prefix in ((Settings, ""), (MailSettings, ""), (Mailbox, "# ")):
        for name, field in model.model_fields.items():
            assert field.description, f"setting {name} has no description"
            if name not in ("mail", "mailboxes"):
                # a key, or a [section] of its own (scheduler, nudges, ...)
                assert f"\n{prefix}{name} = " in text or f"\n[{name}]\n" in text, name
