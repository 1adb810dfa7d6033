"""``environments/ENV.json`` in the meta repo: what each environment runs.

One file per environment, a map of service (project folder) to the git sha,
version, image and time of its last recorded deployment. ``meta contracts
record-deployment`` and a successful ``meta rollout`` write it;
``can-i-deploy`` and ``contracts plan`` read it. Writes are atomic.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping

from metarepo.errors import ManifestError, UsageError
from metarepo.manifest import edit_lock, write_atomic

ENV_DIR = "environments"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Deployment:
    service: str
    sha: str
    version: str | None = None
    image: str | None = None
    digest: str | None = None
    time: str | None = None  # ISO 8601, UTC

    def as_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "service" and v is not None}


def env_file(root: Path, env: str) -> Path:
    if not _NAME.match(env):
        raise UsageError(f"invalid environment name {env!r} (letters, digits, '.', '_', '-')")
    return Path(root) / ENV_DIR / f"{env}.json"


def read_deployments(root: Path, env: str) -> dict[str, Deployment]:
    """Service to its recorded deployment; empty if nothing was recorded yet."""
    file = env_file(root, env)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as exc:
        raise ManifestError(f"invalid JSON: {exc.msg}", file=str(file), line=exc.lineno, column=exc.colno) from None
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict):
        raise ManifestError("'services' must be an object", file=str(file), key="services")
    result = {}
    for name, entry in services.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha"), str):
            raise ManifestError("needs at least a 'sha' string", file=str(file), key=f"services.{name}")
        result[name] = Deployment(service=name, **{k: entry.get(k) for k in
                                                   ("sha", "version", "image", "digest", "time")})
    return result


def record_deployments(root: Path, env: str, deployments: Mapping[str, Deployment] | list[Deployment]) -> Path:
    """Merge ``deployments`` into ``environments/ENV.json`` (one atomic write)."""
    items = list(deployments.values()) if isinstance(deployments, Mapping) else list(deployments)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    file = env_file(root, env)
    with edit_lock(root):  # read, merge and write as one step: two rollouts at once keep both records
        current = read_deployments(root, env)
        for d in items:
            current[d.service] = d if d.time else Deployment(**{**asdict(d), "time": stamp})
        file.parent.mkdir(exist_ok=True)
        document = {"environment": env,
                    "services": {name: current[name].as_json() for name in sorted(current)}}
        write_atomic(file, json.dumps(document, indent=2) + "\n")
    return file
