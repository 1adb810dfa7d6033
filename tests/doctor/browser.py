"""A page loaded in headless Chromium (Debian's ``chromium``), and its DOM after its scripts ran, as elements.

``rendered(file, fragment)`` runs ``chromium --headless --dump-dom`` on the
file (with the flags that keep it off the network and out of the user's
profile) and returns every element of the dumped DOM as an ``Element``
(tag, attributes, text inside), in document order.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

PACKAGES = {"chromium": "chromium"}
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions"]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parent: "Element | None" = None
    children: list["Element"] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def within(self, tag: str) -> bool:
        node = self.parent
        while node is not None:
            if node.tag == tag:
                return True
            node = node.parent
        return False


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, self.open[-1] if self.open else None)
        if element.parent is not None:
            element.parent.children.append(element)
        self.elements.append(element)
        if tag not in VOID:
            self.open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            if self.open.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element.parts.append(data)


def rendered(file: Path, fragment: str = "") -> list[Element]:
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        url = Path(file).resolve().as_uri() + (f"#{fragment}" if fragment else "")
        proc = subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and "<html" in proc.stdout, proc.stderr[-2000:]
    collector = _Collector()
    collector.feed(proc.stdout)
    return collector.elements


def select(elements: list[Element], tag: str, cls: str | None = None) -> list[Element]:
    return [e for e in elements if e.tag == tag and (cls is None or cls in e.classes)]
