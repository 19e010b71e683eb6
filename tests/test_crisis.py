"""Crisis signals in a coachee's message: what fires, what must not, and hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecoach.core.crisis import Category, detect, explain


def fires(text: str, language: str | None = "nl") -> set[Category]:
    return {signal.category for signal in detect(text, language)}


def reasons(text: str) -> set[str | None]:
    return {finding.suppressed for finding in explain(text)}


@pytest.mark.parametrize(("text", "category"), [
    # suicidal thoughts, explicit, in both languages and their spelling variants
    ("Ik wil dood.", Category.SUICIDAL),
    ("ik wil gwn dood", Category.SUICIDAL),
    ("Eerlijk gezegd wil ik er een eind aan maken.", Category.SUICIDAL),
    ("Ik maak er vannacht een einde aan.", Category.SUICIDAL),
    ("Ik wil niet meer leven.", Category.SUICIDAL),
    ("niet meer willen leven, dat is wat ik voel", Category.SUICIDAL),
    ("Ik denk aan zelfmoord.", Category.SUICIDAL),
    ("ik denk aan suïcide", Category.SUICIDAL),
    ("ik denk aan suicide", Category.SUICIDAL),
    ("Ik heb zelfmoordgedachten.", Category.SUICIDAL),
    ("ik ben suicidaal", Category.SUICIDAL),
    ("Ik wil mijn leven beëindigen.", Category.SUICIDAL),
    ("ik wil me gwn van kant maken", Category.SUICIDAL),
    ("I want to kill myself.", Category.SUICIDAL),
    ("i wanna die", Category.SUICIDAL),
    ("kms", Category.SUICIDAL),
    ("thinking about how to unalive myself", Category.SUICIDAL),
    ("I'm going to end my life.", Category.SUICIDAL),
    ("I've been having suicidal thoughts.", Category.SUICIDAL),
    ("My son says he wants to kill himself.", Category.SUICIDAL),  # someone else, now
    # self-harm
    ("Ik heb mezelf weer gesneden.", Category.SELF_HARM),
    ("Ik heb zin om mezelf pijn te doen.", Category.SELF_HARM),
    ("I cut myself again last night.", Category.SELF_HARM),
    ("The urge to self-harm is strong today.", Category.SELF_HARM),
    # violence to others, in each Dutch verb order
    ("Ik ga hem echt iets aandoen.", Category.VIOLENCE),
    ("Ik ben bang dat ik iemand iets ga aandoen.", Category.VIOLENCE),
    ("Ik ben zo kwaad dat ik haar wel iets kan aandoen.", Category.VIOLENCE),
    ("I'm afraid I'll hurt someone.", Category.VIOLENCE),
    # acute danger, abuse
    ("Mijn man slaat me.", Category.DANGER),
    ("Hij heeft gedreigd me te vermoorden.", Category.DANGER),
    ("He threatened to kill me.", Category.DANGER),
    ("My husband says he'll kill me if I leave him.", Category.DANGER),  # not the "will kill me if I forget" joke
    ("I don't feel safe at home.", Category.DANGER),
])
def test_explicit_statements_fire_with_their_category(text: str, category: Category) -> None:
    assert category in fires(text)


@pytest.mark.parametrize("text", [
    "Ik zie het niet meer zitten.",
    "Iedereen is beter af zonder mij.",
    "Ik heb afscheidsbrieven geschreven.",
    "Everyone would be better off without me.",
    "I've been giving my things away.",
    "I just want to go to sleep and never wake up.",
])
def test_indirect_statements_fire_as_indirect(text: str) -> None:
    signals = detect(text, "nl")
    assert signals and all(s.kind == "indirect" for s in signals)
    assert {s.category for s in signals} == {Category.SUICIDAL}


@pytest.mark.parametrize("text", [
    "I'd never hurt myself.",
    "I would never, ever hurt myself.",
    "Ik denk er niet aan om er een eind aan te maken.",
    "Ik zou mezelf nooit iets aandoen.",
    "I no longer have thoughts of ending my life.",
    "Ik heb geen zelfmoordgedachten meer.",
    "I'm not suicidal, just tired.",
    "Nee, ik ben niet suïcidaal.",
    "He doesn't hit me.",
    "Mijn partner slaat me niet.",
    "Suicide is not something I'd ever consider.",
    "Zelfmoord is nooit een optie geweest.",
])
def test_denials_do_not_fire(text: str) -> None:
    assert fires(text) == set()
    assert reasons(text) <= {"negated"}


@pytest.mark.parametrize("text", [
    "I no longer want to live.",  # "no longer" is the statement, not a denial of it
    "Ik wil niet meer leven.",
    "I don't know why I want to die.",  # "why" ends the reach of "don't"
    "Ik weet niet waarom ik dood wil.",
    "Not good, I want to die.",
    "Nee, ik wil dood.",
])
def test_a_negation_elsewhere_does_not_cancel(text: str) -> None:
    assert Category.SUICIDAL in fires(text)


@pytest.mark.parametrize("text", [
    "Ik ga dood van het lachen.",
    "Ik schrik me dood.",
    "Dat was dodelijk vermoeiend.",
    "Ik kan hem wel vermoorden, hij at mijn taart op.",
    "Over mijn lijk.",
    "I could kill for a coffee.",
    "This deadline is killing me.",
    "I'm dying to know!",
    "I'm bored to death.",
    "I've cut myself off from social media.",
    "I'm killing myself to finish this report.",
])
def test_everyday_idioms_do_not_fire(text: str) -> None:
    assert fires(text) == set()


@pytest.mark.parametrize("text", [
    "We had a suicide prevention training.",
    "Ik lees een boek over zelfmoord.",
    "Ik wil een einde maken aan het uitstelgedrag.",
    "I want to end my contract with this client.",
    "Mijn telefoon is dood.",
    "Ik heb mezelf in mijn vinger gesneden bij het koken.",
    "I cut myself shaving.",
    "I don't want to live like this anymore, sixty hours a week.",
    "Ik wil niet meer naar die borrels.",
])
def test_everyday_words_do_not_fire(text: str) -> None:
    assert fires(text) == set()


def test_the_past_that_is_over_does_not_fire_but_its_return_does() -> None:
    assert fires("I used to self-harm in high school.") == set()
    assert fires("Toen ik zestien was, heb ik een zelfmoordpoging gedaan.") == set()
    assert "past" in reasons("Vroeger sneed ik mezelf.")
    assert Category.SELF_HARM in fires("I used to self-harm, and it started again last week.")
    assert Category.SUICIDAL in fires("I want to die, I used to be so happy.")  # the past is another clause


def test_a_joke_cancels_a_threat_but_never_suicidal_words() -> None:
    assert fires("Als hij nog één keer boort, vermoord ik hem 😅") == set()
    assert "joke" in reasons("I'm going to strangle him haha")
    assert Category.VIOLENCE in fires("Ik ga hem vermoorden, ik meen het.")
    assert Category.SUICIDAL in fires("I'm gonna kill myself lol")


QUOTED = [
    "Dank je!\n\nOp 3 maart 2025 om 10:12 schreef Marieke Bos <marieke@example.org>:\n> Denk je aan zelfmoord? Bel 113.",
    "Thanks!\n\nOn Mon, 3 Mar 2025 at 10:12, Marieke Bos <marieke@example.org> wrote:\n> You wrote that you want to die. How are you now?",
    "> I want to die\nThat was January; I'm much better now.",
    "Prima.\n\nFrom: Marieke Bos\nSent: Monday, 3 March 2025 10:12\nTo: Sam\n\nYou said you wanted to die. Is that still so?",
    "FYI\n\n---------- Forwarded message ---------\nFrom: GP <gp@example.org>\n\nThoughts of suicide? Call 113.",
    "Ter info\n\n---------- Doorgestuurd bericht ---------\nVan: Huisarts\n\nIk wil dood, schreef u.",
    "Begin forwarded message:\n\nFrom: Alex\n\nI want to kill myself",
    "Groet, Sanne\n-- \nVrijwilliger bij een lijn voor mensen die niet meer willen leven",
]


@pytest.mark.parametrize("text", QUOTED)
def test_quoted_and_forwarded_mail_does_not_fire(text: str) -> None:
    assert fires(text) == set()
    assert "quoted" in reasons(text)


def test_own_words_above_a_quote_or_between_quoted_lines_fire() -> None:
    assert fires("Ik wil niet meer leven.\n\nOp di 4 mrt 2025 schreef Marieke:\n> Hoe gaat het?")
    assert fires("> How are you?\nBad. I cut my arm last night.\n> Exercises?\nNo.") == {Category.SELF_HARM}


def test_mixed_languages_are_both_checked() -> None:
    assert fires("Sorry voor de late reactie, I've been cutting myself again.", "nl") == {Category.SELF_HARM}
    assert fires("Honestly ik wil gewoon dood.", "en") == {Category.SUICIDAL}
    assert fires("ik wil dood", None) == fires("ik wil dood", "de") == {Category.SUICIDAL}
    assert fires("ik wil dood", "nl-BE") == fires("ik wil dood", "../../etc/passwd") == {Category.SUICIDAL}


def test_a_signal_names_its_rule_and_where_it_is() -> None:
    text = "Hoi Marieke.\n\nEerlijk gezegd wil ik er een eind aan maken. En I want to die."
    signals = detect(text, "nl")
    assert [s.rule for s in signals] == ["nl:eind-aan-maken", "en:want-to-die"]
    assert [s.language for s in signals] == ["nl", "en"]
    for signal in signals:
        assert all(text[start:end] == excerpt for (start, end), excerpt in zip(signal.spans, signal.excerpts))
    assert signals[0].excerpts == ("er een eind aan maken",)


def test_spans_point_into_the_original_text_whatever_was_folded_away() -> None:
    text = "Zo’n week 😩. Ik w\u200bil\u00ad éчht d\u200bood"  # curly apostrophe, emoji, zero-width, soft hyphen, Cyrillic ч
    (signal,) = detect(text, "nl")
    (start, end), = signal.spans
    assert text[start:end] == signal.excerpts[0] and signal.excerpts[0].startswith("w\u200bil")


@pytest.mark.parametrize("text", [
    "zelf\u200bmoord\u200bgedachten",  # zero-width space inside the word
    "ik\u2060 wil\u200d dood",  # word joiner, zero-width joiner
    "\u202eik wil dood\u202c",  # right-to-left override and pop
    "\u200fik wil dood\u200e",  # RTL and LTR marks
    "ik wil do\x00od",  # NUL inside a word
    "ｉｋ ｗｉｌ ｄｏｏｄ",  # full-width letters
    "ik wіl dооd",  # Cyrillic і and о
    "I want to K I L L myself",  # spelled out
    "su1c1dal thoughts",  # digits for letters
    "I want to kill myselfff",  # stretched letters
    "zelf-moordgedachten",  # hyphenated
])
def test_evasions_and_invisible_characters_still_fire(text: str) -> None:
    assert fires(text)


def test_lone_surrogates_and_control_characters_are_read_safely() -> None:
    assert fires("ik wil\ud800 dood \udfff") == {Category.SUICIDAL}
    assert fires("\ud800\udc00\x01\x1f\x7f") == set()
    assert fires("") == fires(" \n\t ") == set()


def test_hostile_megabyte_inputs_finish_with_the_right_answer() -> None:
    size = 1_000_000
    assert fires("a" * size) == set()
    assert fires("\x00" * size) == set()
    assert fires("\ud800" * size) == set()
    assert fires("\n" * size) == set()
    assert fires("a-" * (size // 2)) == set()
    assert fires("\u200b" * size + "ik wil dood") == {Category.SUICIDAL}
    signals = detect("ik wil dood. " * (size // 13), "nl")
    assert len(signals) == 1 and len(signals[0].spans) == 20  # a rule stops being tried after 20 matches


def test_hostile_inputs_full_of_near_matches_finish_with_the_right_answer() -> None:
    size = 200_000
    assert fires("wil " * (size // 4)) == set()
    assert fires("> ik wil dood\n" * (size // 14)) == set()
    assert fires("ik wil niet dood. " * (size // 18)) == set()
    assert fires("x " * (size // 2) + "I want to kill myself") == {Category.SUICIDAL}


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=()), max_size=300))
def test_any_text_gives_signals_whose_spans_are_inside_it(text: str) -> None:
    for signal in detect(text, "nl"):
        for (start, end), excerpt in zip(signal.spans, signal.excerpts):
            assert 0 <= start < end <= len(text) and text[start:end] == excerpt


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["ik", "wil", "niet", "dood", "I", "want", "to", "die", "never", "myself", "kill",
                                 "mezelf", "zelfmoord", ",", ".", "\n", "> ", "haha", "lol", "wrote:", "On"]),
                max_size=40))
def test_any_arrangement_of_crisis_words_is_read_without_error(parts: list[str]) -> None:
    text = " ".join(parts)
    assert {f.start for f in explain(text)} <= set(range(len(text)))
