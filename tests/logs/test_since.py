"""--since: a duration back from now, or an RFC 3339 time; anything else is one clear line."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from metarepo.errors import UsageError
from metarepo.logs.since import parse_since

NOW = 1_800_000_000.0


@pytest.mark.parametrize("text,seconds", [("10m", 600), ("2h", 7200), ("30s", 30), ("1h30m", 5400),
                                          ("1.5s", 1.5), ("250ms", 0.25), ("2d", 172800)])
def test_durations_count_back_from_now(text, seconds):
    assert parse_since(text, now=NOW) == pytest.approx(NOW - seconds)


def test_rfc3339_times_are_absolute():
    assert parse_since("2026-05-01T12:00:00Z", now=NOW) == 1777636800
    assert parse_since("2026-05-01T14:00:00.25+02:00", now=NOW) == 1777636800.25


@pytest.mark.parametrize("text,says", [
    ("10x", "not a duration like 10m"), ("", "not a duration"), ("-5m", "not a duration"),
    ("2026-05-01T12:00:00", "needs seconds and its zone"), ("2026-05-01T12:00", "needs seconds and its zone"),
    ("2026-02-30T12:00:00Z", "not a real time"), ("yesterday", "not a duration"),
])
def test_bad_values_name_the_option_and_what_it_takes(text, says):
    with pytest.raises(UsageError) as info:
        parse_since(text, now=NOW)
    assert info.value.exit_code == 2 and says in info.value.message and "--since" in info.value.message
    assert "\n" not in info.value.message


@given(st.text(max_size=30))
def test_no_value_crashes_it(text):
    try:
        assert isinstance(parse_since(text, now=NOW), float)
    except UsageError:
        pass


def test_a_duration_past_1970_is_refused():
    with pytest.raises(UsageError, match="before 1970"):
        parse_since("9" * 400 + "d", now=NOW)
