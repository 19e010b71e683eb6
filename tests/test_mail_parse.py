"""Parsing inbound mail: any bytes in, a sane ParsedMail out (hypothesis over random
bytes, generated MIME trees and mutated mails), and hand-made hostile mails that each
end in the logbook or the quarantine exactly once, on both databases."""

from __future__ import annotations

import base64
import quopri
from email.headerregistry import Address
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st
from sqlalchemy import select

from ecoach.core.mail.parse import ParsedMail, parse_mail
from ecoach.core.mail.quoting import fold_quotes
from ecoach.core.text import normalise_message
from ecoach.logbook.mail_models import Attachment, MailOutbox, MailSource, Quarantine
from ecoach.logbook.models import Exchange
from tests.mail_support import COACHEE, DOMAIN, all_rows, build_mail, count, dsn, make_world, placed_once, reply_to, take

MAX = 64 * 1024
FAST = settings(max_examples=int(__import__("os").environ.get("ECOACH_HYPOTHESIS_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.data_too_large])


def assert_sane(parsed: ParsedMail, raw: bytes, max_bytes: int = MAX) -> None:
    strings = [parsed.subject, parsed.text, parsed.new_text, parsed.dedupe_key, parsed.html or "",
               parsed.from_address or "", parsed.from_name or "", parsed.message_id or "",
               parsed.return_path or "", parsed.bounce_status or "", parsed.bounce_action or "",
               *parsed.to, *parsed.cc, *parsed.delivered_to, *parsed.in_reply_to, *parsed.references,
               *parsed.bounce_original_message_ids, *parsed.flags,
               *(a.filename for a in parsed.attachments), *(a.content_type for a in parsed.attachments)]
    for value in strings:
        assert isinstance(value, str)
        assert "\x00" not in value
        value.encode("utf-8")  # no lone surrogates: both databases take it
    assert parsed.size == len(raw)
    assert parsed.oversized == (len(raw) > max_bytes)
    assert len(parsed.subject) <= 998 and "\n" not in parsed.subject
    assert 0 < len(parsed.dedupe_key) <= 400
    assert parsed.dedupe_key == parse_mail(raw, max_bytes=max_bytes).dedupe_key  # deterministic
    if parsed.message_id is not None:
        assert parsed.message_id.startswith("<") and parsed.message_id.endswith(">")
        assert len(parsed.message_id) <= 300 and parsed.dedupe_key == "mid:" + parsed.message_id
    else:
        assert parsed.dedupe_key.startswith("sha256:")
    for address in [parsed.from_address, *parsed.to, *parsed.cc, *parsed.delivered_to]:
        if address is not None:
            assert "@" in address and len(address) <= 320 and not any(c.isspace() for c in address)
    if parsed.from_name is not None:
        assert len(parsed.from_name) <= 200 and "\n" not in parsed.from_name
    for mid in [*parsed.in_reply_to, *parsed.references, *parsed.bounce_original_message_ids]:
        assert mid.startswith("<") and mid.endswith(">") and len(mid) <= 300
    assert len(parsed.new_text) <= len(parsed.text)
    assert parsed.flags == sorted(set(parsed.flags))
    if parsed.oversized:
        assert parsed.attachments == []
    if parsed.is_bounce:
        assert parsed.auto_submitted
    for attachment in parsed.attachments:
        assert isinstance(attachment.data, bytes)
        assert 0 < len(attachment.filename) <= 255 and "/" not in attachment.filename
    if parsed.html is not None:
        lowered = parsed.html.lower()
        assert "<script" not in lowered and "javascript:" not in lowered and "onerror" not in lowered


# --- strategies ------------------------------------------------------------------------

CHARSETS = ["utf-8", "us-ascii", "iso-8859-1", "windows-1252", "koi8-r", "shift_jis", "gb2312", "utf-16",
            "utf-7", "x-unknown-bogus", "", '"utf-8"', "zlib", "base64", "rot13", "unicode_escape",
            "iso-8859-8-i", "ks_c_5601-1987", "x" * 300]
ENCODINGS = ["7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "bogus"]
TYPES = ["text/plain", "text/html", "application/pdf", "image/png", "message/rfc822", "message/delivery-status",
         "text/rfc822-headers", "application/octet-stream", "text/calendar", "bogus", "text/", "/"]
HEADER_NAMES = ["From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References", "Delivered-To",
                "Return-Path", "Auto-Submitted", "Precedence", "X-Autoreply", "List-Id", "Reply-To",
                "Date", "Content-Type", "MIME-Version", "X-Random"]

texts = st.text(max_size=80)
raw_bytes = st.binary(max_size=80)


@st.composite
def header_values(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(texts).encode("utf-8", "surrogatepass")
    if kind == 1:
        return draw(raw_bytes).replace(b"\n", b" ").replace(b"\r", b" ")
    if kind == 2:
        charset = draw(st.sampled_from(CHARSETS))
        method = draw(st.sampled_from("BQbqX"))
        payload = draw(st.sampled_from([base64.b64encode(draw(raw_bytes)).decode(), draw(texts), "!!!", "=ZZ"]))
        return f"=?{charset}?{method}?{payload}?=".encode("utf-8", "surrogatepass")
    if kind == 3:
        name = draw(texts).replace("\n", " ").replace("\r", " ")
        return f'"{name}" <{draw(st.sampled_from(["a@b.nl", "", "<<>>", "x@", "@y", COACHEE]))}>'.encode(
            "utf-8", "surrogatepass")
    if kind == 4:
        return b" ".join(f"<{draw(texts)}@x>".encode("utf-8", "surrogatepass") for _ in range(draw(st.integers(0, 4))))
    return b"x" * draw(st.integers(0, 5000))


@st.composite
def header_block(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        name = draw(st.sampled_from(HEADER_NAMES) | st.text(min_size=1, max_size=10).filter(
            lambda t: ":" not in t and "\n" not in t and "\r" not in t))
        value = draw(header_values())
        if draw(st.integers(0, 9)) == 0:  # a folded continuation line
            value += b"\r\n\t" + draw(header_values())
        lines.append(name.encode("utf-8", "surrogatepass") + b": " + value)
    return b"\r\n".join(lines)


@st.composite
def leaf_part(draw: st.DrawFn) -> bytes:
    ctype, charset, encoding = (draw(st.sampled_from(TYPES)), draw(st.sampled_from(CHARSETS)),
                                draw(st.sampled_from(ENCODINGS)))
    body = draw(raw_bytes | texts.map(lambda t: t.encode("utf-8", "surrogatepass")))
    if encoding == "base64" and draw(st.booleans()):
        body = base64.encodebytes(body)
    elif encoding == "quoted-printable" and draw(st.booleans()):
        body = quopri.encodestring(body)
    headers = [f"Content-Type: {ctype}; charset={charset}", f"Content-Transfer-Encoding: {encoding}"]
    if draw(st.booleans()):
        disposition = draw(st.sampled_from(["attachment", "inline", "bogus", ""]))
        filename = draw(st.sampled_from(["a.pdf", "../../etc/passwd", "", "x" * 400, "naïve.txt", "a\x00b"]))
        headers.append(f'Content-Disposition: {disposition}; filename="{filename}"')
    return "\r\n".join(headers).encode("utf-8", "surrogatepass") + b"\r\n\r\n" + body


def multipart(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report", "signed", "digest"]))
        boundary = draw(st.sampled_from(["b1", "==x==", "", "a" * 80, "b1 "]) | st.text(max_size=10))
        parts = draw(st.lists(children, max_size=4))
        extra = "; report-type=delivery-status" if subtype == "report" and draw(st.booleans()) else ""
        out = f'Content-Type: multipart/{subtype}; boundary="{boundary}"{extra}\r\n\r\npreamble\r\n'.encode(
            "utf-8", "surrogatepass")
        mark = boundary.encode("utf-8", "surrogatepass")
        for part in parts:
            out += b"--" + mark + b"\r\n" + part + b"\r\n"
        if draw(st.booleans()):  # a closing boundary is often missing in the wild
            out += b"--" + mark + b"--\r\n"
        return out

    return build()


mime_trees = st.recursive(leaf_part(), multipart, max_leaves=8)


@st.composite
def generated_mails(draw: st.DrawFn) -> bytes:
    return draw(header_block()) + b"\r\n" + draw(mime_trees)


WELL_FORMED = build_mail(message_id="<base@x>", attachments=(("a.pdf", "application/pdf", b"%PDF" * 50),))


@st.composite
def mutated_mails(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(generated_mails() | st.just(WELL_FORMED)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 3))
        at = draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == 0:
            del raw[at: at + draw(st.integers(1, 40))]
        elif op == 1:
            raw[at:at] = draw(st.sampled_from([b"\r\n", b"\r\n\r\n", b"--b1\r\n", b"=?utf-8?b?", b"\xff\xfe",
                                                b"\x00", b"Content-Type: multipart/mixed\r\n"]) | raw_bytes)
        elif op == 2 and raw:
            raw[at] = draw(st.integers(0, 255))
        else:
            raw[at:at] = raw[at: at + draw(st.integers(1, 200))]
    return bytes(raw)


# --- properties ------------------------------------------------------------------------


@FAST
@given(st.binary(max_size=4000))
@example(b"")
@example(b"\r\n\r\n")
@example(b"From: \r\n\r\n")
def test_any_bytes_give_a_parsed_mail(raw: bytes) -> None:
    assert_sane(parse_mail(raw, max_bytes=MAX), raw)


@FAST
@given(generated_mails())
def test_generated_mime_trees_parse(raw: bytes) -> None:
    assert_sane(parse_mail(raw, max_bytes=MAX), raw)


@FAST
@given(mutated_mails(), st.sampled_from([1024, MAX]))
def test_mutated_mails_parse(raw: bytes, max_bytes: int) -> None:
    assert_sane(parse_mail(raw, max_bytes=max_bytes), raw, max_bytes)


readable = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")) | st.just("\n"), max_size=300)
names = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=40)


@FAST
@given(readable, names, names, st.sampled_from(["utf-8", "iso-8859-1", "windows-1252", "koi8-r"]))
def test_what_is_sent_is_what_is_read(text: str, subject: str, name: str, charset: str) -> None:
    """A well-formed mail round-trips: its text, subject and sender come back as sent."""
    message = EmailMessage()
    message["From"] = Address(display_name=name, addr_spec=COACHEE)
    message["Subject"] = subject
    message["Message-ID"] = "<round@trip>"
    try:
        text.encode(charset)
        message.set_content(text, charset=charset)
    except (UnicodeEncodeError, ValueError):
        message.set_content(text)
    raw = message.as_bytes()
    parsed = parse_mail(raw, max_bytes=MAX)
    assert_sane(parsed, raw)
    assert parsed.text == normalise_message(text.replace("\r", "\n"))
    assert parsed.subject == " ".join(subject.split())
    assert parsed.from_address == COACHEE
    # (the stdlib may fold a long name into encoded words that come back with a space between)
    assert "".join((parsed.from_name or "").split()) == "".join(name.split())
    assert (parsed.message_id, parsed.flags) == ("<round@trip>", [])


# --- what the fields say -----------------------------------------------------------------


def test_quoted_earlier_text_is_folded_away() -> None:
    english = "Thanks, that helps!\n\nOn Wed, 25 Nov 2026 at 10:00, Marieke Bos <\ncoach@x.nl> wrote:\n> Earlier\n> text"
    dutch = "Dank je!\n\nOp wo 25 nov. 2026 om 10:00 schreef Marieke Bos <coach@x.nl>:\n> Eerder"
    outlook = "Prima.\n\n________________________________\nVan: Marieke Bos\nVerzonden: woensdag\nOnderwerp: x\n\nOud"
    inline = "> Hoe ging het?\nGoed!\n> En verder?\nOok goed."
    assert fold_quotes(english) == "Thanks, that helps!"
    assert fold_quotes(dutch) == "Dank je!"
    assert fold_quotes(outlook) == "Prima."
    assert fold_quotes(inline) == "Goed!\nOok goed."
    assert fold_quotes("> only quoted") == "> only quoted"  # nothing new: keep it all


def test_auto_submitted_markers() -> None:
    for header in ({"Auto-Submitted": "auto-replied"}, {"Precedence": "bulk"}, {"Precedence": "list"},
                   {"X-Autoreply": "yes"}, {"X-Autorespond": "1"}, {"List-Id": "<l.example>"},
                   {"List-Unsubscribe": "<mailto:u@x>"}, {"Return-Path": "<>"}):
        assert parse_mail(build_mail(headers=header), max_bytes=MAX).auto_submitted, header
    assert not parse_mail(build_mail(headers={"Auto-Submitted": "no"}), max_bytes=MAX).auto_submitted
    assert not parse_mail(build_mail(), max_bytes=MAX).auto_submitted


def test_dsn_names_the_returned_mail() -> None:
    parsed = parse_mail(dsn("<out-1@coaching.test>"), max_bytes=MAX)
    assert parsed.is_bounce and parsed.auto_submitted
    assert parsed.bounce_original_message_ids == ["<out-1@coaching.test>"]
    assert parsed.bounce_action == "failed" and parsed.bounce_status.startswith("5.1.1 smtp; 550")


# --- hostile mails, through the whole pipeline on both databases ---------------------------


def _nested(depth: int) -> bytes:
    head = f"From: Sanne <{COACHEE}>\r\nSubject: nested {depth}\r\nMessage-ID: <nested{depth}@x>\r\n".encode()
    head += b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n"
    body = b"".join(b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1) for i in range(depth))
    body += b"--b%d\r\nContent-Type: text/plain\r\n\r\ndeep down\r\n--b%d--\r\n" % (depth, depth)
    return head + body + b"".join(b"--b%d--\r\n" % i for i in reversed(range(depth)))


HOSTILE: dict[str, bytes] = {
    "broken boundary": (f"From: {COACHEE}\r\nSubject: broken\r\nMessage-ID: <broken@x>\r\n"
                        "Content-Type: multipart/mixed; boundary=nope\r\n\r\n--other\r\nContent-Type: text/plain\r\n\r\n"
                        "text without its boundary\r\n--nope\r\nContent-Type: text/plain\r\n\r\nsecond, never closed").encode(),
    "missing boundary": (f"From: {COACHEE}\r\nMessage-ID: <nob@x>\r\nContent-Type: multipart/alternative\r\n\r\n"
                         "--x\r\n\r\nhello\r\n").encode(),
    "wrong charset": (f"From: {COACHEE}\r\nMessage-ID: <wrong@x>\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xe9 cr\xe8me \xff\xfe").encode("latin-1"),
    "unknown charset": (f"From: {COACHEE}\r\nMessage-ID: <unknown@x>\r\nSubject: =?x-klingon?q?Qapla=27?=\r\n"
                        "Content-Type: text/plain; charset=x-klingon\r\n\r\nnuqneH \xe2\x80\x94 ok").encode("latin-1"),
    "8-bit headers": (f"From: J\xc3\xb6rg \xe9 <{COACHEE}>\r\nSubject: Caf\xe9 \xc3\xa9 \x00 nul\r\n"
                      "Message-ID: <8bit@x>\r\n\r\nbody\x00with nul").encode("latin-1"),
    "huge headers": (f"From: {COACHEE}\r\nMessage-ID: <huge@x>\r\nSubject: {'x' * 300_000}\r\n"
                     + "".join(f"Received: from h{i} by relay; Wed, 25 Nov 2026\r\n" for i in range(3000))
                     + "To: " + ", ".join(f"u{i}@example.test" for i in range(2000)) + "\r\n\r\nbody").encode(),
    "nested 40 deep": _nested(40),
    "nested 3000 deep": _nested(3000),
    "html with scripts": (f"From: {COACHEE}\r\nMessage-ID: <html@x>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
                          "<p>Hallo</p><script>alert(1)</script><img src=x onerror=alert(2)>"
                          "<a href=\"javascript:alert(3)\">klik</a><style>p{}</style>").encode(),
    "no message id": build_mail(message_id=None, text="Zonder Message-ID"),
    "garbage": bytes(range(256)) * 3,
    "empty": b"",
    "unknown sender": build_mail(sender="stranger@elsewhere.test"),
    "hostile filenames": build_mail(attachments=(("../../etc/passwd", "text/plain", b"root:x"),
                                                 ("a" * 400 + ".pdf", "application/pdf", b"%PDF-1.4"),
                                                 ("nul\x00.txt", "text/plain", b"x"))),
}


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_mail_is_placed_exactly_once(name: str, sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, max_bytes=MAX)
    raw = HOSTILE[name]
    first = await take(world, sessions, hub, clock, raw)
    assert first.kind in ("exchange", "quarantine"), first.kind
    await placed_once(sessions, first)
    second = await take(world, sessions, hub, clock, raw)
    assert second.kind == "duplicate"
    await placed_once(sessions, first)
    if first.kind == "exchange":
        async with sessions() as session:
            exchange = await session.get(Exchange, first.recorded.exchange.id)
        lowered = exchange.body_html.lower()
        assert "<script" not in lowered and "onerror" not in lowered and "javascript:" not in lowered
        assert "alert(1)" not in exchange.body_text


async def test_hostile_html_keeps_its_text_only(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    outcome = await take(world, sessions, hub, clock, HOSTILE["html with scripts"])
    assert outcome.kind == "exchange" and outcome.recorded.exchange.body_text == "Hallo\nklik"
    assert "alert" not in (outcome.mail.html or "")


async def test_charset_trouble_is_flagged(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    outcome = await take(world, sessions, hub, clock, HOSTILE["wrong charset"])
    assert outcome.kind == "exchange"
    meta = outcome.recorded.exchange.meta
    assert "charset_replaced" in meta["flags"] and "caf\ufffd" in outcome.recorded.exchange.body_text


async def test_deep_nesting_keeps_headers_and_text(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, max_text_chars=1_000_000)  # its 200 kB of text, whole
    outcome = await take(world, sessions, hub, clock, HOSTILE["nested 3000 deep"])
    assert outcome.kind == "exchange" and outcome.mail.message_id == "<nested3000@x>"
    assert "unparseable" in outcome.mail.flags and "deep down" in outcome.recorded.exchange.body_text


async def test_dsn_bounce_is_a_bounce_once(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    async with sessions() as session:
        session.add(MailOutbox(kind="notification", message_id="<out-7@coaching.test>", sender=f"coach@{DOMAIN}",
                               recipient=COACHEE, raw=b"x", state="sent", attempts=1, next_attempt_at=clock.now(),
                               created_at=clock.now()))
        await session.commit()
    raw = dsn("<out-7@coaching.test>")
    first = await take(world, sessions, hub, clock, raw)
    assert (first.kind, first.bounced) == ("bounce", 1)
    await placed_once(sessions, first)
    assert (await take(world, sessions, hub, clock, raw)).kind == "duplicate"
    async with sessions() as session:
        row = (await session.execute(select(MailOutbox))).scalar_one()
    assert row.state == "failed" and row.last_error.startswith("5.1.1")


async def test_auto_reply_is_recorded_not_answered(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, max_bytes=2048)
    raw = build_mail(to=reply_to(world.engagement_id), subject="Afwezig", text="Ik ben afwezig. " * 300,
                     headers={"Auto-Submitted": "auto-replied"})
    outcome = await take(world, sessions, hub, clock, raw)
    assert outcome.kind == "exchange" and outcome.mail.auto_submitted and outcome.mail.oversized
    assert outcome.recorded.exchange.meta["auto_submitted"] is True
    assert await count(sessions, MailOutbox, MailOutbox.kind == "auto_reply") == 0
    assert (await take(world, sessions, hub, clock, raw)).kind == "duplicate"


async def test_oversized_mail_keeps_text_not_attachments(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, max_bytes=4096)
    raw = build_mail(to=reply_to(world.engagement_id), text="Zie bijlage.",
                     attachments=(("big.bin", "application/octet-stream", bytes(range(256)) * 40),))
    outcome = await take(world, sessions, hub, clock, raw)
    assert outcome.kind == "exchange" and outcome.mail.oversized
    await placed_once(sessions, outcome)
    exchange_id = outcome.recorded.exchange.id
    assert outcome.recorded.exchange.body_text == "Zie bijlage." and outcome.recorded.exchange.meta["oversized"]
    assert await count(sessions, Attachment) == 0
    async with sessions() as session:
        source = await session.get(MailSource, exchange_id)
    assert len(source.raw) < 4096 and b"Zie bijlage." in source.raw and b"over the limit" in source.raw
    assert [m.recipient for m in await all_rows(sessions, MailOutbox, MailOutbox.kind == "auto_reply")] == [COACHEE]
    assert (await take(world, sessions, hub, clock, raw)).kind == "duplicate"
    assert await count(sessions, MailOutbox, MailOutbox.kind == "auto_reply") == 1


async def test_unknown_sender_goes_to_quarantine_whole(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    raw = HOSTILE["unknown sender"]
    outcome = await take(world, sessions, hub, clock, raw)
    assert outcome.kind == "quarantine"
    async with sessions() as session:
        entry = (await session.execute(select(Quarantine))).scalar_one()
    assert (entry.raw, entry.reason_code, entry.coach_id) == (raw, "unknown_sender", world.coach_id)
