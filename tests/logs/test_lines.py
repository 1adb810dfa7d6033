"""Timestamps as Docker and kubectl print them, turned into the merge's key."""

from __future__ import annotations

from hypothesis import given, strategies as st

from metarepo.logs.lines import LogLine, Stream, format_ns, parse_stamp


def test_dockers_fixed_form_is_read_to_the_nanosecond():
    at, stamp = parse_stamp("2026-05-01T12:00:00.000000007Z")
    assert at == 1777636800 * 10**9 + 7 and stamp == "2026-05-01T12:00:00.000000007Z"
    assert parse_stamp("2026-05-01T12:00:01.000000000Z")[0] - at == 10**9 - 7


def test_kubectls_trimmed_form_and_offsets_come_out_in_dockers_form():
    assert parse_stamp("2026-05-01T12:00:00.12Z") == (1777636800 * 10**9 + 120_000_000,
                                                      "2026-05-01T12:00:00.120000000Z")
    assert parse_stamp("2026-05-01T12:00:00Z")[0] == 1777636800 * 10**9
    assert parse_stamp("2026-05-01T14:00:00.5+02:00")[1] == "2026-05-01T12:00:00.500000000Z"


def test_what_is_not_a_time_is_none():
    for text in ("", "hello", "2026-13-01T12:00:00.000000000Z", "2026-05-01T12:00:00.00000000xZ",
                 "2026-05-01 12:00", "orders"):
        assert parse_stamp(text) is None


def test_a_line_as_json():
    line = LogLine(0, "orders", Stream.STDERR, "boom", format_ns(0))
    assert line.as_json() == {"service": "orders", "time": "1970-01-01T00:00:00.000000000Z", "stream": "stderr",
                              "line": "boom"}
    assert LogLine(0, "orders", None, "x", "").as_json()["stream"] is None


@given(st.text(max_size=40))
def test_no_text_makes_the_parser_crash(text):
    parsed = parse_stamp(text)
    assert parsed is None or (isinstance(parsed[0], int) and len(parsed[1]) == 30)


@given(st.integers(min_value=0, max_value=4_000_000_000 * 10**9))
def test_the_shown_form_reads_back_to_the_same_instant(at):
    assert parse_stamp(format_ns(at))[0] == at
