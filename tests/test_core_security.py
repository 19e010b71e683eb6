"""Pure parts of the hardening: number and JSON parsing, socket caps, device names."""

from __future__ import annotations

import pytest

from ecoach.core.devices import device_label
from ecoach.core.inputs import MAX_INT, InputRefused, load_json, parse_int, text_ok
from ecoach.core.limits import SocketLimits


@pytest.mark.parametrize("raw, expected", [
    ("0", 0), ("42", 42), ("007", 7), (str(MAX_INT), MAX_INT), (str(MAX_INT + 1), None),
    ("²", None), ("٣", None), ("1_000", None), (" 1", None), ("-1", None), ("1e3", None), ("", None),
    (None, None), (True, None), (5, 5), (-5, None), ("9" * 5000, None),
])
def test_parse_int(raw, expected) -> None:  # type: ignore[no-untyped-def]
    assert parse_int(raw) == expected


@pytest.mark.parametrize("raw, code", [
    ("[" * 100000, "json_too_deep"), ("[" * 33 + "]" * 33, "json_too_deep"), ('"\\ud800"', "text_invalid"),
    ('{"\\u0000": 1}', "text_invalid"), ("NaN", "json_invalid"), ("1e400", "json_number_too_large"),
    ("{", "json_invalid"),
    (b"\xff", "json_invalid"), ("99999999999999999999", "json_number_too_large"),
    # flat objects (a chat frame) take a shorter road to the same refusals
    ('{"type": "message", "text": "a\\u0000b"}', "text_invalid"), ('{"t\\ud800": "x"}', "text_invalid"),
    ('{"after": -9223372036854775808}', "json_number_too_large"), ('{"n": NaN}', "json_invalid"),
    ('{"n": 1e400}', "json_number_too_large"), ('\ufeff{"type": "ping"}', "json_invalid"),
])
def test_load_json_refuses(raw, code) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputRefused) as refused:
        load_json(raw)
    assert refused.value.code == code


def test_load_json_flat_objects() -> None:
    frame = '{"type": "message", "client_id": "abcdefgh", "text": "hoi 🌱", "after": 9223372036854775807, ' \
            '"x": null, "y": true, "z": 1.5}'
    assert load_json(frame)["after"] == MAX_INT and load_json(frame)["z"] == 1.5
    with pytest.raises(InputRefused) as refused:
        load_json('{"type": "ping"}', max_depth=0)
    assert refused.value.code == "json_too_deep"


def test_text_ok() -> None:
    assert text_ok("gewoon tekst 🌱") and not text_ok("a\x00b") and not text_ok("a\ud800")
    assert load_json('["\\ud83c\\udf31"]') == ["🌱"]  # a surrogate pair is a character


def test_socket_limits() -> None:
    now = [0.0]
    limits = SocketLimits(per_key=2, per_client=3, per_minute=4, monotonic=lambda: now[0])
    a, b = limits.admit("link", "1.2.3.4"), limits.admit("link", "1.2.3.4")
    assert limits.admit("link", "1.2.3.4") == "too_many_sockets"
    c = limits.admit("other", "1.2.3.4")
    assert limits.admit("other", "1.2.3.4") == "too_many_handshakes"
    now[0] += 15  # one handshake back every 15 s
    assert limits.admit("third", "1.2.3.4") == "too_many_sockets_for_client"
    for ticket in (a, b, c):
        limits.release(ticket)  # type: ignore[arg-type]
    assert limits.open_count("link") == 0
    assert limits.admit("link", "5.6.7.8") != "too_many_handshakes"


def test_device_label() -> None:
    firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
    iphone = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")
    assert device_label(firefox) == "Firefox / Windows"
    assert device_label(iphone) == "Safari / iPhone"
    assert device_label("curl/8.0") == ""
