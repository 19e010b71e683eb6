"""The coach's resource library: texts, links, files and exercises to share again.

A resource is the coach's own data (sealed with the coach's key). Its words and tags are
searchable through keyed hashes (``resource_term``): the database never holds them
readable, yet ``get_resources`` finds every resource that has all the words asked for
(word prefixes of three letters or more match too).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.chat_files import ReadyFile
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.core.text import normalise_message
from ecoach.logbook import resource_queries
from ecoach.logbook.keyring import keyring_of
from ecoach.logbook.resource_models import KINDS, Resource, ResourceShare, ResourceTerm

TITLE_MAX = 200
URL_MAX = 2000
QUESTIONS_MAX = 30
QUESTION_CHARS = 1000
TAGS_MAX = 20
TAG_CHARS = 40
PREFIX_MIN, PREFIX_MAX = 3, 12
TERMS_MAX = 3000
KIND_LABELS = {"text": N_("text"), "link": N_("link"), "file": N_("file"), "exercise": N_("exercise")}


@dataclass(frozen=True)
class ResourceForm:
    kind: str
    title: str
    body: str | None
    url: str | None
    questions: list[str] | None
    tags: list[str]


def _field(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name, "")
    return value if isinstance(value, str) else ""


def check_resource(fields: Mapping[str, Any], *, has_file: bool, max_chars: int) -> ResourceForm:
    """The form, validated for its kind; a clear error names what is wrong."""
    kind = _field(fields, "kind")
    if kind not in KINDS:
        raise ActionError("resource_kind", N_("Choose what kind of resource this is: a text, a link, a file "
                                              "or an exercise."))
    title = " ".join(_field(fields, "title").split())
    if not title or len(title) > TITLE_MAX:
        raise ActionError("resource_title", N_("Give the resource a title of at most %(max)s characters."),
                          max=TITLE_MAX)
    body = normalise_message(_field(fields, "body")) or None
    if body is not None and len(body) > max_chars:
        raise ActionError("resource_body", N_("The text is %(length)s characters long; the limit is %(limit)s."),
                          length=len(body), limit=max_chars)
    if kind == "text" and not body:
        raise ActionError("resource_body_missing", N_("A text resource needs its text."))
    url = check_url(_field(fields, "url")) if kind == "link" else None
    questions = check_questions(_field(fields, "questions")) if kind == "exercise" else None
    if kind == "file" and not has_file:
        raise ActionError("resource_file_missing", N_("Choose the file to keep in the library."))
    return ResourceForm(kind, title, body, url, questions, check_tags(_field(fields, "tags")))


def check_url(raw: str) -> str:
    url = raw.strip()
    parts = urlsplit(url) if len(url) <= URL_MAX else None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.netloc
            or any(c.isspace() or ord(c) < 32 for c in url)):
        raise ActionError("resource_url", N_("A link must be a web address starting with https:// or http://."))
    return url


def check_questions(raw: str) -> list[str]:
    questions = [" ".join(line.split()) for line in raw.splitlines() if line.strip()]
    if not questions or len(questions) > QUESTIONS_MAX or any(len(q) > QUESTION_CHARS for q in questions):
        raise ActionError("resource_questions", N_("An exercise needs 1 to %(max)s questions, one per line, of "
                                                   "at most %(chars)s characters each."),
                          max=QUESTIONS_MAX, chars=QUESTION_CHARS)
    return questions


def check_tags(raw: str) -> list[str]:
    tags: list[str] = []
    for part in raw.split(","):
        tag = " ".join(part.split()).casefold()
        if tag and tag not in tags:
            tags.append(tag)
    if len(tags) > TAGS_MAX or any(len(t) > TAG_CHARS for t in tags):
        raise ActionError("resource_tags", N_("At most %(max)s tags, of at most %(chars)s characters each."),
                          max=TAGS_MAX, chars=TAG_CHARS)
    return tags


# --- search terms ----------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    """Casefolded, accents removed: "Oefening", "oefêning" and "OEFENING" search alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def plain_terms(resource: Resource) -> set[str]:
    """The words (every prefix of 3 to 12 letters too) and tags a resource is found by."""
    text = " ".join(filter(None, [resource.title, resource.body, resource.url, resource.file_name,
                                  *(resource.questions or [])]))
    terms: set[str] = set()
    for word in _WORD.findall(fold(text)):
        terms.add("w:" + word[:64])
        terms.update("p:" + word[:n] for n in range(PREFIX_MIN, min(len(word), PREFIX_MAX) + 1))
    terms.update("t:" + fold(tag) for tag in resource.tags or [])
    return set(sorted(terms)[:TERMS_MAX])


def query_terms(query: str, tag: str | None) -> list[str]:
    """What a search asks for, in the form ``plain_terms`` stores."""
    terms = ["p:" + w[:PREFIX_MAX] if len(w) >= PREFIX_MIN else "w:" + w for w in _WORD.findall(fold(query))]
    if tag:
        terms.append("t:" + fold(" ".join(tag.split())))
    return terms


async def blind_terms(session: AsyncSession, terms: list[str] | set[str]) -> list[str]:
    key = await keyring_of(session).purpose_key(session, "blind")
    return [key.blind("resource_term", term) for term in terms]


async def _index(session: AsyncSession, resource: Resource) -> None:
    await session.execute(delete(ResourceTerm).where(ResourceTerm.resource_id == resource.id))
    hashed = await blind_terms(session, plain_terms(resource))
    if hashed:
        await session.execute(insert(ResourceTerm), [
            {"resource_id": resource.id, "term": term, "coach_id": resource.coach_id} for term in set(hashed)])


async def search_resources(session: AsyncSession, coach_id: int, query: str = "", tag: str | None = None,
                           *, limit: int = 200) -> list[Resource]:
    terms = query_terms(query, tag)
    hashed = await blind_terms(session, terms) if terms else None
    return await resource_queries.get_resources(session, coach_id, terms=hashed, limit=limit)


# --- writing -----------------------------------------------------------------------------


def _apply(resource: Resource, form: ResourceForm, file: ReadyFile | None) -> None:
    resource.kind, resource.title, resource.body = form.kind, form.title, form.body
    resource.url, resource.questions, resource.tags = form.url, form.questions, form.tags
    if file is not None:
        resource.file_name, resource.file_type = file.checked.name, file.checked.content_type
        resource.file_size, resource.file_data = file.checked.size, file.data
    elif form.kind != "file":
        resource.file_name = resource.file_type = resource.file_size = resource.file_data = None


async def do_create_resource(session: AsyncSession, coach_id: int, form: ResourceForm, file: ReadyFile | None,
                             now: datetime) -> Resource:
    resource = Resource(coach_id=coach_id, created_at=now, updated_at=now)
    _apply(resource, form, file)
    session.add(resource)
    await session.flush()
    await _index(session, resource)
    return resource


async def do_update_resource(session: AsyncSession, resource: Resource, form: ResourceForm,
                             file: ReadyFile | None, now: datetime) -> Resource:
    if form.kind == "file" and file is None and resource.file_data is None:
        raise ActionError("resource_file_missing", N_("Choose the file to keep in the library."))
    _apply(resource, form, file)
    resource.updated_at = now
    await session.flush()
    await _index(session, resource)
    return resource


async def do_delete_resource(session: AsyncSession, resource: Resource) -> None:
    """Gone from the library; what was shared stays with each engagement as it was sent."""
    await session.execute(update(ResourceShare).where(ResourceShare.resource_id == resource.id)
                          .values(resource_id=None))
    await session.execute(delete(ResourceTerm).where(ResourceTerm.resource_id == resource.id))
    await session.delete(resource)
    await session.flush()


async def get_owned_resource(session: AsyncSession, coach_id: int, resource_id: int) -> Resource:
    found = await resource_queries.get_resource(session, coach_id, resource_id)
    if found is None:
        raise NotFound("resource_unknown", N_("This resource does not exist."))
    return found
