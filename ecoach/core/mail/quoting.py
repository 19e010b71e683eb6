"""Folding away quoted earlier text, and reading text out of HTML mail.

A coachee's reply usually carries the whole thread below it ("On ... wrote:", "Op ...
schreef ...:", Outlook's "From: / Sent:" block, ``>`` lines). The timeline shows only
what is new; the full original stays available behind "show the whole mail".
"""

from __future__ import annotations

import html as html_lib
import re

import nh3

# A line that introduces the quoted earlier mail (one line, or two when wrapped).
_INTRO = [
    re.compile(r"^\s*On\b.{0,400}\bwrote\s*:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*Op\b.{0,400}\bschreef\b.{0,400}:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*Am\b.{0,400}\bschrieb\b.{0,400}:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*Le\b.{0,400}\ba\s+écrit\s*:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(
        r"^\s*-{2,}\s*(Original Message|Oorspronkelijk bericht|Oorspronkelijk e-mailbericht|"
        r"Ursprüngliche Nachricht|Message d'origine)\s*-{2,}\s*$",
        re.IGNORECASE,
    ),
]
# Outlook: an optional line of underscores, then "From:" and soon "Sent:"/"Date:".
_OUTLOOK_FROM = re.compile(r"^\s*\*?(From|Van|Von|De)\s*:\*?\s+\S", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(
    r"^\s*\*?(Sent|Date|Verzonden|Datum|Gesendet|Envoyé)\s*:\*?\s+\S", re.IGNORECASE
)
_RULE = re.compile(r"^\s*_{10,}\s*$")
# A forwarded mail below the writer's own words (Gmail, Thunderbird, Apple Mail; nl/en/de/fr).
_FORWARD = re.compile(
    r"^\s*(-{2,}\s*(Forwarded message|Doorgestuurd bericht|Doorgestuurd e-mailbericht|"
    r"Weitergeleitete Nachricht|Message transféré)\s*-{2,}|Begin forwarded message:|"
    r"Begin doorgestuurd bericht:)\s*$",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"^\s*>")
_BLANKS = re.compile(r"\n{3,}")

_BLOCK_END = re.compile(
    r"<br\s*/?>|</\s*(p|div|li|tr|h[1-6]|blockquote|table|ul|ol|pre)\s*>", re.IGNORECASE
)
_NO_CONTENT = {"script", "style", "head", "title", "template", "noscript"}


def _is_intro(lines: list[str], i: int) -> bool:
    line = lines[i]
    if len(line) > 1000:
        return False
    joined = line + " " + lines[i + 1] if i + 1 < len(lines) else line
    if any(p.match(line) for p in _INTRO) or (len(joined) < 1000 and _INTRO[0].match(joined)):
        return True
    if _RULE.match(line):
        return i + 1 < len(lines) and bool(_OUTLOOK_FROM.match(lines[i + 1]))
    if _OUTLOOK_FROM.match(line):
        return any(_OUTLOOK_SENT.match(nxt) for nxt in lines[i + 1 : i + 5])
    return False


def fold_quotes(text: str) -> str:
    """The new part of a reply: everything before the first quote introduction, without
    ``>`` lines. When nothing new is left (a bare forward), the text as it is."""
    lines = text.split("\n")
    cut = next((i for i in range(len(lines)) if _is_intro(lines, i)), len(lines))
    kept = [line for line in lines[:cut] if not _QUOTED.match(line)]
    new = _BLANKS.sub("\n\n", "\n".join(kept)).strip()
    return new if new else text


def split_own_text(text: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(own, quoted) as (start, end) offsets into ``text``: ``own`` are the runs of lines
    the writer added (above the first quote or forward introduction or ``-- `` signature
    line, and not ``>`` lines); ``quoted`` is everything else. Unlike ``fold_quotes``, a
    bare forward has no own text at all."""
    lines = text.split("\n")
    cut = next((i for i in range(len(lines)) if lines[i].strip() and (
        _is_intro(lines, i) or _FORWARD.match(lines[i]) or lines[i].rstrip("\r") == "-- ")), len(lines))
    own: list[tuple[int, int]] = []
    quoted: list[tuple[int, int]] = []
    offset = 0
    for i, line in enumerate(lines):
        if i == cut:
            quoted.append((offset, len(text)))
            break
        target = quoted if _QUOTED.match(line) else own
        if target and target[-1][1] == offset - 1:
            target[-1] = (target[-1][0], offset + len(line))
        else:
            target.append((offset, offset + len(line)))
        offset += len(line) + 1
    return own, quoted


def html_to_text(html: str) -> str:
    """Readable text from an HTML body (for mail without a text/plain part)."""
    marked = _BLOCK_END.sub(lambda m: m.group(0) + "\n", html)
    stripped = nh3.clean(marked, tags=set(), clean_content_tags=_NO_CONTENT)
    text = html_lib.unescape(stripped).replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
