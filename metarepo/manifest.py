"""The ``.meta`` manifest: reading, validating, selecting, and writing it safely.

The file stays readable by the npm ``meta`` tool: ``projects`` is a map of
folder to URL string and everything of ours lives under the ``metarepo`` key.
Unknown keys and key order survive a round trip, and every write is atomic
(a temp file in the same folder, then a rename), so a refused or interrupted
command never leaves a half-written manifest. Every project folder is checked
on disk: one that a symlink leads outside the meta repo is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Iterator, Mapping, Sequence

from metarepo.errors import ManifestError, NotFoundError, UsageError, WorkFailed, printable
from metarepo.files import LOCK_WAIT, lock_file, replace_files, write_atomic
from metarepo.folders import check_folder, check_inside, leads_outside, normalize_folder
from metarepo.urls import redact, unsafe_reason
from metarepo.worktree import CloneState, clone_state

__all__ = ["check_folder", "normalize_folder", "write_atomic"]  # re-exported: imported from here

MANIFEST_NAME = ".meta"
LOCK_NAME = ".meta.lock"
STATE_DIR = ".metarepo"
EDIT_LOCK = "edit.lock"  # in STATE_DIR; held around every read-modify-write of the meta repo's files
ROOT_KEY = "."  # the meta repo itself, as a pseudo-project (``--include-root``)


@dataclass(frozen=True)
class Project:
    """One service repository of the fleet."""

    name: str  # the folder exactly as written in .meta
    url: str
    path: Path  # absolute
    settings: Mapping[str, Any] = field(default_factory=dict, compare=False)
    root: Path | None = field(default=None, compare=False, repr=False)  # the meta repo's folder

    def check_inside(self) -> None:
        """Refuse (``UsageError``) if a symlink now leads the folder outside the meta repo.

        The manifest checked it when loaded; this checks again right before
        a write or a command, since an earlier clone may have made a link.
        """
        if self.root is not None:
            check_inside(self.root, self.name)

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self.settings.get("tags") or ())  # a list of strings, checked when loaded

    @property
    def state(self) -> CloneState:
        """What is on disk at the folder now: missing, a finished clone, an interrupted one..."""
        return clone_state(self.path)

    @property
    def cloned(self) -> bool:
        """Whether the folder holds a finished clone (an interrupted clone is not one)."""
        return self.state is CloneState.CLONED

    @property
    def present(self) -> bool:
        """Whether the folder holds files to read: a finished clone, or a plain folder that is not git."""
        return self.state in (CloneState.CLONED, CloneState.NOT_GIT)

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
        return ensure_state_dir(self.root)


def ensure_state_dir(root: Path) -> Path:
    """``ROOT/.metarepo/``, made if missing; refused if a symlink leads it outside the meta repo."""
    state = Path(root) / STATE_DIR
    reason = leads_outside(os.path.realpath(root), STATE_DIR, {})
    if reason:
        raise UsageError(f"{printable(str(state))} leads outside the meta repo: {reason}; refused",
                         hint="remove the link")
    if state.exists() and not state.is_dir():
        raise UsageError(f"{printable(str(state))} is not a folder (meta keeps its local state there)",
                         hint="move it away")
    state.mkdir(exist_ok=True)
    ignore = state / ".gitignore"
    if not ignore.exists():
        write_atomic(ignore, "*\n", durable=False)
    return state


@contextlib.contextmanager
def edit_lock(root: Path, *, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold the meta repo's edit lock (``.metarepo/edit.lock``) for the ``with`` block.

    Take it before reading a shared file of the meta repo (``.meta``,
    ``.gitignore``, ``.meta.lock``, ``environments/ENV.json``,
    ``releases/NAME.json``, state under ``.metarepo/``) and keep it until
    the new version is written (atomically), so two meta commands at once
    never lose each other's change. Re-entrant in one thread; another
    process waits (up to ``wait`` seconds, a minute by default, then
    ``WorkFailed``).
    """
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(lock_file(ensure_state_dir(root) / EDIT_LOCK, wait=wait))
        except OSError as exc:
            raise WorkFailed(f"{Path(root) / STATE_DIR / EDIT_LOCK}: cannot take the edit lock: "
                             f"{exc.strerror or exc}") from None
        yield


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
    except OSError as exc:  # a folder, say
        raise ManifestError(f"cannot read it: {exc.strerror or exc}", file=str(file)) from None
    data = parse_manifest_text(text, str(file))
    return Manifest(root=root, data=data, projects=build_projects(root, data, str(file)))


MAX_DEPTH = 64  # nesting a manifest may have; far past any real one, well short of Python's recursion limit


def parse_manifest_text(text: str, filename: str) -> dict[str, Any]:
    """JSON text to a dict, with file, line and column on any error."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise ManifestError(f"key {key!r} appears twice", file=filename)
            seen[key] = value
        return seen

    def not_json(name: str) -> Any:
        raise ManifestError(f"{name} is not valid JSON (npm meta could not read it)", file=filename)

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=not_json)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"invalid JSON: {exc.msg}", file=filename, line=exc.lineno,
                            column=exc.colno) from None
    except RecursionError:
        raise ManifestError(f"nested more than {MAX_DEPTH} levels deep", file=filename) from None
    except ValueError:  # an integer past Python's limit on digits (sys.get_int_max_str_digits)
        limit = getattr(sys, "get_int_max_str_digits", lambda: 4300)()
        long = re.search(r"\d{%d,}" % (limit + 1), text)
        line = column = None
        if long:
            line = text.count("\n", 0, long.start()) + 1
            column = long.start() - text.rfind("\n", 0, long.start())
        raise ManifestError(f"a number with more than {limit} digits", file=filename, line=line,
                            column=column) from None
    if not isinstance(data, dict):
        raise ManifestError("the top level must be a JSON object", file=filename)
    if _too_deep(data):
        raise ManifestError(f"nested more than {MAX_DEPTH} levels deep", file=filename)
    return data


def _too_deep(data: Any) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        for child in value.values() if isinstance(value, dict) else value:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False


def build_projects(root: Path, data: Mapping[str, Any], filename: str) -> tuple[Project, ...]:
    """Validate ``projects`` and the ``metarepo`` settings; return the projects in file order.

    Each folder is also looked at on disk: one that a symlink (committed in
    the meta repo, or a project folder that is a link) leads outside the
    root is refused, before any command reads or writes there.
    """
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
    _check_tags(defaults, filename, "metarepo.defaults.tags")

    real_root = os.path.realpath(root)
    links: dict[str, bool] = {}
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
        _check_tags(own, filename, f"metarepo.projects.{name}.tags")
        escape = leads_outside(real_root, normal, links)
        if escape:
            raise ManifestError(f"the folder leads outside the meta repo: {escape}; refused", file=filename,
                                key=f"projects.{name}", hint="remove the link, or the project from .meta")
        result.append(Project(name=name, url=url, path=root / normal,
                              settings=MappingProxyType(merge_settings(defaults, own)), root=root))
    for name in per_project:
        if name.startswith("//"):  # a comment key, as in package.json
            continue
        if normalize_folder(name) not in seen:
            raise ManifestError("names no project listed under 'projects'", file=filename,
                                key=f"metarepo.projects.{name}")
    return tuple(result)


def _check_tags(settings: Mapping[str, Any], filename: str, key: str) -> None:
    """``tags`` is a list of names. A string is refused rather than guessed at ("a,b": one tag or two?)."""
    tags = settings.get("tags")
    if tags is None:
        return
    if isinstance(tags, str):
        raise ManifestError(f"must be a list of tag names, like {json.dumps([tags])}, not a string",
                            file=filename, key=key)
    if not isinstance(tags, list):
        raise ManifestError(f"must be a list of tag names, not {_json_type(tags)}", file=filename, key=key)
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip() or "," in tag or printable(tag) != tag:
            shown = json.dumps(tag, ensure_ascii=True)[:80]
            raise ManifestError(f"{shown} is not a tag name (a non-empty string with no comma or control "
                                "character)", file=filename, key=key)


def merge_settings(defaults: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """A project's settings: its own over the defaults; ``vars`` merged key by key."""
    merged = {**defaults, **own}
    if isinstance(defaults.get("vars"), dict) and isinstance(own.get("vars"), dict):
        merged["vars"] = {**defaults["vars"], **own["vars"]}
    return merged


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


def save_manifest(root: Path, data: Mapping[str, Any], *,
                  also: Sequence[tuple[Path, str]] = ()) -> Manifest:
    """Validate ``data`` fully, then write it (and the files in ``also``, together).

    A refused document writes nothing; a write that fails (a full disk) is a
    ``WorkFailed`` with every old file intact. Call it inside ``edit_lock``
    with ``data`` read inside the same lock.
    """
    file = Path(root) / MANIFEST_NAME
    projects = build_projects(Path(root), data, str(file))
    try:
        replace_files([(file, dump_manifest(data)), *also])
    except OSError as exc:
        raise WorkFailed(f"{printable(str(exc.filename or file))}: cannot write: {exc.strerror or exc}; "
                         "nothing was changed") from None
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
