"""--grep: a regular expression, refused in one line when it is not one, bounded in time per line."""

from __future__ import annotations

import time

import pytest

from metarepo.errors import UsageError
from metarepo.logs.grep import LineFilter


def test_it_keeps_the_lines_the_pattern_finds_something_in():
    keep = LineFilter(r"error|timeout \d+s")
    assert [t for t in ("ok", "an error here", "timeout 30s", "timeout xs") if keep(t)] == ["an error here",
                                                                                         "timeout 30s"]


@pytest.mark.parametrize("pattern,says", [("(", "not a regular expression"), ("(a{1000}){1000}", "repeats too much")])
def test_a_bad_pattern_is_one_line_of_bad_input(pattern, says):
    with pytest.raises(UsageError) as info:
        LineFilter(pattern)
    assert info.value.exit_code == 2 and info.value.message.startswith("--grep: ") and says in info.value.message


def test_a_pathological_pattern_costs_a_bounded_time_per_line():
    keep = LineFilter(r"(a|aa)+$")
    t0 = time.monotonic()
    assert not keep("a" * 40 + "b")
    assert time.monotonic() - t0 < 2 and keep.undecided == 1
