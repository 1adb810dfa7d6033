"""The ``.meta`` manifest: reading, validating, selecting, and writing it safely.

The file stays readable by the npm ``meta`` tool: ``projects`` is a map of
folder to URL string and everything of ours lives under the ``metarepo`` key.
Unknown keys and key order survive a round trip, and every write is atomic
(a temp file in the same folder, then a rename), so a refused or interrupted
command never leaves a half-written manifest.
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

from metarepo.errors import ManifestError, NotFoundError, UsageError
from metarepo.urls import redact, unsafe_reason

MANIFEST_NAME = ".meta"
LOCK_NAME = ".meta.lock"
STATE_DIR = ".metarepo"
ROOT_KEY = "."  # the meta repo itself, as a pseudo-project (``--include-root``)


@dataclass(frozen=True)
class Project:
    """One service repository of the fleet."""

    name: str  # the folder exactly as written in .meta
    url: str
    path: Path  # absolute
    settings: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self.settings.get("tags") or ())

    def setting(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)

    def __repr__(self) -> str:
        return f"Project({self.name!r}, {redact(self.url)!r})"


@dataclass(frozen=True)
class Manifest:
    """A loaded, validated ``.meta``; ``data`` is the raw document, order kept."""

    root: Path
    data: Mapping[str, Any]
    projects: tuple[Project, ...]

    @property
    def file(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def settings(self) -> Mapping[str, Any]:
        return self.data.get("metarepo") or {}

    @property
    def defaults(self) -> Mapping[str, Any]:
        return self.settings.get("defaults") or {}

    @property
    def environments(self) -> Mapping[str, Any]:
        return self.settings.get("environments") or {}

    def environment(self, name: str) -> Mapping[str, Any]:
        envs = self.environments
        if name not in envs:
            known = ", ".join(sorted(envs)) or "none defined"
            raise NotFoundError(f"unknown environment {name!r} (known: {known})",
                                hint="add it under metarepo.environments in .meta")
        return envs[name]

    def project(self, name: str) -> Project:
        """The project whose folder is ``name``, or whose folder's last name is (if only one)."""
        wanted = normalize_folder(name)
        for project in self.projects:
            if normalize_folder(project.name) == wanted:
                return project
        matches = [p for p in self.projects if Path(p.name).name == name]
        if len(matches) > 1:
            raise UsageError(f"{name!r} is ambiguous: {', '.join(p.name for p in matches)}; give the folder")
        if matches:
            return matches[0]
        raise NotFoundError(f"no project {name!r} in {self.file}")

    def root_project(self) -> Project:
        return Project(ROOT_KEY, "", self.root, MappingProxyType({}))

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    def ensure_state_dir(self) -> Path:
        """``.metarepo/``: local state (caches, last run), ignored by git."""
        self.state_dir.mkdir(exist_ok=True)
        ignore = self.state_dir / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n")
        return self.state_dir


# -- finding and reading ---------------------------------------------------


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` that holds a ``.meta``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MANIFEST_NAME).is_file():
            return folder
    raise NotFoundError(f"no {MANIFEST_NAME} found in {here} or any folder above it",
                        hint="run `meta init` or pass -C DIR")


def load_manifest(root: Path | None = None) -> Manifest:
    """Read and validate the manifest at ``root`` (found by walking up if None)."""
    root = find_root() if root is None else Path(root).resolve()
    file = root / MANIFEST_NAME
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"{file}: no such file", hint="run `meta init` or pass -C DIR") from None
    except UnicodeDecodeError as exc:
        raise ManifestError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(file)) from None
    data = parse_manifest_text(text, str(file))
    return Manifest(root=root, data=data, projects=build_projects(root, data, str(file)))


def parse_manifest_text(text: str, filename: str) -> dict[str, Any]:
    """JSON text to a dict, with file, line and column on any error."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise ManifestError(f"key {key!r} appears twice", file=filename)
            seen[key] = value
        return seen

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"invalid JSON: {exc.msg}", file=filename, line=exc.lineno,
                            column=exc.colno) from None
    if not isinstance(data, dict):
        raise ManifestError("the top level must be a JSON object", file=filename)
    return data


def build_projects(root: Path, data: Mapping[str, Any], filename: str) -> tuple[Project, ...]:
    """Validate ``projects`` and the ``metarepo`` settings; return the projects in file order."""
    projects = data.get("projects", {})
    if not isinstance(projects, dict):
        raise ManifestError(f"'projects' must be an object of folder to URL, not {_json_type(projects)}",
                            file=filename, key="projects")
    ours = data.get("metarepo", {})
    if not isinstance(ours, dict):
        raise ManifestError("'metarepo' must be an object", file=filename, key="metarepo")
    defaults = ours.get("defaults", {})
    per_project = ours.get("projects", {})
    for key, value in (("defaults", defaults), ("projects", per_project),
                       ("environments", ours.get("environments", {}))):
        if not isinstance(value, dict):
            raise ManifestError(f"must be an object, not {_json_type(value)}", file=filename,
                                key=f"metarepo.{key}")

    seen: dict[str, str] = {}
    result = []
    for name, url in projects.items():
        check_folder(name, filename)
        if not isinstance(url, str):
            raise ManifestError(f"the URL must be a string, not {_json_type(url)}", file=filename,
                                key=f"projects.{name}")
        reason = unsafe_reason(url)
        if reason:
            raise ManifestError(f"URL {redact(url)!r} {reason}", file=filename, key=f"projects.{name}")
        normal = normalize_folder(name)
        if normal in seen:
            raise ManifestError(f"{name!r} and {seen[normal]!r} name the same folder", file=filename,
                                key=f"projects.{name}")
        seen[normal] = name
        own = per_project.get(name, per_project.get(normal, {}))
        if not isinstance(own, dict):
            raise ManifestError("must be an object", file=filename, key=f"metarepo.projects.{name}")
        result.append(Project(name=name, url=url, path=root / normal,
                              settings=MappingProxyType(merge_settings(defaults, own))))
    for name in per_project:
        if name.startswith("//"):  # a comment key, as in package.json
            continue
        if normalize_folder(name) not in seen:
            raise ManifestError("names no project listed under 'projects'", file=filename,
                                key=f"metarepo.projects.{name}")
    return tuple(result)


def merge_settings(defaults: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """A project's settings: its own over the defaults; ``vars`` merged key by key."""
    merged = {**defaults, **own}
    if isinstance(defaults.get("vars"), dict) and isinstance(own.get("vars"), dict):
        merged["vars"] = {**defaults["vars"], **own["vars"]}
    return merged


_DRIVE = re.compile(r"^[a-zA-Z]:")


def check_folder(name: Any, filename: str = MANIFEST_NAME) -> None:
    """Refuse a project folder that is not a plain relative path inside the root."""
    if not isinstance(name, str) or not name.strip():
        raise ManifestError("a project folder must be a non-empty string", file=filename, key="projects")
    key = f"projects.{name}"
    if name.startswith("/") or name.startswith("\\") or _DRIVE.match(name):
        raise ManifestError("the folder must be relative to the meta repo, not absolute",
                            file=filename, key=key)
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise ManifestError("the folder may not contain '..'", file=filename, key=key)
    if normalize_folder(name) in (".", ""):
        raise ManifestError("the folder may not be the meta repo itself", file=filename, key=key)
    if any(part.startswith("-") for part in parts):
        raise ManifestError("a folder name may not start with '-'", file=filename, key=key)
    if any(ch in name for ch in "\n\r\0"):
        raise ManifestError("the folder contains a control character", file=filename, key=key)
    if ".git" in parts:
        raise ManifestError("the folder may not be inside a .git directory", file=filename, key=key)


def normalize_folder(name: str) -> str:
    return posixpath.normpath(name.replace("\\", "/"))


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


# -- selecting -------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Which projects a command acts on; the flags common to every fleet command."""

    include_only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    include_pattern: str | None = None
    exclude_pattern: str | None = None
    tags: tuple[str, ...] = ()
    only: tuple[str, ...] | None = None  # an explicit list (``--failed``), None for all

    def apply(self, projects: Sequence[Project]) -> list[Project]:
        include_re = _compile(self.include_pattern, "--include-pattern")
        exclude_re = _compile(self.exclude_pattern, "--exclude-pattern")
        known = {p.name for p in projects} | {normalize_folder(p.name) for p in projects} | {
            Path(p.name).name for p in projects}
        for name in (*self.include_only, *self.exclude):
            if name not in known:
                raise NotFoundError(f"no project {name!r} in the manifest")
        carried = {tag for p in projects for tag in p.tags} if self.tags else set()
        for tag in self.tags:
            if tag not in carried:
                shown = ", ".join(sorted(map(str, carried))) or "none"
                raise NotFoundError(f"no project has tag {tag!r} (tags in the manifest: {shown})")

        def named(project: Project, names: Iterable[str]) -> bool:
            names = set(names)
            return bool({project.name, normalize_folder(project.name), Path(project.name).name} & names)

        chosen = []
        for project in projects:
            if self.only is not None and project.name not in self.only:
                continue
            if self.include_only and not named(project, self.include_only):
                continue
            if self.exclude and named(project, self.exclude):
                continue
            if include_re and not include_re.search(project.name):
                continue
            if exclude_re and exclude_re.search(project.name):
                continue
            if self.tags and not set(self.tags) & set(project.tags):
                continue
            chosen.append(project)
        return chosen


def _compile(pattern: str | None, flag: str) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"{flag}: invalid regular expression {pattern!r}: {exc}") from None


# -- writing ---------------------------------------------------------------


def dump_manifest(data: Mapping[str, Any]) -> str:
    """The manifest text, formatted as npm meta writes it."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    """The process's umask, read without changing it (``os.umask`` can only be read by setting it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)  # no /proc: set it and put it back at once (cached, so asked once per process)
    os.umask(old)
    return old


def write_atomic(file: Path, text: str, *, durable: bool = True) -> None:
    """Replace ``file`` with ``text`` in one rename; the old file is intact on any failure.

    ``durable`` flushes the new text to disk before the rename (what a manifest
    needs); local state that can be rebuilt (caches, the last run) skips that.
    """
    file = Path(file)
    # An existing file keeps its mode; a new one gets what open() would give it (mkstemp's is 0600).
    mode = file.stat().st_mode & 0o777 if file.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, file)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def save_manifest(root: Path, data: Mapping[str, Any]) -> Manifest:
    """Validate ``data`` fully, then write it; a refused document writes nothing."""
    file = Path(root) / MANIFEST_NAME
    projects = build_projects(Path(root), data, str(file))
    write_atomic(file, dump_manifest(data))
    return Manifest(root=Path(root), data=data, projects=projects)


def with_project(data: Mapping[str, Any], name: str, url: str) -> dict[str, Any]:
    """A copy of ``data`` with one project added (order kept, the new one last)."""
    copy = json.loads(json.dumps(data))
    projects = copy.setdefault("projects", {})
    if not isinstance(projects, dict):
        raise ManifestError("'projects' must be an object", key="projects")
    normal = normalize_folder(name)
    for existing in projects:
        if normalize_folder(existing) == normal:
            raise UsageError(f"project {existing!r} is already in the manifest")
    projects[name] = url
    return copy


def without_project(data: Mapping[str, Any], name: str) -> tuple[dict[str, Any], str]:
    """A copy of ``data`` with one project (and its settings) removed; and the key removed."""
    copy = json.loads(json.dumps(data))
    projects = copy.get("projects") or {}
    normal = normalize_folder(name)
    for existing in list(projects):
        if normalize_folder(existing) == normal:
            del projects[existing]
            ours = (copy.get("metarepo") or {}).get("projects") or {}
            ours.pop(existing, None)
            return copy, existing
    raise NotFoundError(f"no project {name!r} in the manifest")


def new_manifest() -> dict[str, Any]:
    return {"projects": {}}
