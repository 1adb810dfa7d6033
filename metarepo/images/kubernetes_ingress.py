"""The Ingress of a routed service on Kubernetes: its values, and what the API server would refuse.

A project with a ``route`` gets an Ingress beside its Deployment and
Service (``ci-templates/kubernetes/ingress.yaml.j2``): one rule per host
(one without a host when the route names none), its path as
``pathType: Prefix`` (Kubernetes matches it element by element, so
``/api`` is ``/api`` and ``/api/...``, never ``/apix``: the same as every
other proxy metarepo writes for), the backend the Service's named port.
The environment's ``proxy.ingress_class`` is its ``ingressClassName``.

Kubernetes has no portable way to strip a prefix; ``strip: true`` is
written for the controller the environment's proxy names: ingress-nginx
(``kind: nginx``: a regex path and ``rewrite-target``) or HAProxy's
controller (``kind: haproxy``: ``haproxy.org/path-rewrite``). Traefik
strips with a Middleware object, which metarepo does not write: refused.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from metarepo.errors import ManifestError
from metarepo.images.kubernetes import PROJECT_ANNOTATION
from metarepo.proxy.settings import HAPROXY, NGINX, ProxySettings, Route, read_route
from metarepo.templating.readback import Problem

TEMPLATE = ("Ingress", "kubernetes/ingress.yaml.j2")


def release_route(release: Any) -> Route | None:
    """The route of ``release``'s project, checked; None when it is not routed."""
    return read_route(release.project, release.settings)


def ingress_values(route: Route, proxy: ProxySettings | None, service_port: int) -> dict[str, Any]:
    """The Ingress part of a Kubernetes template's values."""
    key = f"metarepo.projects.{route.project}.route"
    if route.port != service_port:
        raise ManifestError(f"port {route.port} is not the Service's port {service_port}: on Kubernetes the route "
                            "reaches the Service, so give both the same (or set only `port`)", key=f"{key}.port")
    annotations: dict[str, str] = {}
    path, path_type = route.path, "Prefix"
    if route.strip and route.prefix:
        kind = proxy.kind if proxy is not None else None
        if kind == NGINX:
            path, path_type = f"{re.escape(route.path)}(/|$)(.*)", "ImplementationSpecific"
            annotations["nginx.ingress.kubernetes.io/use-regex"] = "true"
            annotations["nginx.ingress.kubernetes.io/rewrite-target"] = "/$2"
        elif kind == HAPROXY:
            annotations["haproxy.org/path-rewrite"] = f"{re.escape(route.path)}/?(.*) /\\1"
        else:
            raise ManifestError(f"cannot strip {route.path} on Kubernetes with {kind or 'no proxy named'}: only "
                                "ingress-nginx (proxy kind nginx) and HAProxy's controller (kind haproxy) are "
                                "written for", key=f"{key}.strip",
                                hint="Traefik strips with a Middleware object: write it, and drop `strip`")
    return {"hosts": list(route.hosts) or [None], "path": path, "path_type": path_type,
            "ingress_class": proxy.ingress_class if proxy is not None else None,
            "ingress_annotations": {PROJECT_ANNOTATION: route.project, **annotations}}


def check_ingress(document: Mapping[str, Any], service: Mapping[str, Any] | None) -> None:
    """Each backend is the Service by name, on a port it has; ``Problem`` otherwise."""
    spec = document.get("spec") or {}
    service_name = ((service or {}).get("metadata") or {}).get("name")
    ports = {p.get("name") for p in ((service or {}).get("spec") or {}).get("ports") or []}
    for n, rule in enumerate(spec.get("rules") or []):
        for m, path in enumerate(((rule.get("http") or {}).get("paths")) or []):
            backend = (path.get("backend") or {}).get("service") or {}
            where = ("spec", "rules", n, "http", "paths", m, "backend")
            if service is not None and backend.get("name") != service_name:
                raise Problem(f"the Ingress sends {path.get('path')} to service {backend.get('name')!r}, not to "
                              f"{service_name!r}", where)
            port = (backend.get("port") or {}).get("name")
            if service is not None and port is not None and port not in ports:
                raise Problem(f"the Ingress names port {port!r}, which the Service does not have", where)
