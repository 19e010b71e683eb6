"""The crisis lexicon as data: it loads, its patterns cannot backtrack without end, the
dispatch by first characters misses nothing, the labelled set holds, and the default
crisis resources are there for both languages."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from re import _constants as sre_constants
from re import _parser as sre_parser

import pytest

from ecoach.core.crisis import Category, LexiconError, detect
from ecoach.core.crisis.lexicon import LANGUAGES, build, load
from ecoach.core.crisis.resources import CrisisResource, ResourceError, default_resources, relevant
from ecoach.core.crisis.text import words

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"


def _unbounded(items: object) -> bool:
    for op, value in items:  # type: ignore[attr-defined]
        if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
            if value[1] is sre_constants.MAXREPEAT or _unbounded(value[2]):
                return True
        elif op is sre_constants.SUBPATTERN and _unbounded(value[3]):
            return True
        elif op is sre_constants.BRANCH and any(_unbounded(branch) for branch in value[1]):
            return True
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT) and _unbounded(value[1]):
            return True
    return False


def test_every_compiled_pattern_has_only_bounded_repetition() -> None:
    lexicon = load()
    scope = lexicon.scope
    patterns = [rule.regex for rule in lexicon.rules] + [lexicon.idioms, scope.past, scope.recent, scope.denial_after]
    patterns += list(scope.contexts.values())
    for pattern in patterns:
        assert not _unbounded(sre_parser.parse(pattern.pattern)), pattern.pattern[:80]


@pytest.mark.parametrize(("toml", "message"), [
    ('[[rule]]\nid = "x"\ncategory = "suicidal"\npatterns = ["ik wil+ dood"]', "unbounded repetition"),
    ('[[rule]]\nid = "x"\ncategory = "suicidal"\npatterns = ["ik (wil )*dood"]', "unbounded repetition"),
    ('[[rule]]\nid = "x"\ncategory = "suicidal"\npatterns = ["ik w{1,}"]', "unbounded repetition"),
    ('[macros]\nA = "x*"\n[[rule]]\nid = "x"\ncategory = "suicidal"\npatterns = ["{A}"]', "unbounded repetition"),
    ('[[rule]]\nid = "x"\ncategory = "sad"\npatterns = ["ik"]', "unknown category 'sad'"),
    ('[[rule]]\nid = "x"\ncategory = "suicidal"\nkind = "vague"\npatterns = ["ik"]', "kind must be explicit or indirect"),
    ('[[rule]]\nid = "x"\ncategory = "suicidal"\npatterns = ["{ME} dood"]', "unknown macro {ME}"),
    ('[[rule]]\nid = "x"\ncategory = "suicidal"\npatterns = ["wil {gap:9} dood"]', "1 to 6 words"),
    ('[[rule]]\nid = "x"\ncategory = "suicidal"\npatterns = ["(wil"]', "en:x: missing )"),
    ('[[rule]]\nid = "x"\ncategory = "suicidal"\ncancelled_by = ["joke"]\npatterns = ["x"]', "names no [scope] list"),
    ('[[rule]]\ncategory = "suicidal"\npatterns = ["x"]', "missing or malformed entry"),
    ("[[rule]\n", "lexicon/en.toml"),
])
def test_a_lexicon_that_cannot_be_used_is_refused_with_the_reason(toml: str, message: str) -> None:
    with pytest.raises(LexiconError, match=re.escape(message)):
        build({"en": toml})


def test_the_packaged_lexicons_load_for_both_languages() -> None:
    lexicon = load()
    assert {rule.language for rule in lexicon.rules} == set(LANGUAGES)
    assert {rule.category for rule in lexicon.rules} == set(Category)
    assert {rule.kind for rule in lexicon.rules} == {"explicit", "indirect"}
    names = [rule.name for rule in lexicon.rules]
    assert len(names) == len(set(names))


def test_package_data_ships_the_lexicon_files() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["ecoach.core.crisis"]
    shipped = {path.name for glob in globs for path in (ROOT / "ecoach" / "core" / "crisis").glob(glob)}
    assert shipped == {f"{language}.toml" for language in LANGUAGES}


def _every_match(text: str) -> set[tuple[str, int, int]]:
    """Each rule tried at every word, without the first-characters dispatch."""
    lexicon = load()
    w = words(text, [(0, len(text))], lexicon.vocabulary)
    found = set()
    for at in w.at:
        for rule in lexicon.rules:
            match = rule.regex.match(w.line, at)
            if match:
                found.add((rule.name, w.token_at(match.start()), w.token_at(match.end() - 1)))
    return found


def _dispatched(text: str) -> set[tuple[str, int, int]]:
    lexicon = load()
    w = words(text, [(0, len(text))], lexicon.vocabulary)
    found = set()
    for k, word in enumerate(w.tokens):
        for rule in lexicon.starting.get(word[:3] if len(word) >= 3 else word + " ", ()) + lexicon.anywhere:
            match = rule.regex.match(w.line, w.at[k])
            if match:
                found.add((rule.name, k, w.token_at(match.end() - 1)))
    return found


def _labelled(name: str) -> list[dict]:  # type: ignore[type-arg]
    with open(DATA / name, encoding="utf-8") as source:
        return [json.loads(line) for line in source]


def test_dispatch_by_first_characters_finds_every_match_trying_all_rules_would() -> None:
    for row in _labelled("crisis_dev.jsonl") + _labelled("crisis_heldout.jsonl"):
        assert _dispatched(row["text"]) == _every_match(row["text"]), row["id"]


def test_the_labelled_sets_are_large_enough_distinct_and_well_formed() -> None:
    dev, held = _labelled("crisis_dev.jsonl"), _labelled("crisis_heldout.jsonl")
    assert len(dev) + len(held) >= 300 and len(held) >= 100
    assert not {r["text"] for r in dev} & {r["text"] for r in held}
    for row in dev + held:
        assert row["language"] in LANGUAGES and row["label"] in ("crisis", "none")
        assert (row["label"] == "crisis") == (row["category"] in {c.value for c in Category})
        assert row["kind"] in ("explicit", "indirect", "third_party", "negated", "past", "quoted", "idiom",
                               "everyday", "distress")
    for language in LANGUAGES:
        assert sum(r["language"] == language and r["label"] == "crisis" for r in held) >= 25


def test_the_development_set_meets_the_targets() -> None:
    rows = _labelled("crisis_dev.jsonl")
    fired = [(row, bool(detect(row["text"], row["language"]))) for row in rows]
    true_positives = sum(1 for row, hit in fired if hit and row["label"] == "crisis")
    precision = true_positives / max(1, sum(1 for _, hit in fired if hit))
    explicit = [hit for row, hit in fired if row["kind"] == "explicit"]
    assert sum(explicit) / len(explicit) >= 0.95
    assert precision >= 0.8


def test_default_resources_name_113_and_112_in_both_languages() -> None:
    for language in LANGUAGES:
        resources = default_resources(language)
        phones = {phone for resource in resources for phone in resource.phones}
        assert {"113", "0800-0113", "112", "0800-2000"} <= phones
        assert any(r.url == "https://www.113.nl" for r in resources)
    assert "English" in " ".join(r.description for r in default_resources("en"))
    assert default_resources("de") == default_resources(None) == default_resources("nl")
    assert default_resources("nl")[0].tel_links() == ("tel:113", "tel:08000113")


def test_relevant_resources_come_first_and_112_first_in_acute_danger() -> None:
    suicidal = [r.name for r in relevant(default_resources("nl"), {Category.SUICIDAL})]
    danger = [r.name for r in relevant(default_resources("nl"), {Category.DANGER})]
    assert suicidal[0] == "113 Zelfmoordpreventie"
    assert danger[:2] == ["112", "Veilig Thuis"]
    assert sorted(suicidal) == sorted(danger)  # nothing is left out


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "", "phones": ["113"]}, "name"),
    ({"name": "Praktijk"}, "phone number or an https:// address"),
    ({"name": "Praktijk", "phones": ["bel me"]}, "is not a phone number"),
    ({"name": "Praktijk", "url": "http://example.org"}, "must be an https:// address"),
    ({"name": "Praktijk", "url": "javascript:alert(1)"}, "must be an https:// address"),
    ({"name": "Praktijk", "phones": ["112"], "categories": ["sad"]}, "categories"),
])
def test_a_configured_resource_that_cannot_be_shown_is_refused(data: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ResourceError, match=re.escape(message)):
        CrisisResource.from_dict(data)


def test_a_configured_resource_round_trips() -> None:
    resource = CrisisResource.from_dict({"name": "Praktijk Bos", "description": "Tijdens kantooruren",
                                         "phones": "+31 6 1234 5678", "categories": ["danger"]})
    assert resource.tel_links() == ("tel:+31612345678",)
    assert CrisisResource.from_dict(resource.to_dict()) == resource


def test_the_default_resources_do_not_fire_themselves() -> None:
    # A reply that carries an automatic mail's resources along unquoted is no crisis.
    for resources in (default_resources("nl"), default_resources("en")):
        for resource in resources:
            assert detect(f"{resource.name}. {resource.description}", None) == []
