"""Outgoing mail is well formed, and reply tokens find their engagement and nothing else."""

from __future__ import annotations

from datetime import datetime, timezone
from email import message_from_bytes
from email.policy import default as default_policy

from hypothesis import given, strategies as st

from ecoach.core.mail.compose import compose_mail, subject_for_reply
from ecoach.core.reply_tokens import find_tokens, make_token, read_token, reply_address

WHEN = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
FORM = "{local}+{token}@{domain}"


def compose(**given):  # type: ignore[no-untyped-def]
    values = dict(from_name="Marieke Bos", from_address="coach@coaching.test", to_address="sanne@example.test",
                  to_name="Sanne de Vries", reply_to="coach+abc@coaching.test", subject="Je week",
                  text="Hoi Sanne,\n\nHoe ging het? https://example.test/x", html=None,
                  message_id_domain="coaching.test", in_reply_to=None, references=[], date=WHEN)
    message, message_id = compose_mail(**(values | given))
    return message_from_bytes(message.as_bytes(), policy=default_policy), message_id


def test_reply_is_utf8_text_with_html_alternative_and_threading() -> None:
    mail, message_id = compose(subject="Één stap", in_reply_to="<m1@example.test>",
                               references=["<m0@example.test>", "<m1@example.test>"])
    assert mail["Message-ID"] == message_id and message_id.endswith("@coaching.test>")
    assert mail["In-Reply-To"] == "<m1@example.test>"
    assert mail["References"].split() == ["<m0@example.test>", "<m1@example.test>"]
    assert str(mail["Subject"]) == "Één stap"
    assert mail["From"].addresses[0].display_name == "Marieke Bos"
    assert mail["Reply-To"].addresses[0].addr_spec == "coach+abc@coaching.test"
    assert mail["Auto-Submitted"] is None
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Hoe ging het?" in plain
    assert '<a href="https://example.test/x"' in html and "<script" not in html


def test_html_from_outside_is_sanitized() -> None:
    mail, _ = compose(html='<p onclick="x()">Hi<script>alert(1)</script><a href="javascript:x">y</a></p>')
    html = mail.get_body(("html",)).get_content()
    assert "script" not in html and "onclick" not in html and "javascript:" not in html


def test_automatic_mail_is_marked_and_names_cannot_inject_headers() -> None:
    mail, _ = compose(auto="auto-replied", to_name="Sanne\r\nBcc: evil@example.test")
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["Bcc"] is None
    assert mail["To"].addresses[0].addr_spec == "sanne@example.test"


def test_calendar_invite_rides_along() -> None:
    ics = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    mail, _ = compose(calendar=(ics, "REQUEST"), attachments=[("notes.txt", "text/plain", b"hi")])
    parts = {p.get_content_type(): p for p in mail.walk()}
    assert parts["text/calendar"].get_param("method") == "REQUEST"
    assert parts["application/ics"].get_filename() == "invite.ics"
    assert [p.get_filename() for p in mail.iter_attachments()] == ["invite.ics", "notes.txt"]


def test_reply_subject_gets_one_prefix() -> None:
    assert subject_for_reply("Je week", "nl") == "Re: Je week"
    assert subject_for_reply("RE: Je week", "nl") == "RE: Je week"
    assert subject_for_reply("Antw: Je week", "nl") == "Antw: Je week"
    assert subject_for_reply("  ", "nl") == "Re: je bericht"


@given(st.integers(min_value=1, max_value=2**47), st.text(min_size=1, max_size=40))
def test_token_round_trip_and_wrong_key(engagement_id: int, secret: str) -> None:
    token = make_token(secret, engagement_id)
    assert read_token(secret, token) == engagement_id
    assert read_token(secret, token.upper()) == engagement_id  # mail systems may fold case
    assert read_token(secret + "x", token) is None


@given(st.integers(min_value=1, max_value=2**40), st.integers(min_value=0, max_value=25),
       st.sampled_from("abcdefghijklmnopqrstuvwxyz234567"))
def test_altered_tokens_are_refused(engagement_id: int, position: int, char: str) -> None:
    token = make_token("secret", engagement_id)
    altered = token[:position] + char + token[position + 1:]
    if altered != token:
        assert read_token("secret", altered) is None


@given(st.text(max_size=80))
def test_reading_any_text_never_raises(text: str) -> None:
    assert read_token("secret", text) is None or isinstance(read_token("secret", text), int)


def test_tokens_are_found_in_any_recipient_form() -> None:
    token = make_token("secret", 7)
    address = reply_address(token, local="coach", domain="coaching.test", form=FORM)
    found = find_tokens([f'"Coach" <{address.upper()}>', "other@example.test", "coach@coaching.test", address],
                        local="coach", domain="coaching.test", form=FORM)
    assert found == [token]
    assert find_tokens([address.replace("coaching.test", "elsewhere.test")], local="coach",
                       domain="coaching.test", form=FORM) == []
