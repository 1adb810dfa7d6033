"""The name a project's service has in the cluster: the Swarm service, the Kubernetes Deployment, the proxy backend.

Below every capability that names services (``images`` deploys them,
``proxy`` routes to them), so each asks here and none asks the other.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from metarepo.errors import ManifestError

# Swarm service and Kubernetes object names: DNS labels.
_SERVICE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def service_name(project: str, settings: Mapping[str, Any]) -> str:
    """The service's name in the cluster: its ``service`` setting, else the image's last name."""
    name = settings.get("service") or str(settings.get("image") or project).rsplit("/", 1)[-1]
    name = str(name)
    if not _SERVICE_NAME.match(name):
        raise ManifestError(f"{name!r} is not a valid service name (lower-case letters, digits and '-', "
                            "at most 63)", key=f"metarepo.projects.{project}.service")
    return name
