"""A meta repo for the logs tests: a `.meta` naming services (never cloned: `meta logs` needs only their names)."""

from __future__ import annotations

import json
from pathlib import Path


def meta_repo(root: Path, names, environments: dict) -> Path:
    root.mkdir(parents=True)
    (root / ".meta").write_text(json.dumps({
        "projects": {f"services/{name}": f"file:///nonexistent/{name}.git" for name in names},
        "metarepo": {"environments": environments}}, indent=2) + "\n")
    return root
