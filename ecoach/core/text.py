"""Text rules for exchanges: normalising input and rendering safe HTML."""

from __future__ import annotations

import html
import re

import nh3

_URL = re.compile(r"https?://[^\s<>\"']+")
_ADDRESS = re.compile(r"<?[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+>?")


def normalise_message(text: str) -> str:
    """Strip outer whitespace and unify line endings; inner text stays as written."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def text_to_html(text: str) -> str:
    """Plain text to sanitized HTML: escaped, links clickable, line breaks kept."""
    escaped = html.escape(text)
    linked = _URL.sub(
        lambda m: f'<a href="{m.group(0)}" rel="noopener noreferrer">{m.group(0)}</a>', escaped
    )
    paragraphs = [p.replace("\n", "<br>") for p in linked.split("\n\n")]
    return sanitize_html("".join(f"<p>{p}</p>" for p in paragraphs))


def sanitize_html(raw: str) -> str:
    """Sanitize HTML from outside (mail bodies, messages) with nh3."""
    return nh3.clean(raw, link_rel="noopener noreferrer nofollow")


def redact_addresses(text: str) -> str:
    """Text from a mail server (a reason for refusing a mail) without the e-mail addresses
    it names: it is stored unsealed, beside the sealed recipient."""
    return _ADDRESS.sub("<address>", text)


def snippet(text: str, length: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"
