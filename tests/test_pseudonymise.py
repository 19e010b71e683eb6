"""The pseudonymiser behind the anonymised export (ecoach.core.pseudonymise)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecoach.core.pseudonymise import (KnownPerson, PseudonymiseError, RangeMark, StringMark,
                                      pseudonymise)
from tests.pseudonymise_set import cases, people, score

JAN = KnownPerson("Jan de Vries", ("jan@devries.nl",))


def _run(*texts: str, **kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("people", [JAN])
    return pseudonymise(list(texts), **kwargs)


def test_the_labelled_set_is_large_enough_and_well_formed() -> None:
    labelled = cases()
    assert sum(c.language == "nl" for c in labelled) >= 30
    assert sum(c.language == "en" for c in labelled) >= 30
    assert all(c.text.strip() and "[[" not in c.text for c in labelled)


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_labelled_set_is_found(language: str) -> None:
    scores, misses, extras = {}, [], []  # type: ignore[var-annotated]
    labelled = [c for c in cases() if c.language == language]
    known, organisations = people(language)
    result = pseudonymise([c.text for c in labelled], language=language, people=known,
                          organisations=organisations)
    for i, case in enumerate(labelled):
        score(case, [(r.start, r.end, r.kind) for r in result.in_text(i)], scores, misses, extras)
    gold = sum(s.gold for s in scores.values())
    assert sum(s.recalled for s in scores.values()) / gold >= 0.95, misses
    assert sum(s.correct for s in scores.values()) / sum(s.predicted for s in scores.values()) >= 0.9, extras


def test_the_same_person_gets_the_same_pseudonym_in_every_text_and_form() -> None:
    result = _run("Ik sprak Jan de Vries gisteren.", "Daarna belde jan nog.", "Jans fiets stond er.",
                  "Mevrouw De Vries was er ook.", "Jan's idea was good.", "Mail: jan@devries.nl")
    assert result.texts == ("Ik sprak Persoon A gisteren.", "Daarna belde Persoon A nog.",
                            "Persoon A's fiets stond er.", "Mevrouw Persoon A was er ook.",
                            "Persoon A's idea was good.", "Mail: [e-mail 1]")


def test_known_people_keep_their_letters_and_unknown_names_follow_in_order() -> None:
    result = _run("Hoi Marieke, Ahmed en Jan waren er.", "Ahmed Yilmaz bleef langer.",
                  people=[JAN, KnownPerson("Marieke Jansen")])
    assert result.texts == ("Hoi Persoon B, Persoon C en Persoon A waren er.", "Persoon C bleef langer.")


def test_labels_follow_the_language_of_the_export() -> None:
    text = "Call Tom Hughes on +44 7700 900123 or mail tom@example.org."
    assert _run(text, language="en").texts == ("Call Person B on [phone 1] or mail [e-mail 1].",)
    assert _run(text, language="nl").texts == ("Call Persoon B on [telefoon 1] or mail [e-mail 1].",)


def test_a_name_inside_an_email_address_or_link_goes_with_it() -> None:
    result = _run("Stuur het naar jan.devries@acme.nl of kijk op linkedin.com/in/jandevries.")
    assert result.texts == ("Stuur het naar [e-mail 1] of kijk op [link 1].",)
    assert [r.kind for r in result.replacements] == ["email", "url"]


def test_a_mark_over_part_of_a_found_span_hides_both_whole() -> None:
    text = "Mail naar sanne.bos@acme.nl vandaag."
    start = text.index("acme.nl vandaag")
    result = _run(text, marks=[RangeMark(0, start, start + len("acme.nl vandaag"))])
    assert result.texts == ("Mail naar [weggelaten 1].",)
    assert result.replacements[0].by_coach


def test_the_coach_marks_ranges_and_strings_and_keeps_false_alarms() -> None:
    texts = ["Ik loop elke dag langs de molen van Kinderdijk.", "Op de molen zag ik Teun.", "Teun zwaaide."]
    result = pseudonymise(texts, people=[JAN], marks=[
        StringMark("molen van kinderdijk", kind="place"), RangeMark(1, 3, 11), StringMark("Teun", kind="person")],
        keep=["Kinderdijk"])
    assert result.texts == ("Ik loop elke dag langs de Plaats A.", "Op [weggelaten 1] zag ik Persoon B.",
                            "Persoon B zwaaide.")
    assert _run("Gisteren zag ik Teun bij de bakker.", keep=["teun"]).texts == (
        "Gisteren zag ik Teun bij de bakker.",)


@pytest.mark.parametrize("mark", [RangeMark(3, 0, 1), RangeMark(0, 5, 5), RangeMark(0, 0, 99),
                                  RangeMark(0, 0, 2, kind="shoe size"), StringMark("  ")])
def test_a_bad_mark_gets_a_clear_error(mark) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PseudonymiseError):
        _run("Hallo daar.", marks=[mark])


def test_a_known_person_needs_a_name_or_address() -> None:
    with pytest.raises(PseudonymiseError, match="known person 2"):
        _run("Hallo.", people=[JAN, KnownPerson("  ")])


@pytest.mark.parametrize("text", [
    "Wil je de afspraak verzetten? Ben je er donderdag? Hoop het wel.",
    "Will you send the notes? May I ask why? Hope you slept well.",
    "Om 14.30 uur, 45 minuten, 1.250 euro, week 12, 3 juni 2025, 20%.",
    "In een crisis: bel 113 Zelfmoordpreventie op 0800-0113, of 112.",
    "We bespreken het via Teams of Zoom; HR en het MT weten ervan.",
    "I'm fine, I've slept, I'd like to, I'll call. The Board meets on Monday in March.",
    "Mijn leidinggevende zei dat ik te veel hooi op mijn vork neem.",
])
def test_ordinary_text_stays_as_it_is(text: str) -> None:
    assert _run(text).replacements == ()


def test_invisible_characters_do_not_hide_a_name_and_are_kept_elsewhere() -> None:
    text = "\u200fIk zag Ja\u200bn de\u00a0Vries\u200d en mail ja\u2060n@devries.nl\x00 \u202edag"
    result = _run(text)
    assert "Ja\u200bn" not in result.texts[0] and "devries" not in result.texts[0]
    assert result.texts[0].startswith("\u200fIk zag ") and result.texts[0].endswith("\x00 \u202edag")
    assert all(r.kind in ("person", "email") for r in result.replacements)


def test_a_huge_text_is_handled_whole() -> None:
    block = "Gisteren sprak ik Jan en Ahmed Yilmaz, bel 06-12345678. Het was 14.30 uur. "
    text = block * 8000 + "\x00" * 1000 + "9" * 20000
    result = _run(text)
    assert result.texts[0].count("Persoon A") == 8000 and result.texts[0].count("[telefoon 1]") == 8000
    assert "Yilmaz" not in result.texts[0]


def test_offsets_point_at_the_original_and_the_pseudonym() -> None:
    texts = ["Hoi Jan, bel Ahmed op 06-12345678.", "Ahmed's idee."]
    result = _run(*texts)
    for r in result.replacements:
        assert texts[r.text_index][r.start:r.end] == r.original
        assert result.texts[r.text_index][r.out_start:r.out_end] == r.pseudonym


def test_the_output_does_not_change_when_run_again() -> None:
    labelled = [c.text for c in cases()]
    once = pseudonymise(labelled, people=people("nl")[0], organisations=people("nl")[1])
    again = pseudonymise(once.texts, people=people("nl")[0], organisations=people("nl")[1])
    assert again.texts == once.texts
    assert again.replacements == ()


_WORDS = st.sampled_from(["Jan", "jan", "de", "Vries", "Ahmed", "bel", "06-12345678", "jan@devries.nl",
                          "Kerkstraat", "12", "3511 AB", "Utrecht", ".", ",", "\n", "B.V.", "Stichting",
                          "\u200b", "\x00", "NL91ABNA0417164300", "111222333", "www.acme.nl", "Ik", "'s"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_WORDS, max_size=25).map(" ".join), min_size=1, max_size=3))
def test_any_text_is_idempotent_and_unchanged_outside_its_spans(texts: list[str]) -> None:
    once = _run(*texts)
    assert _run(*once.texts).texts == once.texts
    for i, text in enumerate(texts):
        pos, out = 0, []
        for r in once.in_text(i):
            out += [text[pos:r.start], r.pseudonym]
            pos = r.end
        assert "".join(out) + text[pos:] == once.texts[i]
