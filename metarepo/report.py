"""The reporter interface: how capabilities tell the CLI about progress.

Capabilities never print. They call a ``Reporter`` that the CLI hands in
(a rich progress bar for people, nothing for ``--json``). ``NullReporter`` is
the default, so a capability can be called from tests or other code with no
output at all.
"""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    def start(self, total: int, label: str) -> None:
        """Work on ``total`` items is about to begin."""

    def item_started(self, key: str) -> None:
        """One item (usually a project path) has started."""

    def item_done(self, key: str, ok: bool, detail: str = "") -> None:
        """One item has ended, well or not."""

    def note(self, message: str) -> None:
        """A line of information worth showing a person."""

    def finish(self) -> None:
        """All work is over."""


class NullReporter:
    """A reporter that reports nothing."""

    def start(self, total: int, label: str) -> None:
        pass

    def item_started(self, key: str) -> None:
        pass

    def item_done(self, key: str, ok: bool, detail: str = "") -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def finish(self) -> None:
        pass


NULL = NullReporter()
