"""``releases/NAME.json`` in the meta repo: what one train released.

Each project's version, the commit and tag it was released at, its image
and digest, and its changelog section; the order it rolls out in, and
whether the train was released or failed. Written under the meta repo's
edit lock, atomically, and committed, as ``environments/ENV.json`` is by a
rollout. A train whose rollout failed is recorded ``failed``: it is never
promoted, nor rolled back to.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from metarepo.errors import GitError, ManifestError, NotFoundError, UsageError
from metarepo.files import write_atomic
from metarepo.git import commit_one_file

RELEASES_DIR = "releases"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class TrainState(str, Enum):
    RELEASED = "released"  # tagged and pushed everywhere, images built (and rolled out, if asked)
    FAILED = "failed"  # tagged and pushed, but a build or the rollout failed (and was rolled back)


@dataclass(frozen=True)
class TrainEntry:
    project: str
    version: str
    previous: str | None
    sha: str
    tag: str
    image: str | None = None  # repository:tag as built
    digest: str | None = None
    changelog: str = ""

    @property
    def pinned(self) -> str | None:
        return f"{self.image}@{self.digest}" if self.image and self.digest else None

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "previous": self.previous, "sha": self.sha, "tag": self.tag,
                "image": self.image, "digest": self.digest, "changelog": self.changelog}


@dataclass(frozen=True)
class Train:
    name: str
    state: TrainState
    created: str  # ISO 8601, UTC
    entries: tuple[TrainEntry, ...]
    order: tuple[str, ...] = ()  # the projects it rolls out, in the planner's order
    environment: str | None = None  # where ``apply`` rolled it out
    failure: str | None = None
    notes: tuple[str, ...] = field(default=())

    def entry(self, project: str) -> TrainEntry | None:
        return next((e for e in self.entries if e.project == project), None)

    def as_json(self) -> dict[str, Any]:
        return {"train": self.name, "state": self.state.value, "created": self.created,
                "environment": self.environment, "failure": self.failure, "order": list(self.order),
                "projects": {e.project: e.as_json() for e in self.entries}}


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise UsageError(f"invalid train name {name!r} (letters, digits, '.', '_', '-'; at most 100)")
    return name


def train_file(root: Path, name: str) -> Path:
    return Path(root) / RELEASES_DIR / f"{check_name(name)}.json"


def _entry(file: Path, project: str, raw: Any) -> TrainEntry:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in ("version", "sha", "tag")):
        raise ManifestError("needs 'version', 'sha' and 'tag' strings", file=str(file), key=f"projects.{project}")
    return TrainEntry(project, raw["version"], raw.get("previous"), raw["sha"], raw["tag"], raw.get("image"),
                      raw.get("digest"), str(raw.get("changelog") or ""))


def read_train(root: Path, name: str) -> Train:
    file = train_file(root, name)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(t.name for t in list_trains(root)[-5:]) or "none yet"
        raise NotFoundError(f"no train {name!r} in {RELEASES_DIR}/ (known: {known})") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"invalid JSON: {exc.msg}", file=str(file), line=exc.lineno, column=exc.colno) from None
    if not isinstance(data, dict) or not isinstance(data.get("projects"), dict):
        raise ManifestError("'projects' must be an object", file=str(file), key="projects")
    try:
        state = TrainState(data.get("state"))
    except ValueError:
        raise ManifestError(f"unknown state {data.get('state')!r}", file=str(file), key="state") from None
    order = data.get("order") or []
    if not isinstance(order, list) or not all(isinstance(o, str) for o in order):
        raise ManifestError("must be a list of project folders", file=str(file), key="order")
    return Train(name, state, str(data.get("created") or ""),
                 tuple(_entry(file, k, v) for k, v in data["projects"].items()), tuple(order),
                 data.get("environment"), data.get("failure"))


def list_trains(root: Path) -> list[Train]:
    """Every recorded train, oldest first (by when it was made, then name)."""
    folder = Path(root) / RELEASES_DIR
    if not folder.is_dir():
        return []
    trains = [read_train(root, f.stem) for f in folder.glob("*.json") if _NAME.match(f.stem)]
    return sorted(trains, key=lambda t: (t.created, t.name))


def default_name(root: Path) -> str:
    """Today's date, with ``.2``, ``.3``... when a train of that name exists."""
    base = time.strftime("%Y-%m-%d", time.gmtime())
    name, n = base, 1
    while train_file(root, name).exists():
        n += 1
        name = f"{base}.{n}"
    return name


def record_train(root: Path, train: Train) -> tuple[Path, str | None, str | None]:
    """Write ``releases/NAME.json`` under the edit lock and commit it alone; (file, commit, note)."""
    from metarepo.manifest import edit_lock

    file = train_file(root, train.name)
    with edit_lock(root):
        file.parent.mkdir(exist_ok=True)
        write_atomic(file, json.dumps(train.as_json(), indent=2) + "\n")
        try:
            return file, commit_one_file(root, file, f"release {train.name}: {train.state.value}, "
                                                 f"{_summary(train)}"), None
        except GitError as exc:
            return file, None, f"{file.name} written but not committed: {exc.message}"


def with_state(train: Train, state: TrainState, failure: str | None = None) -> Train:
    return replace(train, state=state, failure=failure)


def _summary(train: Train) -> str:
    names = ", ".join(f"{Path(e.project).name} {e.version}" for e in train.entries[:6])
    more = f" and {len(train.entries) - 6} more" if len(train.entries) > 6 else ""
    return names + more
