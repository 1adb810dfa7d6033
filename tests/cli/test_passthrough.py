"""The rule that tells our options from the command's, word by word."""

from __future__ import annotations

import pytest

from metarepo.cli.passthrough import GIT_LEADING, Options, split_words, typo_of
from metarepo.errors import UsageError

OURS = Options({"-h": False, "--help": False, "--tag": True, "-j": True, "--jobs": True, "--json": False,
                "--stream": False, "--exclude": True, "--include-only": True, "--dry-run": False})


def test_typos_of_ours_and_other_programs_options():
    names = OURS.long_names
    for typo, meant in [("--tga", "--tag"), ("--stram", "--stream"), ("--exlude", "--exclude"),
                        ("--jsn", "--json"), ("--dryrun", "--dry-run"), ("--dry_run", "--dry-run"),
                        ("--include-onyl", "--include-only"), ("--exclude-only", "--include-only")]:
        assert typo_of(typo, names) == meant, typo
    for theirs in ["--tags", "--jsonl", "--stat", "--oneline", "--include", "--exclude-standard", "--short",
                   "--all", "--staged", "--no-tags", "--order"]:
        assert typo_of(theirs, names) is None, theirs


def test_words_are_split_where_the_rule_says():
    assert split_words(["--tag", "core", "make", "test", "-j", "4", "--json"], OURS) == (
        ["--tag", "core", "-j", "4", "--json"], ["make", "test"])
    assert split_words(["ls", "-h", "-la", "-jar", "-j2", "--tags"], OURS) == (["-j2"], ["ls", "-h", "-la", "-jar",
                                                                                       "--tags"])
    assert split_words(["-j3", "--", "ls", "--tga", "--json"], OURS) == (["-j3"], ["ls", "--tga", "--json"])
    assert split_words(["--tag=core", "--help"], OURS) == (["--tag=core", "--help"], [])
    assert split_words(["-C", "sub", "--no-pager", "--json", "log", "-n", "1"], OURS, leading=GIT_LEADING) == (
        ["--json"], ["-C", "sub", "--no-pager", "log", "-n", "1"])


@pytest.mark.parametrize("words", [["--tga", "x", "ls"], ["ls", "--stram"], ["-x", "ls"], ["--no-pager", "log"]])
def test_refused(words):
    with pytest.raises(UsageError, match="no such option"):
        split_words(words, OURS)
