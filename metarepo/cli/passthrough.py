"""Which words of a ``meta exec`` or ``meta git`` line are ours, and which are the command's.

The rule, as ``--help`` and the README state it:

- Everything after ``--`` is the command's, untouched.
- Before the command's first word, every option must be one of ours (a
  command cannot start with an option; for ``meta git``, git's own options
  before its subcommand, such as ``-C DIR`` or ``--no-pager``, are git's). Any
  other is refused.
- After it, a word that is exactly one of our ``--long`` options, or ``-j``,
  is ours (npm meta users type ``meta exec "make test" --include-only a,b -j
  4``); other short options are the command's (``df -h``); a ``--long`` one a
  typo away from
  one of ours (a letter wrong, missing, added, or two swapped; two typos in
  names of ten letters or more) is refused with a suggestion, before
  anything runs; any other option is the command's (``git log --oneline``,
  ``--stat``, and ``--tags``, which extends ``--tag`` rather than misspelling
  it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import click

from metarepo.errors import UsageError

# git's options before its subcommand (`git -h`): name -> whether it takes the next word as its value.
GIT_LEADING: Mapping[str, bool] = {
    "-C": True, "-c": True, "--git-dir": True, "--work-tree": True, "--namespace": True, "--super-prefix": True,
    "--config-env": True, "--exec-path": False, "--html-path": False, "--man-path": False, "--info-path": False,
    "-p": False, "--paginate": False, "-P": False, "--no-pager": False, "--no-replace-objects": False,
    "--bare": False, "--literal-pathspecs": False, "--glob-pathspecs": False, "--noglob-pathspecs": False,
    "--icase-pathspecs": False, "--no-optional-locks": False, "-v": False, "--version": False,
}


class PassThrough(click.Command):
    """A command whose trailing words are another program's: ours are picked out as
    ``metarepo.cli.passthrough`` says, and the rest handed to click after a ``--``."""

    leading: Mapping[str, bool] | None = None  # the program's own options before its first word

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        mine, theirs = split_words(args, Options.of(self.get_params(ctx)), leading=self.leading)
        return super().parse_args(ctx, [*mine, "--", *theirs])


class GitPassThrough(PassThrough):
    leading = GIT_LEADING


@dataclass(frozen=True)
class Options:
    """A command's own options: each name (``--tag``, ``-j``) and whether it takes a value."""

    takes_value: Mapping[str, bool]
    short_later: tuple[str, ...] = ("-j",)  # the short options still ours after the command's first word

    @classmethod
    def of(cls, params: Sequence[click.Parameter]) -> Options:
        table = {"-h": False, "--help": False}
        for param in params:
            if isinstance(param, click.Option):
                for name in (*param.opts, *param.secondary_opts):
                    table[name] = not (param.is_flag or param.count)
        return cls(table)

    @property
    def long_names(self) -> list[str]:
        return [name for name in self.takes_value if name.startswith("--")]


def split_words(words: Sequence[str], ours: Options, *, leading: Mapping[str, bool] | None = None
                ) -> tuple[list[str], list[str]]:
    """``(our words, the command's words)``; a misplaced or mistyped option raises ``UsageError``.

    ``leading`` are the program's own options allowed before its first word
    (git's). Our words come back in click's form, ready to be parsed.
    """
    mine: list[str] = []
    theirs: list[str] = []
    started = False
    later = Options({name: takes for name, takes in ours.takes_value.items()
                     if name.startswith("--") or name in ours.short_later})
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            theirs.extend(words[i + 1:])
            break
        if not started and word.startswith("-") and word != "-":
            taken = _take(words, i, ours.takes_value, mine) or _take(words, i, leading or {}, theirs)
            if not taken:
                raise UsageError(_unknown(word, ours))
            i += taken
            continue
        if started and word.startswith("-"):
            taken = _take(words, i, later.takes_value, mine)
            if taken:
                i += taken
                continue
        if started and word.startswith("--"):
            near = typo_of(word.partition("=")[0], later.long_names)
            if near:
                raise UsageError(f"no such option {word.partition('=')[0]}; did you mean {near}? "
                                 "(to give it to the command, put the command after --)")
        theirs.append(word)
        started = True
        i += 1
    return mine, theirs


def _take(words: Sequence[str], i: int, table: Mapping[str, bool], into: list[str]) -> int:
    """How many words at ``i`` are one option of ``table`` (0 if none), appended to ``into``."""
    word = words[i]
    name, eq, _ = word.partition("=") if word.startswith("--") else (word, "", "")
    if name in table:
        if table[name] and not eq and i + 1 < len(words):
            into.extend(words[i:i + 2])
            return 2
        into.append(word)
        return 1
    if not word.startswith("--") and word[2:].isdigit() and table.get(word[:2]):  # -j4 (but not java's -jar)
        into.append(word)
        return 1
    return 0


def _unknown(word: str, ours: Options) -> str:
    name = word.partition("=")[0]
    near = typo_of(name, ours.long_names) if name.startswith("--") else None
    if near:
        return f"no such option {name}; did you mean {near}?"
    return f"no such option {name} (a command's own options go after its first word, or after --)"


def typo_of(name: str, names: Sequence[str]) -> str | None:
    """The one of ``names`` that ``name`` is likely a typo of, or None.

    A typo is one edit (a letter changed, missing, added, two swapped), two for
    names of ten letters or more; a name that only adds letters at the end of
    one of ours (``--tags``, ``--jsonl``) is not a typo but another option.
    """
    best, best_distance = None, None
    for candidate in names:
        if name.startswith(candidate):
            continue
        limit = 1 if len(candidate) - 2 < 10 else 2
        distance = _distance(name, candidate, limit)
        if distance <= limit and (best_distance is None or distance < best_distance):
            best, best_distance = candidate, distance
    return best


def _distance(a: str, b: str, limit: int) -> int:
    """The optimal-string-alignment distance of ``a`` and ``b`` (edits, where a swap counts once)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], previous2[j - 2] + 1)
        previous2, previous = previous, row
    return previous[-1]
