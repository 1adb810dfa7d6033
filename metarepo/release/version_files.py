"""The files that carry a project's version: ``VERSION``, ``pyproject.toml``, ``package.json``, ``Cargo.toml``.

``read_version_file`` checks that a file names a version where it should
(before anything is written anywhere); ``bumped_text`` is the file's new
text with only the version changed. TOML is edited with tomlkit, which
keeps comments and layout; ``package.json`` is rewritten as npm does it
(key order and indentation kept). A ``VERSION`` file that does not exist
yet is made.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from metarepo.errors import ManifestError

from metarepo.release.version import Version, parse_version


def _refuse(file: Path, message: str, line: int | None = None) -> ManifestError:
    return ManifestError(message, file=str(file), line=line,
                         hint="fix it, or set the project's release.version_files in .meta")


def _toml_table(document: Any, file: Path) -> tuple[Any, str]:
    """The table holding the version, and its name, for pyproject.toml or Cargo.toml."""
    paths = (("project",), ("tool", "poetry")) if file.name == "pyproject.toml" else (("package",),
                                                                                    ("workspace", "package"))
    for path in paths:
        table: Any = document
        for key in path:
            table = table.get(key) if hasattr(table, "get") else None
            if table is None:
                break
        if table is not None and hasattr(table, "get") and "version" in table:
            value = table["version"]
            if not isinstance(value, str):
                raise _refuse(file, f"[{'.'.join(path)}] version is not a string (a workspace or dynamic "
                                    "version cannot be bumped here)")
            return table, ".".join(path)
    wanted = " or ".join(f"[{'.'.join(p)}] version" for p in paths)
    raise _refuse(file, f"has no {wanted} to bump")


def _load(file: Path) -> tuple[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        if file.name == "VERSION":
            return "", None
        raise _refuse(file, "is named in release.version_files but does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _refuse(file, f"cannot be read ({exc})") from None
    if file.name == "VERSION":
        return text, None
    if file.name == "package.json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _refuse(file, f"invalid JSON: {exc.msg}", exc.lineno) from None
        if not isinstance(data, dict) or not isinstance(data.get("version"), str):
            raise _refuse(file, "has no top-level \"version\" string to bump")
        return text, data
    import tomlkit
    from tomlkit.exceptions import ParseError

    try:
        return text, tomlkit.parse(text)
    except ParseError as exc:
        raise _refuse(file, f"invalid TOML: {exc}", getattr(exc, "line", None)) from None


def shown_as(file: Path, shown: str):  # noqa: ANN201 - a context manager
    """Errors about ``file`` name it as ``shown`` (``services/orders/package.json``), not by its absolute path."""
    import contextlib

    @contextlib.contextmanager
    def renamed():
        try:
            yield
        except ManifestError as exc:
            raise ManifestError(exc.message.replace(str(file), shown, 1), hint=exc.hint) from None

    return renamed()


def read_version_file(file: Path) -> Version | None:
    """The version ``file`` names (None for a ``VERSION`` not made yet); ``ManifestError`` when it names none."""
    text, data = _load(file)
    if file.name == "VERSION":
        if not text.strip():
            return None
        current = text.strip()
    elif file.name == "package.json":
        current = data["version"]
    else:
        table, _ = _toml_table(data, file)
        current = str(table["version"])
    version = parse_version(current)
    if version is None:
        raise _refuse(file, f"version {current[:40]!r} is not MAJOR.MINOR.PATCH")
    return version


def bumped_text(file: Path, version: Version) -> str:
    """``file``'s text with its version set to ``version``, nothing else changed."""
    read_version_file(file)
    text, data = _load(file)
    if file.name == "VERSION":
        return f"{version}\n"
    if file.name == "package.json":
        match = re.search(r"^([ \t]+)\S", text, re.MULTILINE)
        indent = match.group(1) if match else "  "
        data["version"] = str(version)
        return json.dumps(data, indent=indent, ensure_ascii=False) + ("\n" if text.endswith("\n") else "")
    import tomlkit

    table, _ = _toml_table(data, file)
    table["version"] = str(version)
    return tomlkit.dumps(data)
