"""A meta repo with routed projects, written straight to a temp dir (no clone needed to render routes)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

PROJECTS = {
    "services/orders": {"route": {"hosts": ["api.acme.io", "www.acme.io"], "path": "/orders", "port": 8080,
                                  "strip": True, "check": "/health"}},
    "services/billing": {"route": {"hosts": ["api.acme.io"], "path": "/billing"}},
    "services/web": {"route": {}, "port": 80},
    "services/worker": {},  # not routed
}
STAGING = {"target": "swarm", "proxy": {"kind": "haproxy", "network": "edge", "monitor_uri": "/-/up"}}


def write_meta(root: Path, projects: dict[str, Any] | None = None, environments: dict[str, Any] | None = None,
               defaults: dict[str, Any] | None = None) -> Path:
    """``root/.meta`` with ``projects`` (folder -> settings) and ``environments``; returns ``root``."""
    projects = copy.deepcopy(PROJECTS if projects is None else projects)
    root.mkdir(parents=True, exist_ok=True)
    (root / ".meta").write_text(json.dumps({
        "projects": {name: f"https://git.example.invalid/{name.rsplit('/', 1)[-1]}.git" for name in projects},
        "metarepo": {"defaults": defaults or {}, "projects": projects,
                     "environments": copy.deepcopy({"staging": STAGING} if environments is None else environments)},
    }, indent=2) + "\n")
    return root
